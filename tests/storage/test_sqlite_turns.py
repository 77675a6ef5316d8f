"""SQLite in the bot's process: write transactions take turns, and a lock held by another
process is waited for without stopping the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import db
from storage.db import create_engine, create_session_factory, upgrade_database
from storage.feeds import add_feed


@pytest.fixture
async def url(tmp_path: Path) -> str:
    address = f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}"
    await upgrade_database(address)
    return address


async def test_concurrent_read_modify_write_transactions_lose_nothing(url: str) -> None:
    # Two engines, as the bot has (updates and background work), on one file.
    engines = [create_engine(url), create_engine(url)]
    factories = [create_session_factory(engine) for engine in engines]
    try:
        async with factories[0]() as session:
            await add_feed(session, "https://a.ru/rss", title="0")
            await session.commit()

        async def increment(number: int) -> None:
            async with factories[number % 2]() as session:
                value = await session.scalar(text("SELECT title FROM feeds"))
                await asyncio.sleep(0)  # other tasks run while this one holds its turn
                await session.execute(
                    text("UPDATE feeds SET title = :t"), {"t": str(int(value) + 1)}
                )
                await session.commit()

        await asyncio.gather(*(increment(number) for number in range(200)))
        async with factories[1]() as session:
            assert await session.scalar(text("SELECT title FROM feeds")) == "200"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_lock_held_by_another_process_is_waited_for_while_the_loop_runs(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(url)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        async with create_session_factory(engine)() as session:
            asyncio.get_running_loop().call_later(0.5, other.execute, "COMMIT")
            started = time.monotonic()
            await add_feed(session, "https://b.ru/rss", title="b")
            await session.commit()
        assert time.monotonic() - started >= 0.45
        assert ticks >= 20  # the loop went on while the insert waited
    finally:
        ticker.cancel()
        other.close()
        await engine.dispose()


async def test_a_lock_held_past_the_busy_timeout_fails_as_locked(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    other = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            started = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                await session.execute(text("SELECT 1"))
            assert 0.25 <= time.monotonic() - started < 5
    finally:
        other.execute("ROLLBACK")
        other.close()
        await engine.dispose()


async def test_a_transaction_waiting_for_its_turn_past_the_busy_timeout_fails_as_locked(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    try:
        async with factory() as holder, factory() as waiter:
            await holder.execute(text("SELECT 1"))  # holds the turn until it ends
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.execute(text("SELECT 1"))
            await holder.commit()
            assert await waiter.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_background_transactions_get_the_turn_before_waiting_chat_traffic(url: str) -> None:
    chats_engine, background_engine = create_engine(url), create_engine(url, background=True)
    chats, background = (
        create_session_factory(chats_engine),
        create_session_factory(background_engine),
    )
    order: list[str] = []

    async def write(factory: async_sessionmaker[AsyncSession], name: str) -> None:
        async with factory() as session:
            await session.execute(text("SELECT 1"))
            order.append(name)
            await session.commit()

    try:
        async with chats() as holder:
            await holder.execute(text("SELECT 1"))  # holds the turn
            waiting = [asyncio.create_task(write(chats, f"chat {n}")) for n in range(3)]
            await asyncio.sleep(0.05)
            waiting.append(asyncio.create_task(write(background, "background")))
            await asyncio.sleep(0.05)
            assert order == []
            await holder.commit()
        await asyncio.gather(*waiting)
        assert order == ["background", "chat 0", "chat 1", "chat 2"]
    finally:
        await chats_engine.dispose()
        await background_engine.dispose()


async def test_commits_never_checkpoint_the_wal_the_worker_thread_does(
    url: str, tmp_path: Path
) -> None:
    database = tmp_path / "turns.db"
    engine = create_engine(url)
    try:
        factory = create_session_factory(engine)
        async with factory() as session:
            await session.execute(text("CREATE TABLE pages (body TEXT)"))
            await session.commit()
        # Well past SQLite's default of 1,000 pages, after which a commit would checkpoint.
        for _ in range(60):
            async with factory() as session:
                await session.execute(
                    text("INSERT INTO pages VALUES (:body)"), [{"body": "я" * 2_000}] * 40
                )
                await session.commit()
        frames, done = db.checkpoint_sqlite(database)
        assert frames > 2_000 and done == frames
        async with factory() as session:
            assert await session.scalar(text("SELECT count(*) FROM pages")) == 2_400
    finally:
        await engine.dispose()


def test_a_checkpoint_never_creates_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    with pytest.raises(sqlite3.OperationalError):
        db.checkpoint_sqlite(missing)
    assert not missing.exists()
