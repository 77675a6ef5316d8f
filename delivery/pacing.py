"""What the send pacers share: how a send waits for its slot, and how late a slot may be.

A pacer hands out send slots on a grid `1/rate` apart. A slot is used even if the send
that takes it wakes a little late, so that wake-up jitter does not add up into a lower
rate; a slot more than STALE_SLOT_SECONDS in the past (the loop was busy, or nothing was
sent for a while) is dropped instead, since late slots sent together would be a burst.
Telegram counts sends over a sliding second: slots up to STALE_SLOT_SECONDS late put at most
rate × (1 + STALE_SLOT_SECONDS) sends into any one second (950/s: 974, under 1,000).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

STALE_SLOT_SECONDS = 0.025


class SlotWait:
    """The one send of a pacer that waits for its slot (the pacer's lock lets one in at a
    time), woken by its time, by `wake` (a pause, new slots), by a task ending or by a
    stop event. One future and one timer per wait, since a send waits here up to a
    thousand times a second; one task per stop event watched."""

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._stop_watch: tuple[asyncio.Event, asyncio.Task[None]] | None = None

    async def wait(
        self,
        seconds: float,
        stop: asyncio.Event | None = None,
        until_done: asyncio.Task[Any] | None = None,
    ) -> None:
        """Until `seconds` pass, `wake` is called, `until_done` ends or `stop` is set."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(max(seconds, 0.0), _wake, waiter)
        if stop is not None:
            self._watch(stop)
        if until_done is not None:
            until_done.add_done_callback(lambda _: _wake(waiter))
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def wake(self) -> None:
        if self._waiter is not None:
            _wake(self._waiter)

    def _watch(self, stop: asyncio.Event) -> None:
        if self._stop_watch is not None:
            watched, task = self._stop_watch
            if watched is stop:
                return
            task.cancel()

        async def watch() -> None:
            await stop.wait()
            self.wake()

        self._stop_watch = (stop, asyncio.get_running_loop().create_task(watch()))

    async def close(self) -> None:
        """Stops watching the stop event."""
        if self._stop_watch is None:
            return
        task = self._stop_watch[1]
        self._stop_watch = None
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
