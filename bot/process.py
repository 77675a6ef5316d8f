"""What every `digestbot run` process needs whatever its role, and nothing that loads
Telegram's library: the stop signals, task cancellation, and the store's gauges for
/metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import feeds as feed_repo
from storage import outbox

logger = logging.getLogger(__name__)


def install_stop_signals(stop: asyncio.Event) -> None:
    """From the first moment, SIGTERM and SIGINT mean a clean stop, even mid start-up."""
    loop = asyncio.get_running_loop()

    def request_stop(signal_number: signal.Signals) -> None:
        logger.info("received %s, stopping", signal_number.name)
        stop.set()

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, request_stop, signal_number)


async def cancel_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def store_gauges(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, float]]]:
    async def read() -> dict[str, float]:
        async with session_factory() as session:
            counts = await outbox.outbox_counts(session)
            feeds = await feed_repo.list_feeds(session, active_only=True)
        return {
            "outbox_pending": counts.get("pending", 0),
            "feeds_failing": sum(feed.consecutive_failures > 0 for feed in feeds),
        }

    return read
