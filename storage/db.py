"""Engine and session factory; the only place that knows which database is behind the URL."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.readahead import StoreSession

SQLITE_BUSY_TIMEOUT_MS = 15_000
WRITE_TURN_KEY = "digestbot_write_turn"
# The newest migration in storage/migrations (a test keeps the two equal). A database at
# this revision needs no Alembic at all: importing it and loading the scripts is about a
# third of a one-shot command's run.
SCHEMA_HEAD = "0011"
SCHEMA_CHECK_SECONDS = 10.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseConfigError(Exception):
    """DATABASE_URL cannot work as it is (no driver, a file that cannot be written, a
    password refused): the operator has to change something. One line, naming it."""


class DatabaseUnavailable(Exception):
    """The database server did not answer; the same settings may work a moment later."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file_path(url: str) -> Path | None:
    """The database file behind a SQLite URL; None for other databases, for an in-memory
    database and for a `file:` URI filename."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _prepare_sqlite_path(url: str) -> None:
    path = sqlite_file_path(url)
    if path is not None:
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise DatabaseConfigError(f"DATABASE_URL: {parent} is a file, not a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseConfigError(
                f"DATABASE_URL: cannot create the directory {path.parent}: "
                f"{error.strerror or error}"
            ) from None


def check_database_url(url: str) -> None:
    """Raises DatabaseConfigError when the URL cannot work, before anything connects."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            raise DatabaseConfigError(
                "DATABASE_URL: PostgreSQL needs the asyncpg driver: "
                "pip install 'digestbot[postgres]'"
            ) from None
        return
    path = sqlite_file_path(url)
    if path is None:
        return
    _prepare_sqlite_path(url)
    if path.is_dir():
        raise DatabaseConfigError(f"DATABASE_URL: {path} is a directory, not a database file")
    target = path if path.exists() else path.parent
    if not os.access(target, os.R_OK | os.W_OK):
        raise DatabaseConfigError(f"DATABASE_URL: {target} is not writable by this user")


def require_existing_database(url: str) -> None:
    """For commands that only read: a SQLite file that is not there is an error, not a new
    empty database made wherever the command happened to run (the default path is relative)."""
    path = sqlite_file_path(url)
    if path is None or path.exists():
        return
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        return  # check_database_url names the file in the way
    raise DatabaseConfigError(
        f"DATABASE_URL: no database at {path.absolute()} (a relative path is read from the "
        "current directory; `digestbot db upgrade` creates a new one)"
    )


def new_database_path(url: str) -> Path | None:
    """The absolute path of a SQLite file that a command is about to create, else None."""
    path = sqlite_file_path(url)
    if path is None or path.exists():
        return None
    return path.absolute()


def explain_database_error(url: str, error: BaseException) -> Exception:
    """The one-line error for a failure to reach or open the database: DatabaseUnavailable
    when waiting may help (a server that refuses or does not answer), DatabaseConfigError
    when the settings must change."""
    reason = " ".join(str(getattr(error, "orig", None) or error).split())[:300]
    if is_sqlite(url):
        return DatabaseConfigError(f"DATABASE_URL: cannot open the SQLite database: {reason}")
    causes: set[str] = set()
    current: BaseException | None = error
    while current is not None and len(causes) < 10:
        causes.add(type(current).__name__)
        current = getattr(current, "orig", None) or current.__cause__
    if causes & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return DatabaseConfigError(f"DATABASE_URL: the server refused the login: {reason}")
    if "InvalidCatalogNameError" in causes:
        return DatabaseConfigError(f"DATABASE_URL: no such database: {reason}")
    host = make_url(url).host or "localhost"
    return DatabaseUnavailable(f"the database server at {host} did not answer: {reason}")


def create_engine(url: str, *, echo: bool = False, background: bool = False) -> AsyncEngine:
    """An engine with the per-backend settings the rest of the code relies on.

    SQLite: WAL, a busy timeout, foreign keys, and every transaction started with
    BEGIN IMMEDIATE, because a read transaction that later writes fails with
    "database is locked" regardless of the busy timeout. Transactions of one process on
    one database file take turns (see _WriteTurn), those of a `background` engine first,
    and SQLite runs on the event loop's thread (see storage.sqlite_driver).
    """
    if is_sqlite(url):
        _prepare_sqlite_path(url)
        engine = create_async_engine(
            url,
            echo=echo,
            module=_sqlite_driver(),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        path = sqlite_file_path(url)
        database = str(path.resolve()) if path is not None else None
        _configure_sqlite(engine, database, background)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_driver() -> Any:
    """SQLAlchemy's aiosqlite dialect over connections that run SQLite on the event loop's
    thread (see storage.sqlite_driver)."""
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

    from storage.sqlite_driver import DRIVER

    return AsyncAdapt_aiosqlite_dbapi(DRIVER, sqlite3)  # type: ignore[arg-type]


# Write transactions on one SQLite file, in this process, take turns.
#
# SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
# and retries (1, 2, 5 … 100 ms), so under load the lock stays free for whole sleeps while
# a queue of transactions waits for it. Within the process the turn is handed over at
# COMMIT or ROLLBACK to the next transaction waiting for it: those of the background
# engine (clock, composer, sender, poller) first, so a surge of chat traffic cannot make
# digests late, then the others in arrival order. Other processes (the command line) meet
# SQLite's own locking. A transaction that waits longer than the busy timeout fails as
# SQLite's would: "database is locked".
class _WriteTurn:
    """The write turn on one SQLite file within one event loop."""

    def __init__(self) -> None:
        self.held = False
        # Waiters of the background engine, then the others.
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    def try_acquire(self) -> bool:
        """Takes the turn when it is free and nobody waits; no wait, no loop turn."""
        if self.held or any(self._queues):
            return False
        self.held = True
        return True

    async def acquire(self, background: bool) -> None:
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues[0 if background else 1]
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn just as the wait was given up
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hands the turn to the next waiter, or frees it."""
        for queue in self._queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.held = False


_WRITE_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _WriteTurn]] = (
    weakref.WeakKeyDictionary()
)


def _write_turn(database: str) -> _WriteTurn:
    loop = asyncio.get_running_loop()
    return _WRITE_TURNS.setdefault(loop, {}).setdefault(database, _WriteTurn())


async def _wait_for_turn(turn: _WriteTurn, background: bool) -> None:
    async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
        await turn.acquire(background)


def _take_write_turn(connection: Any, database: str, background: bool) -> None:
    from sqlalchemy.util import await_
    from sqlalchemy.util.concurrency import in_greenlet

    if not in_greenlet():
        return
    turn = _write_turn(database)
    try:
        if not turn.try_acquire():
            await_(_wait_for_turn(turn, background))
    except TimeoutError:
        raise exc.OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        ) from None
    connection.connection.info[WRITE_TURN_KEY] = turn


def _begin_immediate(connection: Any) -> None:
    """BEGIN IMMEDIATE sent to the driver's cursor itself. Through `exec_driver_sql` it
    built a whole statement's execution context and result: with the free turn taken
    without waiting, a one-select transaction makes 610 Python calls instead of 687, and
    most transactions of a chat update are that short."""
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
    except dbapi.Error as error:
        raise exc.DBAPIError.instance(
            "BEGIN IMMEDIATE", None, error, dbapi.Error, dialect=connection.dialect
        ) from error
    finally:
        cursor.close()


def _end_write_turn(info: dict[Any, Any]) -> None:
    turn: _WriteTurn | None = info.pop(WRITE_TURN_KEY, None)
    if turn is not None:
        turn.release()


SQLITE_CHECKPOINT_SECONDS = 10.0

logger = logging.getLogger(__name__)


def checkpoint_sqlite(path: Path) -> tuple[int, int]:
    """Writes the WAL back into the database file without waiting for anyone (PASSIVE);
    returns the WAL's frames and how many of them are now in the file. Never creates a
    file that is not there."""
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0)
    try:
        _busy, frames, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        connection.close()
    return int(frames), int(done)


async def checkpoint_periodically(path: Path, interval: float = SQLITE_CHECKPOINT_SECONDS) -> None:
    """The running bot's WAL checkpoints, in a worker thread, every `interval` seconds."""
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(checkpoint_sqlite, path)
        except sqlite3.Error as error:
            if not failing:
                logger.warning("WAL checkpoint of %s failed: %s; trying again", path, error)
            failing = True
        else:
            failing = False


def _configure_sqlite(engine: AsyncEngine, database: str | None, background: bool) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # No waiting inside SQLite, which would block the event loop: a statement refused
        # for a lock is tried again after an asyncio sleep (storage.sqlite_driver).
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint writes the WAL back into the file and syncs it to disk: the one
        # SQLite call that waits on the disk. It is not left to whichever commit crosses
        # the WAL's size (on the event loop's thread) but run by checkpoint_periodically
        # in a worker thread, or by SQLite when the last connection closes.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        if database is not None:
            _take_write_turn(connection, database, background)
        try:
            _begin_immediate(connection)
        except BaseException:
            _end_write_turn(connection.connection.info)
            raise

    @event.listens_for(sync_engine, "commit")
    @event.listens_for(sync_engine, "rollback")
    def on_end(connection: Any) -> None:
        # Fired just before the COMMIT or ROLLBACK is sent, which is queued on this
        # connection's thread before the next transaction can get to its BEGIN.
        _end_write_turn(connection.connection.info)

    @event.listens_for(sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection given back to the pool holds no turn, whatever happened to it.
        _end_write_turn(record.info)

    @event.listens_for(sync_engine, "invalidate")
    def on_invalidate(_dbapi_connection: Any, record: Any, _error: Any) -> None:
        _end_write_turn(record.info)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=StoreSession)


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_database_sync(url: str, revision: str = "head") -> None:
    from alembic import command

    if is_sqlite(url):
        _prepare_sqlite_path(url)
    command.upgrade(_alembic_config(url), revision)


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations; Alembic's async env runs its own loop, so it gets a thread."""
    if revision == "head" and await _at_schema_head(url):
        return
    await asyncio.to_thread(upgrade_database_sync, url, revision)


async def _at_schema_head(url: str) -> bool:
    """Whether the database is known to be at SCHEMA_HEAD; any doubt (no file yet, no
    version table, an error) is False, and Alembic decides."""
    if is_sqlite(url):
        path = sqlite_file_path(url)
        if path is None or not path.is_file():
            return False
    try:
        engine = create_engine(url)
    except Exception:
        return False
    try:
        async with asyncio.timeout(SCHEMA_CHECK_SECONDS), engine.connect() as connection:
            result = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            versions = [row[0] for row in result]
    except Exception:
        return False
    finally:
        await engine.dispose()
    return versions == [SCHEMA_HEAD]


def known_revisions() -> set[str]:
    """The schema revisions this code has migrations for ("0001", …), read from the
    scripts' file names so that Alembic need not load."""
    return {path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


def head_revision() -> str | None:
    """The newest migration shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


async def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
