"""`digestbot run --role bot|ingest|sender|clock`: one part of the bot per process.

`--role all` (the default, bot.runner) runs every part in one process, on SQLite or
PostgreSQL. The other roles share one PostgreSQL database and run in any number, except the
clock, of which exactly one is active (a PostgreSQL advisory lock; the others stand by):

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
import os
import socket
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher, setup_bot_commands
from bot.health import (
    HealthServer,
    PollingConflictWatch,
    ProcessHealth,
    database_probe,
    log_update_summaries,
)
from bot.runner import (
    _cancel,
    _fsm_storage,
    _install_stop_signals,
    _poll,
    _serve_webhook,
    _store_gauges,
    _until_telegram_answers,
)
from bot.sending import build_sender
from bot.throttling import redis_buckets
from bot.wiring import add_configured_feeds, ingest_config, open_storage
from core.settings import Settings, SettingsError
from delivery.clock import start_clock
from delivery.feed_alerts import queue_feed_alerts
from delivery.labels import digest_labels
from handlers.middlewares import SharedBucket
from ingest.pipeline import IngestPipeline
from ingest.workers import create_ingest_pool
from storage.db import is_sqlite
from storage.leader import AdvisoryLock
from tagging import Tagger

logger = logging.getLogger(__name__)

ROLES: Final = ("all", "bot", "ingest", "sender", "clock")
CLOCK_LOCK: Final = "digestbot-clock"
# A standby clock tries the lock this often, and the active one checks it still holds it.
CLOCK_RETRY_SECONDS: Final = 5.0
# An ingest worker looks for due feeds this often.
INGEST_TICK_SECONDS: Final = 5.0


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


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_role(settings: Settings, role: str) -> int:
    """Runs one role until SIGTERM or SIGINT."""
    check_role(settings, role)
    stop = asyncio.Event()
    _install_stop_signals(stop)
    health = ProcessHealth()
    async with contextlib.AsyncExitStack() as resources:
        session_factory = await resources.enter_async_context(open_storage(settings, until=stop))
        engine: AsyncEngine = session_factory.kw["bind"]
        health.probe = database_probe(engine)
        health.store_gauges = _store_gauges(session_factory)
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
            await _ingest(settings, session_factory, stop)
        elif role == "sender":
            await _sender(settings, session_factory, health, stop, resources)
        else:
            await _clock(settings, session_factory, engine, stop)
    logger.info("stopped")
    return 0


async def _bot(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    health: ProcessHealth,
    stop: asyncio.Event,
    resources: contextlib.AsyncExitStack,
) -> None:
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
    resources.push_async_callback(_cancel, summaries)
    dispatcher.startup.register(on_startup)
    if settings.webhook_url:
        await _serve_webhook(settings, bot, dispatcher, stop)
    else:
        await _poll(bot, dispatcher, stop, settings.update_concurrency)


async def _ingest(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], stop: asyncio.Event
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
    pool = create_ingest_pool(settings.tag_threshold, settings.ingest_processes)
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
    while not stop.is_set():
        polling = asyncio.ensure_future(pipeline.run_claimed(owner=owner))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not polling.done():
            # Feeds claimed and not recorded are claimed again when their lease ends.
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            return
        with contextlib.suppress(Exception):
            polling.result()
        if polling.exception() is not None:
            logger.error("feed polling failed: %s; next try shortly", polling.exception())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), INGEST_TICK_SECONDS)


async def _sender(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    health: ProcessHealth,
    stop: asyncio.Event,
    resources: contextlib.AsyncExitStack,
) -> None:
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
    stop: asyncio.Event,
) -> None:
    """Active while it holds the clock lock; a standby tries again every few seconds."""

    async def check_feeds() -> object:
        return await queue_feed_alerts(session_factory, settings, now=datetime.now(UTC))

    lock = AdvisoryLock(engine, CLOCK_LOCK)
    scheduler: AsyncIOScheduler | None = None
    announced_standby = False
    try:
        while not stop.is_set():
            if scheduler is None:
                if await lock.try_acquire():
                    scheduler = AsyncIOScheduler(timezone=UTC)
                    start_clock(
                        scheduler=scheduler,
                        settings=settings,
                        session_factory=session_factory,
                        bot=None,
                        poll_feeds=check_feeds,
                        labels_for=digest_labels,
                        sender=None,
                    )
                    scheduler.start()
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
