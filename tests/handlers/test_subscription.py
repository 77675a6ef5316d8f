from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.subscription import StopConfirm
from tests.handlers.helpers import load_chat, subscribe
from tests.handlers.mocked_bot import Conversation, texts

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
