"""Chat writes that return the record without reading it back: what they return is what a
fresh read gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery import subscriptions
from storage import chats as chat_repo
from tests.support.chats import PRIVATE_CHAT

NOW = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


async def fresh_read(factory: async_sessionmaker[AsyncSession], chat_id: int) -> Any:
    async with factory() as session:
        return await chat_repo.get_chat(session, chat_id)


async def test_a_new_chat_is_what_a_read_gives(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        assert await chat_repo.chat_language(session, 701) is None
        created, is_new = await chat_repo.ensure_chat(session, 701, **PRIVATE_CHAT)
        await session.commit()
    assert is_new
    assert created == await fresh_read(session_factory, 701)
    async with session_factory() as session:
        again, is_new = await chat_repo.ensure_chat(session, 701, **PRIVATE_CHAT)
    assert not is_new
    assert again == created


async def test_the_last_onboarding_step_saves_what_a_read_gives(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        chat, _ = await chat_repo.ensure_chat(session, 702, **PRIVATE_CHAT)
        await chat_repo.set_countries(session, 702, {"UZ", "TJ"}, current=chat.countries)
        await session.commit()
    async with session_factory() as session:
        chat, _ = await chat_repo.ensure_chat(session, 702, **PRIVATE_CHAT)
        timed = await subscriptions.change_schedule(session, chat, digest_time="07:30", now=NOW)
        saved = await subscriptions.subscribe(session, timed, timezone="Asia/Tashkent", now=NOW)
        await session.commit()
    stored = await fresh_read(session_factory, 702)
    assert saved == stored
    assert (stored.timezone, stored.digest_time, stored.subscribed) == (
        "Asia/Tashkent",
        "07:30",
        True,
    )
    # 07:30 in Tashkent (UTC+5) is 02:30 UTC: the next one is the following day.
    assert stored.next_digest_at == datetime(2026, 3, 3, 2, 30, tzinfo=UTC)


async def test_schedule_changes_of_a_subscribed_chat_move_its_digest(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        chat, _ = await chat_repo.ensure_chat(session, 703, **PRIVATE_CHAT)
        await chat_repo.set_countries(session, 703, {"KZ"})
        await session.commit()
    async with session_factory() as session:
        chat, _ = await chat_repo.ensure_chat(session, 703, **PRIVATE_CHAT)
        await subscriptions.subscribe(session, chat, now=NOW)
        await session.commit()
    for change in ({"digest_time": "18:00"}, {"timezone": "Europe/Minsk"}, {}):
        async with session_factory() as session:
            current = await chat_repo.get_chat(session, 703)
            assert current is not None
            changed = await subscriptions.change_schedule(session, current, now=NOW, **change)
            await session.commit()
        assert changed == await fresh_read(session_factory, 703)
    async with session_factory() as session:
        current = await chat_repo.get_chat(session, 703)
        assert current is not None
        paused = await subscriptions.pause(session, current)
        await session.commit()
    assert paused == await fresh_read(session_factory, 703) and paused.paused
    async with session_factory() as session:
        resumed = await subscriptions.resume(session, paused, now=NOW)
        await session.commit()
    assert resumed == await fresh_read(session_factory, 703) and not resumed.paused


async def test_a_tap_writes_only_the_difference(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    statements: list[str] = []
    async with session_factory() as session:
        chat, _ = await chat_repo.ensure_chat(session, 704, **PRIVATE_CHAT)
        await chat_repo.set_countries(session, 704, {"UZ", "TJ"}, current=chat.countries)
        await session.commit()
    bind = session_factory.kw["bind"].sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0])

    event.listen(bind, "before_cursor_execute", record)
    try:
        for wanted, written in (({"UZ", "TJ", "KG"}, ["INSERT"]), ({"TJ", "KG"}, ["DELETE"])):
            async with session_factory() as session:
                chat, _ = await chat_repo.ensure_chat(session, 704, **PRIVATE_CHAT)
                statements.clear()
                await chat_repo.set_countries(session, 704, wanted, current=chat.countries)
                await session.commit()
            assert [s for s in statements if s in ("INSERT", "DELETE")] == written
            assert (await fresh_read(session_factory, 704)).countries == wanted
    finally:
        event.remove(bind, "before_cursor_execute", record)


async def test_two_admins_tapping_at_once_both_keep_their_tap(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Both read the chat before either writes (as two updates of one group can on
    PostgreSQL); each adds its own country."""
    async with session_factory() as session:
        await chat_repo.ensure_chat(session, -1005, **{**PRIVATE_CHAT, "type": "group"})
        await session.commit()
    first = await fresh_read(session_factory, -1005)
    second = await fresh_read(session_factory, -1005)
    async with session_factory() as session:
        await chat_repo.set_countries(session, -1005, {"CN"}, current=first.countries)
        await session.commit()
    async with session_factory() as session:
        await chat_repo.set_countries(session, -1005, {"BY"}, current=second.countries)
        await session.commit()
    stored = await fresh_read(session_factory, -1005)
    assert stored.countries == {"CN", "BY"}
