from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.subscriptions import next_digest_for
from handlers.subscription import StopConfirm
from storage.chats import update_chat
from testing.telegram import Conversation, texts
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]


async def test_pause_and_resume(private: Conversation, session_factory: Sessions) -> None:
    await subscribe(private, "UZ")

    paused = texts(await private.send("/pause"))[0]
    assert paused.startswith("⏸ Дайджест приостановлен.")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.paused
    assert "уже приостановлен" in texts(await private.send("/pause"))[0]

    resumed = texts(await private.send("/resume"))[0]
    assert resumed.startswith("▶️ Дайджест снова включён.")
    assert "Следующий дайджест:" in resumed and "09:00" in resumed
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and not chat.paused
    assert chat.next_digest_at is not None and chat.next_digest_at > datetime.now(UTC)


async def _store(session_factory: Sessions, chat_id: int, **fields: Any) -> None:
    async with session_factory() as session:
        await update_chat(session, chat_id, **fields)
        await session.commit()


async def test_resume_takes_the_next_digest_from_subscriptions(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ", zone="Asia/Tashkent")
    await private.send("/pause")
    await _store(session_factory, private.chat_id, next_digest_at=datetime(2020, 1, 1, tzinfo=UTC))

    start = datetime.now(UTC)
    resumed = texts(await private.send("/resume"))[0]
    end = datetime.now(UTC)

    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and not chat.paused and chat.active
    assert chat.next_digest_at in {next_digest_for(chat, start), next_digest_for(chat, end)}
    assert resumed.endswith(", 09:00")
    assert "Следующий дайджест:" in resumed


async def test_resume_in_a_zone_no_longer_known_counts_in_utc(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ")
    await private.send("/pause")
    await _store(session_factory, private.chat_id, timezone="Mars/Olympus")

    resumed = texts(await private.send("/resume"))[0]

    assert resumed.startswith("▶️ Дайджест снова включён.")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.next_digest_at is not None
    assert chat.next_digest_at > datetime.now(UTC)
    assert (chat.next_digest_at.hour, chat.next_digest_at.minute) == (9, 0)


async def test_pause_keeps_the_schedule(private: Conversation, session_factory: Sessions) -> None:
    await subscribe(private, "UZ")
    subscribed = await load_chat(session_factory, private.chat_id)

    await private.send("/pause")

    paused = await load_chat(session_factory, private.chat_id)
    assert subscribed is not None and paused is not None and paused.paused
    assert subscribed.next_digest_at is not None
    assert paused.next_digest_at == subscribed.next_digest_at


async def test_pause_before_subscribing(private: Conversation) -> None:
    assert "ещё не подписан" in texts(await private.send("/pause"))[0]
    assert "ещё не подписан" in texts(await private.send("/resume"))[0]


async def test_stop_asks_then_forgets_the_chat(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "TJ")

    asked = await private.send("/stop")
    assert "Отписаться и удалить настройки этого чата?" in texts(asked)[0]
    kept = await private.press(StopConfirm(confirmed=False))
    assert "подписка сохранена" in texts(kept)[0]
    assert await load_chat(session_factory, private.chat_id) is not None

    await private.send("/stop")
    done = await private.press(StopConfirm(confirmed=True))
    assert "подписка отменена" in texts(done)[0]
    assert await load_chat(session_factory, private.chat_id) is None
    assert "ничего не храню" in texts(await private.send("/stop"))[0]
