"""What processes sharing one PostgreSQL database take turns at, or share out.

* The clock (digests, instant messages, weekly briefs, feed alerts): exactly one process
  runs it, the holder of the clock's advisory lock (storage.leader); the others stand by
  and try the lock again every few seconds.
* Feed polling: every process claims due feeds with a lease (storage.feeds.claim_due_feeds),
  so each feed is fetched by one process, once per interval.

`digestbot run --role clock` and `--role ingest` run one of them each; `--role all` on
PostgreSQL runs both, so that N `all` processes behave like one clock and N pollers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.pipeline import IngestPipeline
from storage.leader import AdvisoryLock

logger = logging.getLogger(__name__)

CLOCK_LOCK: Final = "digestbot-clock"
# A standby clock tries the lock this often, and the active one checks it still holds it.
CLOCK_RETRY_SECONDS: Final = 5.0
# A feed poller looks for due feeds this often.
INGEST_TICK_SECONDS: Final = 5.0


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def lead_clock(
    engine: AsyncEngine, stop: asyncio.Event, start_clock: Callable[[], AsyncIOScheduler]
) -> None:
    """Runs the clock while this process holds the clock lock, until `stop` is set.

    `start_clock` builds and starts the clock's scheduler when the lock is taken; the
    scheduler is shut down when the lock is lost (the database session died) or on stop.
    """
    lock = AdvisoryLock(engine, CLOCK_LOCK)
    scheduler: AsyncIOScheduler | None = None
    announced_standby = False
    try:
        while not stop.is_set():
            if scheduler is None:
                if await lock.try_acquire():
                    scheduler = start_clock()
                    logger.info("clock %s is the active clock", process_name())
                elif not announced_standby:
                    logger.info("another clock is active; %s stands by", process_name())
                    announced_standby = True
            elif not await lock.held():
                scheduler.shutdown(wait=False)
                scheduler = None
                announced_standby = False
                logger.warning("clock %s lost the clock lock; standing by", process_name())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CLOCK_RETRY_SECONDS)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await lock.release()


async def poll_claimed_feeds(pipeline: IngestPipeline, stop: asyncio.Event, owner: str) -> None:
    """Polls the feeds that fall due, claimed under `owner`, every few seconds until `stop`.

    A stop cancels the poll under way: feeds claimed and not recorded are claimed again
    when their lease ends.
    """
    while not stop.is_set():
        polling = asyncio.ensure_future(pipeline.run_claimed(owner=owner))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            return
        if polling.exception() is not None:
            logger.error("feed polling failed: %s; next try shortly", polling.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), INGEST_TICK_SECONDS)
