"""SQLite for the async engine, called on the event loop's own thread.

SQLAlchemy's aiosqlite dialect speaks to a connection object with coroutine methods.
aiosqlite runs each of them (cursor, execute, fetch, close: four per statement) on a
thread of its own and hands the result back through the event loop, so every call waits
for a turn of the loop behind whatever else the loop has to do. Under a surge that wait
is most of a transaction's life, and a SQLite write transaction holds the database's one
write lock all along: every other writer waits for it.

The connection here has the same coroutine methods but runs SQLite directly: a statement
of this bot's takes microseconds to a few milliseconds, less than one trip through a busy
loop. A write transaction of this process therefore holds the lock only for its own work.
The one wait that can be long, for a write lock held by another process (the command
line), is not left to SQLite's busy handler, which would block the loop: SQLite is asked
not to wait, and a statement refused as "database is locked" is tried again after an
asyncio sleep, until the busy timeout has passed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from types import SimpleNamespace
from typing import Any

# Waits between tries of a statement refused because another process holds the lock.
_RETRY_SECONDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "database is locked" in message or "database is busy" in message


class InlineCursor:
    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            await self._connection._run(self._cursor.execute, operation)
        else:
            await self._connection._run(self._cursor.execute, operation, parameters)
        return self

    async def executemany(self, operation: str, parameters: Any) -> InlineCursor:
        await self._connection._run(self._cursor.executemany, operation, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[Any]:
        for row in self._cursor:
            yield row


class _Immediate:
    """What SQLAlchemy's aiosqlite dialect puts on `_tx` to run a function on the
    connection's thread: here it runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is None:
                raise
            future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection:
    """The part of aiosqlite's Connection that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Immediate()
        self._busy_timeout = busy_timeout

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        deadline: float | None = None
        attempt = 0
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._busy_timeout
                if now >= deadline:
                    raise
                pause = _RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)]
                attempt += 1
                await asyncio.sleep(min(pause, deadline - now))

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        if self._connection is None:
            raise ValueError("Connection closed")
        return InlineCursor(self)

    async def execute(self, operation: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        cursor = self.cursor()
        await cursor.execute(operation, parameters)
        return cursor

    async def commit(self) -> None:
        await self._run(self._conn.commit)

    async def rollback(self) -> None:
        await self._run(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


class _Opening:
    """What `connect` returns: awaited, the connection. The dialect marks the thread of an
    aiosqlite connection as a daemon before awaiting it; there is no thread here."""

    def __init__(self, args: Sequence[Any], params: dict[str, Any]) -> None:
        self._thread = SimpleNamespace(daemon=True)
        self._args = args
        self._params = params

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._open().__await__()

    async def _open(self) -> InlineConnection:
        params = dict(self._params)
        busy_timeout = float(params.pop("timeout", 5.0))
        params["timeout"] = 0.0
        params["check_same_thread"] = False
        return InlineConnection(sqlite3.connect(*self._args, **params), busy_timeout)


def connect(*args: Any, **params: Any) -> _Opening:
    """Like aiosqlite.connect: `timeout` is how long a statement waits for a lock held by
    another process (see InlineConnection._run)."""
    return _Opening(args, params)


# The module SQLAlchemy's aiosqlite dialect takes as its driver (create_engine's `module`):
# connect, the connection class and sqlite3's exceptions and version.
DRIVER = SimpleNamespace(
    connect=connect,
    Connection=InlineConnection,
    DatabaseError=sqlite3.DatabaseError,
    Error=sqlite3.Error,
    IntegrityError=sqlite3.IntegrityError,
    NotSupportedError=sqlite3.NotSupportedError,
    OperationalError=sqlite3.OperationalError,
    ProgrammingError=sqlite3.ProgrammingError,
    sqlite_version=sqlite3.sqlite_version,
    sqlite_version_info=sqlite3.sqlite_version_info,
)
