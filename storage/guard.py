"""Guards for a SQLite file store: one `digestbot run` per file, and a running bot that
notices when its database file is deleted or replaced under it.

Both apply to SQLite files only. On PostgreSQL several processes sharing one database is
the design (`digestbot run --role …`); coordinating them belongs to the database itself
(advisory locks), and a dropped database fails every query loudly, so nothing here is
needed there.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

STORE_LOST: Final = "the database file was deleted or replaced while running"
# How often the loss is logged again while the process keeps running without its file.
REMIND_SECONDS: Final = 300.0
# Statements that read or only delimit a transaction; anything else counts as a write.
_READ_KEYWORDS: Final = frozenset(
    {"SELECT", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)


class StoreLockError(Exception):
    """The store's run lock could not be taken; the message is one line."""


class StoreInUse(StoreLockError):
    """Another `digestbot run` holds the store's lock."""


class StoreUnavailable(SQLAlchemyError):
    """The database file was deleted or replaced under the running process: writes and new
    connections are refused until a restart. The message is one line."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class RunLock:
    """An exclusive `flock` on `<database>.lock`, held for the life of the process.

    The kernel drops the lock when the process ends, however it ends (kill -9 included),
    so a lock is never stale. The file holds the owner's pid for the refusal message and is
    never removed: removing it would let a newcomer lock a fresh file while the old owner
    still holds the removed one.
    """

    def __init__(self, path: Path, descriptor: int, *, existed_before: bool) -> None:
        self.path = path
        self.existed_before = existed_before
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, database: Path) -> RunLock:
        """Locks `database`'s lock file without waiting; raises StoreInUse when it is held."""
        path = lock_path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            existed_before = path.exists()
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreLockError(f"cannot open {path}: {error.strerror or error}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(descriptor)
            os.close(descriptor)
            owner = f" (pid {holder})" if holder is not None else ""
            raise StoreInUse(
                f"another digestbot run is already using {database}{owner}; stop it first"
            ) from None
        except OSError as error:
            os.close(descriptor)
            raise StoreLockError(f"cannot lock {path}: {error.strerror or error}") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(path, descriptor, existed_before=existed_before)

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def release(self) -> None:
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(descriptor: int) -> int | None:
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """The identity of the file now at `path`; None when there is none."""
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(status.st_dev, status.st_ino)


class StoreWatch:
    """Notices that the SQLite file a running process opened is no longer at its path.

    SQLite keeps working on a deleted file: every write lands in a file nobody can open
    any more and is lost when the process exits, and a restart creates an empty database.
    Once the file at the path is gone or is another file, the watch refuses, on the
    engines it is installed on, every statement that writes and every new connection (a
    new connection would open, or create, whatever file is now at the path), raising
    StoreUnavailable. Reads on connections already open still work: they see the data the
    process had, which is still correct, just frozen. The loss is final until a restart.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        remind_every: float = REMIND_SECONDS,
    ) -> None:
        self.path = path
        self.lost = asyncio.Event()
        self._clock = clock
        self._remind_every = remind_every
        self._identity = FileIdentity.of(path)
        self._problem: str | None = None
        self._logged_at = 0.0
        if self._identity is None:
            self._lose("was deleted")

    @property
    def ok(self) -> bool:
        return self._problem is None

    @property
    def problem(self) -> str | None:
        """What happened to the file, one line for people; None while it is in place."""
        return None if self._problem is None else f"{self.path} {self._problem}"

    def observe(self, current: FileIdentity | None) -> bool:
        """Compares the file now at the path with the one opened at start; True while
        they are the same. A loss is logged once, then every `remind_every` seconds."""
        if self._problem is None:
            if current is None:
                self._lose("was deleted")
            elif current != self._identity:
                self._lose("was replaced by another file")
        elif self._clock() - self._logged_at >= self._remind_every:
            self._log()
        return self._problem is None

    def check(self) -> bool:
        return self.observe(FileIdentity.of(self.path))

    async def run(self, interval: float) -> None:
        """Checks every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.observe(await asyncio.to_thread(FileIdentity.of, self.path))

    def install(self, engine: AsyncEngine) -> None:
        """Makes `engine` refuse writes and new connections once the file is lost."""
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "do_connect", self._refuse_connect)
        event.listen(sync_engine, "before_cursor_execute", self._refuse_write)

    def error(self) -> StoreUnavailable:
        return StoreUnavailable(f"{STORE_LOST} ({self.problem}); writes are refused")

    def _lose(self, what: str) -> None:
        self._problem = what
        self.lost.set()
        self._log()

    def _log(self) -> None:
        self._logged_at = self._clock()
        logger.error(
            "the database file %s while the bot was running: database writes are refused "
            "from now on; stop the bot, delete the stale %s-wal and -shm files (SQLite would "
            "replay them onto another copy), put the right file back and start the bot",
            self.problem,
            self.path.name,
        )

    def _refuse_connect(self, *_args: Any) -> None:
        if self._problem is not None:
            raise self.error()

    def _refuse_write(
        self,
        _connection: Any,
        _cursor: Any,
        statement: str,
        *_args: Any,
    ) -> None:
        if self._problem is not None and is_write(statement):
            raise self.error()


def is_write(statement: str) -> bool:
    """Whether SQL `statement` may change the database (anything not known to only read)."""
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    return not words or words[0].upper().rstrip(";") not in _READ_KEYWORDS
