"""The scheduler is only a clock: it polls feeds, looks for due digests, instant messages
and weekly briefs, and keeps the sender running. What is due lives in the database
(chats.next_digest_at, next_weekly_at, next_instant_at and instant_seen_until, the
outbox), so a restart loses nothing: the next tick finds whatever became due while the bot
was down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from delivery.daily import compose_due_digests
from delivery.instant import compose_instant_messages
from delivery.sender import Sender
from delivery.weekly import compose_due_weekly
from digests.model import Labels

logger = logging.getLogger(__name__)

POLL_FEEDS_JOB = "poll_feeds"
COMPOSE_DIGESTS_JOB = "compose_digests"


def start_clock(
    *,
    scheduler: AsyncIOScheduler,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    bot: Bot | None,
    poll_feeds: Callable[[], Awaitable[object]],
    labels_for: Callable[[str], Labels],
    sender: Sender | None,
    executor: Executor | None = None,
    planners: int = 1,
) -> None:
    """Adds the clock's jobs to `scheduler` (the caller starts it) and starts the sender.
    Without a sender (`digestbot run --role clock`) the rows queued wait for the sender
    processes, which look at the outbox every second. With `executor` (worker processes)
    the daily, instant and weekly passes plan their messages there (delivery.daily), the
    daily pass `planners` batches at once (the executor's processes).

    Both jobs run once right away, never overlap themselves, and a run missed while the
    loop was busy is folded into the next one. `bot` is the sender's; kept in the signature
    so that every background part is wired in one place.
    """
    del bot
    now = datetime.now(UTC)

    # A job under way when the clock stops (the bot stops, or this process lost the clock
    # lock) is cancelled by the scheduler's shutdown: what it stored stays, and what it
    # had not reached is due at the clock's next run.
    async def poll_feeds_job() -> None:
        try:
            await poll_feeds()
        except asyncio.CancelledError:
            logger.info("the clock stopped during a feed poll; the feeds left are due next run")
        except Exception:
            logger.exception("feed polling failed; next try at the next interval")

    async def compose_job() -> None:
        try:
            await compose_everything_due()
        except asyncio.CancelledError:
            logger.info("the clock stopped while composing; the chats left are due next run")

    async def compose_everything_due() -> None:
        try:
            report = await compose_due_digests(
                session_factory,
                now=datetime.now(UTC),
                labels_for=labels_for,
                threshold=settings.tag_threshold,
                catchup=timedelta(hours=settings.digest_catchup_hours),
                executor=executor,
                planners=planners,
            )
        except BrokenProcessPool:
            # Killed (out of memory, an operator); the pool starts a new one for the next
            # call, and what was planned in it was not stored.
            logger.warning(
                "a worker process died while planning digests; next try at the next tick"
            )
            return
        except Exception:
            logger.exception("composing due digests failed; next try at the next tick")
            return
        if report.due:
            logger.info("%s", report)
        queued = report.messages
        try:
            instant = await compose_instant_messages(
                session_factory,
                now=datetime.now(UTC),
                labels_for=labels_for,
                threshold=settings.tag_threshold,
                min_gap=timedelta(minutes=settings.poll_interval_minutes),
                executor=executor,
            )
            if instant.messages or instant.errors:
                logger.info("%s", instant)
            queued += instant.messages
            weekly = await compose_due_weekly(
                session_factory,
                now=datetime.now(UTC),
                labels_for=labels_for,
                threshold=settings.tag_threshold,
                chart_timezone=settings.default_timezone,
                executor=executor,
            )
            if weekly.due:
                logger.info("%s", weekly)
            queued += weekly.briefs
        except BrokenProcessPool:
            logger.warning(
                "a worker process died while planning instant messages or weekly briefs; "
                "next try at the next tick"
            )
        except Exception:
            logger.exception("composing instant messages or weekly briefs failed; next tick")
        if queued and sender is not None:
            sender.notify()

    scheduler.add_job(
        poll_feeds_job,
        IntervalTrigger(minutes=settings.poll_interval_minutes, timezone=UTC),
        id=POLL_FEEDS_JOB,
        name="poll feeds",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=now,
        replace_existing=True,
    )
    scheduler.add_job(
        compose_job,
        IntervalTrigger(seconds=settings.digest_check_seconds, timezone=UTC),
        id=COMPOSE_DIGESTS_JOB,
        name="compose due digests",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=now,
        replace_existing=True,
    )
    if sender is not None:
        sender.start()
