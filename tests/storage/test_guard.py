"""The run lock on a SQLite file, and the watch that notices the file deleted or replaced."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import feeds as feed_repo
from storage.db import create_engine, create_session_factory, sqlite_file_path
from storage.guard import (
    STORE_LOST,
    RunLock,
    StoreInUse,
    StoreLockError,
    StoreUnavailable,
    StoreWatch,
    is_write,
    lock_path,
)
from storage.models import Feed
from tests.support.databases import fresh_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_file_path() -> None:
    assert sqlite_file_path("sqlite+aiosqlite:///data/digest.db") == Path("data/digest.db")
    assert sqlite_file_path("sqlite+aiosqlite:////srv/bot.db") == Path("/srv/bot.db")
    assert sqlite_file_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file_path("sqlite+aiosqlite://") is None
    assert sqlite_file_path("postgresql+asyncpg://bot@db/digest") is None


def test_a_second_lock_on_the_same_file_is_refused_with_the_owners_pid(tmp_path: Path) -> None:
    database = tmp_path / "data" / "digest.db"
    with RunLock.acquire(database) as first:
        assert first.path == tmp_path / "data" / "digest.db.lock"
        assert not first.existed_before
        assert first.path.read_text().strip() == str(os.getpid())
        with pytest.raises(StoreInUse) as refused:
            RunLock.acquire(database)
        assert str(refused.value) == (
            f"another digestbot run is already using {database} (pid {os.getpid()}); stop it first"
        )
    assert not first.held
    # Released: the next run locks the same file, which stays in place between runs.
    with RunLock.acquire(database) as second:
        assert second.existed_before
    assert lock_path(database).exists()


def test_an_unwritable_place_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(StoreLockError, match=f"^cannot open {blocker}/digest.db.lock: "):
        RunLock.acquire(blocker / "digest.db")


def test_other_files_are_locked_independently(tmp_path: Path) -> None:
    with RunLock.acquire(tmp_path / "a.db"), RunLock.acquire(tmp_path / "b.db") as other:
        assert other.held


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from storage.guard import RunLock; "
            f"lock = RunLock.acquire(Path({str(database)!r})); print('locked', flush=True); "
            "time.sleep(60)",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(StoreInUse, match=f"pid {holder.pid}"):
            RunLock.acquire(database)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with RunLock.acquire(database) as lock:
            assert lock.held
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT 1", False),
        ("  select * from feeds", False),
        ("(SELECT 1) UNION (SELECT 2)", False),
        ("BEGIN IMMEDIATE", False),
        ("COMMIT", False),
        ("ROLLBACK TO SAVEPOINT sa_1", False),
        ("RELEASE SAVEPOINT sa_1", False),
        ("INSERT INTO feeds (url) VALUES (?)", True),
        ("UPDATE chats SET subscribed = 0", True),
        ("DELETE FROM outbox", True),
        ("WITH x AS (SELECT 1) DELETE FROM feeds", True),
        ("PRAGMA journal_mode=DELETE", True),
        ("VACUUM", True),
        ("", True),
    ],
)
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert is_write(statement) is writes


@dataclass
class Store:
    path: Path
    url: str
    engine: AsyncEngine
    watch: StoreWatch


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_database("sqlite", tmp_path) as url:
        path = sqlite_file_path(url)
        assert path is not None
        engine = create_engine(url)
        watch = StoreWatch(path)
        watch.install(engine)
        try:
            yield Store(path, url, engine, watch)
        finally:
            await engine.dispose()


async def _add_feed(engine: AsyncEngine, url: str) -> None:
    async with create_session_factory(engine)() as session:
        await feed_repo.add_feed(session, url)
        await session.commit()


async def _feed_urls(engine: AsyncEngine) -> list[str]:
    async with create_session_factory(engine)() as session:
        return list((await session.scalars(select(Feed.url).order_by(Feed.url))).all())


async def test_a_deleted_file_is_noticed_and_writes_are_refused(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await _add_feed(store.engine, "https://example.org/before.xml")
    assert store.watch.check()
    assert store.watch.ok and store.watch.problem is None

    store.path.unlink()
    with caplog.at_level(logging.ERROR, logger="storage.guard"):
        assert not store.watch.check()
    assert store.watch.lost.is_set()
    assert store.watch.problem == f"{store.path} was deleted"
    (logged,) = [record.getMessage() for record in caplog.records]
    assert f"the database file {store.path} was deleted while the bot was running" in logged

    with pytest.raises(StoreUnavailable) as refused:
        await _add_feed(store.engine, "https://example.org/after.xml")
    assert str(refused.value) == (f"{STORE_LOST} ({store.path} was deleted); writes are refused")
    assert "\n" not in str(refused.value)
    # Reads on the connection already open still see what the process had.
    assert await _feed_urls(store.engine) == ["https://example.org/before.xml"]
    # Nothing opens, and so creates, a file at the path again.
    other = create_engine(store.url)
    store.watch.install(other)
    try:
        with pytest.raises(StoreUnavailable):
            async with other.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await other.dispose()
    assert not store.path.exists()


async def test_a_replaced_file_is_noticed(store: Store, tmp_path: Path) -> None:
    await _add_feed(store.engine, "https://example.org/before.xml")
    replacement = tmp_path / "restored.db"
    replacement.write_bytes(store.path.read_bytes())
    os.replace(replacement, store.path)

    assert not store.watch.check()
    assert store.watch.problem == f"{store.path} was replaced by another file"
    with pytest.raises(StoreUnavailable, match="was replaced by another file"):
        await _add_feed(store.engine, "https://example.org/after.xml")


async def test_rewriting_the_file_in_place_is_not_a_loss(store: Store) -> None:
    await _add_feed(store.engine, "https://example.org/one.xml")
    os.utime(store.path)
    assert store.watch.check()
    await _add_feed(store.engine, "https://example.org/two.xml")
    assert len(await _feed_urls(store.engine)) == 2


def test_the_loss_is_logged_once_then_every_few_minutes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "digest.db"
    path.write_bytes(b"")
    now = [1000.0]
    watch = StoreWatch(path, clock=lambda: now[0], remind_every=300.0)
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="storage.guard"):
        for _ in range(10):
            watch.check()
            now[0] += 20.0
        assert len(caplog.records) == 1
        now[0] += 300.0
        watch.check()
        watch.check()
        assert len(caplog.records) == 2
    assert {record.getMessage() for record in caplog.records} == {caplog.records[0].getMessage()}


def test_a_file_missing_when_the_watch_starts_counts_as_lost(tmp_path: Path) -> None:
    watch = StoreWatch(tmp_path / "missing.db")
    assert not watch.ok
    assert watch.lost.is_set()


async def test_the_watch_loop_notices_a_deletion(store: Store) -> None:
    watching = asyncio.create_task(store.watch.run(0.01))
    try:
        await asyncio.sleep(0)
        assert store.watch.ok
        store.path.unlink()
        await asyncio.wait_for(store.watch.lost.wait(), timeout=10)
    finally:
        watching.cancel()
    assert store.watch.problem == f"{store.path} was deleted"
