"""The send rate of one bot token shared by every sender process (PostgreSQL).

`SharedPacer` stands in for `delivery.sender.SendPacer` when several `digestbot run --role
sender` processes (or `all` next to them) send for one bot: the slots come from one row of
the database (storage.budget), a chunk at a time, and a 429 seen by any process pauses them
all.

Slots are reserved a chunk (CHUNK_SECONDS of the rate) at a time, the next chunk while the
current one still lasts, so that a send never waits for the database. Slots of all
processes lie on one grid, so together they keep the rate; a slot this process could not
use in time (its event loop was busy) is dropped rather than sent late (delivery.pacing).

A pause reaches the other processes through a PostgreSQL notification (storage.budget
.listen) within a few milliseconds; each process checks its pause right before every send.
What cannot be held back is what is already on the wire: the requests of every process
that left before the 429 reached it (the 429's own round trip for the process that got
it, plus the notification's way for the others) arrive during the pause. bench/broadcast.py
measures that number (`sends_during_pause`). Without notifications (a connection pooler
that does not pass LISTEN) a pause reaches the others at their next reservation, within
CHUNK_SECONDS.

Why PostgreSQL and not Redis: every process of a multi-process deployment already talks
to PostgreSQL, Redis stays optional (only conversation state needs it), and one UPDATE per
chunk of messages is nothing for it, even at 1,000 messages a second.
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

from delivery.pacing import STALE_SLOT_SECONDS, SlotWait
from storage import budget

logger = logging.getLogger(__name__)

# Slots reserved at once cover this much time at the rate: a pause set by another process
# reaches this one within about this long.
CHUNK_SECONDS = 0.1
# Slots are reserved at least this far ahead of the database's clock, so that they have
# not passed by the time the answer is read.
LEAD_SECONDS = 0.05
# A pause's first slots are reserved this long before it ends: the row hands out none
# inside a pause, so they start right at its end instead of a round trip and LEAD_SECONDS
# after it.
RESUME_AHEAD_SECONDS = 0.25
# How many reservations the clock offset is estimated over.
OFFSET_SAMPLES = 32
DATABASE_RETRY_SECONDS = 1.0
LISTEN_RETRY_SECONDS = 30.0


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
        # The one `acquire` waiting (under the lock): for a pause, a reservation, `stop` or
        # its time.
        self._waiting = SlotWait()
        self._publishing: set[asyncio.Task[None]] = set()
        self.reservations = 0
        # Local clock minus the database server's epoch clock: the smallest of the recent
        # reservations' (answer read - server time), the one least delayed on its way.
        self._offset: float | None = None
        self._offsets: deque[float] = deque(maxlen=OFFSET_SAMPLES)
        self._reserving: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> bool:
        """Pauses this process at once and every other one through the database; True when
        no pause was under way (the 429s of requests already out add none)."""
        now = self._clock()
        fresh = now >= self._paused_until
        self._pause_locally(now + seconds)
        task = asyncio.get_running_loop().create_task(self._publish_pause(seconds))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)
        return fresh

    def _pause_locally(self, until: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            self._slots.clear()
            self._waiting.wake()

    async def _publish_pause(self, seconds: float) -> None:
        try:
            async with self._session_factory() as session:
                until, now = await budget.pause(session, self.name, seconds=seconds)
                await session.commit()
        except Exception as error:
            logger.warning("could not share a pause of %.1f s: %s", seconds, _one_line(error))
            return
        self._pause_locally(until - now + self._clock())

    def _on_notified(self, paused_until: float) -> None:
        if self._offset is not None:
            self._pause_locally(paused_until + self._offset)

    async def _listen(self) -> None:
        engine = self._session_factory.kw.get("bind")
        if engine is None:
            return
        while not self._closed:
            try:
                async with budget.listen(engine, self.name, self._on_notified):
                    await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "pauses reach this process at its next reservation only: %s",
                    _one_line(error),
                )
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _reserve(self) -> None:
        async with self._session_factory() as session:
            got = await budget.reserve(
                session, self.name, count=self.chunk, interval=self.interval, lead=LEAD_SECONDS
            )
            await session.commit()
        self.reservations += 1
        # Slots of every process lie on one grid only if each maps server time to its own
        # clock steadily: a reply delayed by a busy loop or database must not shift the
        # slots it brings (into another process's slots, a burst).
        self._offsets.append(self._clock() - got.now)
        offset = self._offset = min(self._offsets)
        self._pause_locally(got.paused_until + offset)
        self._slots.extend(
            got.first_slot + offset + index * got.interval for index in range(got.count)
        )

    async def _reserve_ahead(self) -> None:
        try:
            await self._reserve()
        except Exception as error:
            logger.warning("could not reserve send slots: %s", _one_line(error))
        finally:
            self._reserving = None
            self._waiting.wake()

    def _start(self) -> None:
        if self._listening is None and not self._closed:
            self._listening = asyncio.get_running_loop().create_task(
                self._listen(), name="send-pause-listener"
            )

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Waits for the next slot; False if `stop` was set meanwhile."""
        self._start()
        async with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = self._clock()
                slots = self._slots
                while slots and (
                    slots[0] < now - STALE_SLOT_SECONDS or slots[0] < self._paused_until
                ):
                    slots.popleft()
                if self._reserving is None and (
                    not slots or slots[-1] - now < self.chunk * self.interval
                ):
                    resume_at = self._paused_until - RESUME_AHEAD_SECONDS
                    if now < resume_at and not slots:
                        await self._waiting.wait(resume_at - now, stop)
                        continue
                    if not slots:
                        try:
                            await self._reserve()
                        except Exception as error:
                            logger.warning("could not reserve send slots: %s", _one_line(error))
                            await self._waiting.wait(DATABASE_RETRY_SECONDS, stop)
                        continue
                    # The next chunk while this one lasts.
                    self._reserving = asyncio.get_running_loop().create_task(self._reserve_ahead())
                if not slots and self._reserving is not None:
                    await self._waiting.wait(DATABASE_RETRY_SECONDS, stop, self._reserving)
                    continue
                ready_at = slots[0]
                if now >= ready_at:
                    slots.popleft()
                    return True
                await self._waiting.wait(ready_at - now, stop)

    async def close(self) -> None:
        self._closed = True
        for publishing in list(self._publishing):
            with contextlib.suppress(Exception):
                await publishing
        await self._waiting.close()
        for task in (self._listening, self._reserving):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._listening = self._reserving = None
