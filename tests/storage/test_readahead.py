"""The chat row read for an update's language is reused by the handler in the same
transaction, and only while nothing was written: what it gets is what a read would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import chats as chat_repo
from storage.db import create_engine, create_session_factory
from tests.support.chats import PRIVATE_CHAT


class ChatReads:
    """Counts reads of one chat's row (any of its columns), as sent to the database."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT chats.") and "FROM chats WHERE chats.id =" in flat:
            self.count += 1


@pytest.fixture
async def counted(
    database_url: str,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], ChatReads]]:
    engine = create_engine(database_url)
    reads = ChatReads()
    event.listen(engine.sync_engine, "before_cursor_execute", reads)
    factory = create_session_factory(engine)
    async with factory() as session:
        await chat_repo.ensure_chat(session, 700, **PRIVATE_CHAT)
        await session.commit()
    reads.count = 0
    yield factory, reads
    await engine.dispose()


async def test_the_language_read_serves_the_handler(
    counted: tuple[async_sessionmaker[AsyncSession], ChatReads],
) -> None:
    factory, reads = counted
    async with factory() as session:
        assert await chat_repo.chat_language(session, 700) == "ru"
        chat, created = await chat_repo.ensure_chat(session, 700, **PRIVATE_CHAT)
        assert (chat.id, chat.timezone, created) == (700, "Asia/Omsk", False)
        assert reads.count == 1
        # Taken once: the next reader reads again.
        assert (await chat_repo.get_chat(session, 700)) is not None
        assert reads.count == 2


async def test_a_write_in_between_is_seen(
    counted: tuple[async_sessionmaker[AsyncSession], ChatReads],
) -> None:
    factory, reads = counted
    async with factory() as session:
        assert await chat_repo.chat_language(session, 700) == "ru"
        await chat_repo.update_chat(session, 700, timezone="Asia/Tashkent", language="en")
        chat, _created = await chat_repo.ensure_chat(session, 700, **PRIVATE_CHAT)
        assert (chat.timezone, chat.language) == ("Asia/Tashkent", "en")
        assert reads.count == 2


async def test_a_row_read_in_an_ended_transaction_is_read_again(
    counted: tuple[async_sessionmaker[AsyncSession], ChatReads],
) -> None:
    factory, reads = counted
    async with factory() as session:
        assert await chat_repo.chat_language(session, 700) == "ru"
        await session.commit()
        async with factory() as other:
            await chat_repo.update_chat(other, 700, timezone="Europe/Minsk")
            await other.commit()
        chat, _created = await chat_repo.ensure_chat(session, 700, **PRIVATE_CHAT)
        assert chat.timezone == "Europe/Minsk"
        assert reads.count == 2


async def test_another_chat_is_read_for_itself(
    counted: tuple[async_sessionmaker[AsyncSession], ChatReads],
) -> None:
    factory, reads = counted
    async with factory() as session:
        assert await chat_repo.chat_language(session, 700) == "ru"
        assert await chat_repo.chat_language(session, 701) is None
        chat, created = await chat_repo.ensure_chat(
            session, 701, **{**PRIVATE_CHAT, "language": "en"}
        )
        assert (chat.id, chat.language, created) == (701, "en", True)
        before = reads.count
        chat, created = await chat_repo.ensure_chat(session, 700, **PRIVATE_CHAT)
        assert (chat.id, created) == (700, False)
        assert reads.count == before + 1
