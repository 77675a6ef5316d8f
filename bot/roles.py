"""`digestbot run --role bot|ingest|sender|clock`: one part of the bot per process.

`--role all` (the default, bot.runner) runs every part in one process, on SQLite or
PostgreSQL; on PostgreSQL several `all` processes take turns at the clock and share out the
feeds as the roles below do (bot.leadership). The other roles share one PostgreSQL database
and run in any number, except the clock, of which exactly one is active (a PostgreSQL
advisory lock; the others stand by):

* `bot` answers updates (long polling, or webhook replicas behind a proxy: FSM state in
  Redis with REDIS_URL);
* `ingest` polls due feeds; workers claim feeds with a lease, so no feed is fetched twice;
* `sender` drains the outbox at a send rate shared by every sender (delivery.budget);
* `clock` queues the digests that fall due and the admins' feed alerts.

Every role serves /healthz and /metrics on METRICS_PORT when it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.health import HealthServer, ProcessHealth, database_probe, log_update_summaries
from bot.heap import loading_modules
from bot.leadership import lead_clock, poll_claimed_feeds, process_name
from bot.process import cancel_task, install_stop_signals, store_gauges
from bot.wiring import add_configured_feeds, ingest_config, open_storage
from core.processes import RespawningPool, spawn_pool
from core.settings import Settings, SettingsError
from ingest.facts_backfill import STOP_WAIT_SECONDS as BACKFILL_STOP_SECONDS
from ingest.facts_backfill import backfill_in_background
from ingest.pipeline import IngestPipeline
from ingest.workers import create_ingest_pool
from storage.db import is_sqlite

logger = logging.getLogger(__name__)

ROLES: Final = ("all", "bot", "ingest", "sender", "clock")


def check_role(settings: Settings, role: str) -> None:
    """A role other than `all` needs a database every process shares: SettingsError on
    SQLite (one line, exit 2)."""
    if role not in ROLES:
        raise SettingsError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
    if role != "all" and is_sqlite(settings.database_url):
        raise SettingsError(
            f"--role {role}: the roles share one PostgreSQL database (DATABASE_URL="
            "postgresql+asyncpg://…); on SQLite one process runs every part: --role all"
        )


async def run_role(settings: Settings, role: str) -> int:
    """Runs one role until SIGTERM or SIGINT."""
    check_role(settings, role)
    stop = asyncio.Event()
    install_stop_signals(stop)
    health = ProcessHealth()
    async with contextlib.AsyncExitStack() as resources:
        session_factory = await resources.enter_async_context(open_storage(settings, until=stop))
        engine: AsyncEngine = session_factory.kw["bind"]
        health.probe = database_probe(engine)
        health.store_gauges = store_gauges(session_factory)
        if settings.metrics_port is not None:
            server = HealthServer(health, settings.metrics_host, settings.metrics_port)
            await server.start()
            resources.push_async_callback(server.stop)
        if stop.is_set():
            return 0
        logger.info("role %s starting", role)
        if role == "bot":
            await _bot(settings, session_factory, health, stop, resources)
        elif role == "ingest":
            await _ingest(settings, session_factory, health, stop)
        elif role == "sender":
            await _sender(settings, session_factory, health, stop, resources)
        else:
            await _clock(settings, session_factory, engine, health, stop)
    logger.info("stopped")
    return 0


async def _bot(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    health: ProcessHealth,
    stop: asyncio.Event,
    resources: contextlib.AsyncExitStack,
) -> None:
    # Telegram's library, the handlers and the tagger are imported by the roles that use
    # them: an ingest worker never loads them (about 120 MB and 2.7 s of CPU at start).
    with loading_modules():
        from bot.app import create_bot, create_dispatcher, setup_bot_commands
        from bot.conflict_watch import PollingConflictWatch
        from bot.runner import _fsm_storage, _poll, _serve_webhook, _until_telegram_answers
        from bot.throttling import redis_buckets
        from handlers.middlewares import SharedBucket
        from tagging import Tagger

    tagger = await asyncio.to_thread(Tagger, settings.tag_threshold)
    if stop.is_set():
        return
    bot = create_bot(settings)
    resources.push_async_callback(bot.session.close)
    if not await _until_telegram_answers(bot.get_me, stop, "check the token"):
        return
    bot.session.middleware(PollingConflictWatch(health))
    storage = _fsm_storage(settings)
    buckets: tuple[SharedBucket | None, SharedBucket | None] = (None, None)
    if settings.redis_url:
        # A user's next tap may reach another replica: the flood limits live in Redis too.
        client, *shared = redis_buckets(settings.redis_url, bot.id)
        resources.push_async_callback(client.aclose)
        buckets = (shared[0], shared[1])
    dispatcher = create_dispatcher(
        settings=settings,
        session_factory=session_factory,
        tagger=tagger,
        storage=storage,
        message_bucket=buckets[0],
        callback_bucket=buckets[1],
        update_stats=health.updates,
    )

    async def on_startup() -> None:
        await setup_bot_commands(bot, admin_ids=settings.admin_ids)
        logger.info("bot started")

    summaries = asyncio.create_task(log_update_summaries(health.updates), name="summaries")
    resources.push_async_callback(cancel_task, summaries)
    dispatcher.startup.register(on_startup)
    if settings.webhook_url:
        await _serve_webhook(settings, bot, dispatcher, stop)
    else:
        await _poll(bot, dispatcher, stop, settings.update_concurrency)


async def _ingest(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    health: ProcessHealth,
    stop: asyncio.Event,
) -> None:
    for attempt in range(3):
        try:
            await add_configured_feeds(session_factory, settings)
            break
        except IntegrityError:
            # Another worker starting at the same moment added some of the same feeds.
            if attempt == 2:
                raise
    # Parsing and tagging in worker processes: this loop only fetches and stores.
    pool = health.workers = create_ingest_pool(settings.tag_threshold, settings.ingest_processes)
    try:
        await _ingest_loop(settings, session_factory, pool, stop)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def _ingest_loop(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    pool: Executor,
    stop: asyncio.Event,
) -> None:
    pipeline = IngestPipeline(session_factory, None, ingest_config(settings), executor=pool)
    owner = process_name()
    logger.info("ingest worker %s started", owner)
    await poll_claimed_feeds(pipeline, stop, owner)


async def _sender(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    health: ProcessHealth,
    stop: asyncio.Event,
    resources: contextlib.AsyncExitStack,
) -> None:
    with loading_modules():
        from bot.app import create_bot
        from bot.runner import _until_telegram_answers
        from bot.sending import build_sender

    bot = create_bot(settings)
    resources.push_async_callback(bot.session.close)
    if not await _until_telegram_answers(bot.get_me, stop, "check the token"):
        return
    sender = build_sender(bot, session_factory, settings)
    health.send_report = sender.report
    sender.start()
    logger.info("sender %s started", sender.owner)
    try:
        await stop.wait()
    finally:
        await sender.stop()


async def _clock(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    health: ProcessHealth,
    stop: asyncio.Event,
) -> None:
    """Active while it holds the clock lock; a standby tries again every few seconds.
    With PLAN_PROCESSES, digests are planned in that many worker processes, started with
    the first activity."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from delivery.clock import start_clock
    from delivery.feed_alerts import queue_feed_alerts
    from delivery.labels import digest_labels

    async def check_feeds() -> object:
        return await queue_feed_alerts(session_factory, settings, now=datetime.now(UTC))

    backfilling: list[asyncio.Task[None]] = []
    planners = settings.plan_processes

    def start() -> AsyncIOScheduler:
        if not backfilling:
            # The active clock brings stored articles' facts up to date, a batch at a time.
            backfilling.append(asyncio.create_task(backfill_in_background(session_factory, stop)))
        if planners and health.workers is None:
            health.workers = RespawningPool(lambda: spawn_pool(planners), "digest-planning worker")
        scheduler = AsyncIOScheduler(timezone=UTC)
        start_clock(
            scheduler=scheduler,
            settings=settings,
            session_factory=session_factory,
            bot=None,
            poll_feeds=check_feeds,
            labels_for=digest_labels,
            sender=None,
            executor=health.workers,
            planners=max(1, planners),
        )
        scheduler.start()
        return scheduler

    try:
        await lead_clock(engine, stop, start)
    finally:
        if health.workers is not None:
            health.workers.shutdown(wait=False, cancel_futures=True)
        for task in backfilling:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, BACKFILL_STOP_SECONDS)
