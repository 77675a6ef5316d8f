"""The send rate of one bot token shared by every sender process (PostgreSQL).

`SharedPacer` stands in for `delivery.sender.SendPacer` when several `digestbot run --role
sender` processes (or `all` next to them) send for one bot: the slots come from one row of
the database (storage.budget), a few at a time, and a 429 seen by any process pauses them
all. Why PostgreSQL and not Redis: every process of a multi-process deployment already
talks to PostgreSQL, Redis stays optional (only conversation state needs it), and one
UPDATE per few dozen messages is nothing for it, even at 1,000 messages a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import budget

logger = logging.getLogger(__name__)

# Slots reserved at once cover this much time at the rate: a pause set by another process
# reaches this one within about this long.
CHUNK_SECONDS = 0.05
# A reserved slot this far in the past (the sender was idle) is dropped, not used late.
STALE_SLOT_SECONDS = 0.25
DATABASE_RETRY_SECONDS = 1.0


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def budget_name(token: str) -> str:
    """The budget row of a bot: its numeric id, never the secret part of the token."""
    return "bot:" + token.split(":", 1)[0]


class SharedPacer:
    """`acquire` waits for this process's next slot on the shared grid; `pause` pauses
    every process sending for the same bot."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        name: str,
        rate: float,
        *,
        chunk_seconds: float = CHUNK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._session_factory = session_factory
        self.name = name
        self.interval = 1.0 / rate
        self.chunk = max(1, math.ceil(rate * chunk_seconds))
        self._clock = clock
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._publishing: set[asyncio.Task[None]] = set()
        self.reservations = 0

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Pauses this process at once and every other one through the database."""
        self._pause_locally(self._clock() + seconds)
        task = asyncio.get_running_loop().create_task(self._publish_pause(seconds))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    def _pause_locally(self, until: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            self._slots.clear()
            self._changed.set()

    async def _publish_pause(self, seconds: float) -> None:
        try:
            async with self._session_factory() as session:
                until, now = await budget.pause(session, self.name, seconds=seconds)
                await session.commit()
        except Exception as error:
            logger.warning("could not share a pause of %.1f s: %s", seconds, _one_line(error))
            return
        self._pause_locally(until - now + self._clock())

    async def _reserve(self) -> None:
        async with self._session_factory() as session:
            got = await budget.reserve(session, self.name, count=self.chunk, interval=self.interval)
            await session.commit()
        self.reservations += 1
        offset = self._clock() - got.now
        self._pause_locally(got.paused_until + offset)
        self._slots.extend(
            got.first_slot + offset + index * got.interval for index in range(got.count)
        )

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Waits for the next slot; False if `stop` was set meanwhile."""
        async with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = self._clock()
                while self._slots and (
                    self._slots[0] < now - STALE_SLOT_SECONDS or self._slots[0] < self._paused_until
                ):
                    self._slots.popleft()
                if not self._slots:
                    if now < self._paused_until:
                        await self._wait(self._paused_until - now, stop)
                        continue
                    try:
                        await self._reserve()
                    except Exception as error:
                        logger.warning("could not reserve send slots: %s", _one_line(error))
                        await self._wait(DATABASE_RETRY_SECONDS, stop)
                    continue
                ready_at = self._slots[0]
                if now >= ready_at:
                    self._slots.popleft()
                    return True
                await self._wait(ready_at - now, stop)

    async def _wait(self, seconds: float, stop: asyncio.Event | None) -> None:
        self._changed.clear()
        waiters = [asyncio.ensure_future(self._changed.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=max(seconds, 0.0))
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def close(self) -> None:
        for task in list(self._publishing):
            with contextlib.suppress(Exception):
                await task
