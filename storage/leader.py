"""Exactly one holder of a role across processes: a PostgreSQL session-level advisory lock.

The lock lives as long as the database session that took it, on a connection of its own,
so a holder that dies (even by SIGKILL) loses it as soon as the server notices the closed
connection; a standby that keeps trying takes it then. Advisory locks are per database,
so two bots on one server with their own databases do not meet here.
"""

from __future__ import annotations

import contextlib
import logging
import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable 63-bit key for a lock name (advisory lock keys are bigints)."""
    return (0x64696765 << 31) ^ zlib.crc32(name.encode("utf-8"))


class AdvisoryLock:
    """`try_acquire` until it returns True; `held` checks the session is still alive."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("advisory locks need PostgreSQL")
        self._engine = engine
        self.name = name
        self.key = lock_key(name)
        self._connection: AsyncConnection | None = None
        self._held = False

    @property
    def is_held(self) -> bool:
        return self._held

    async def try_acquire(self) -> bool:
        """Takes the lock if nobody holds it; False otherwise (or when the server is away)."""
        if self._held:
            return await self.held()
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            got = await self._connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            )
            # Autocommit-like: end the implicit transaction, keep the session's lock.
            await self._connection.commit()
        except Exception as error:
            logger.warning("lock %s: the database does not answer: %s", self.name, error)
            await self._drop()
            return False
        self._held = bool(got)
        return self._held

    async def held(self) -> bool:
        """True while the session holding the lock is alive; False (and not held) after."""
        if not self._held or self._connection is None:
            return False
        try:
            await self._connection.scalar(text("SELECT 1"))
            await self._connection.commit()
        except Exception as error:
            logger.warning("lock %s: lost with its connection: %s", self.name, error)
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        if self._connection is not None and self._held:
            with contextlib.suppress(Exception):
                await self._connection.scalar(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                )
                await self._connection.commit()
        await self._drop()

    async def _drop(self) -> None:
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
