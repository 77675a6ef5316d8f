"""`digestbot run`: the bot, its clock and the feed poller in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseStorage
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher, setup_bot_commands
from bot.conflict_watch import PollingConflictWatch
from bot.health import (
    HealthServer,
    ProcessHealth,
    database_probe,
    log_update_summaries,
)
from bot.leadership import lead_clock, poll_claimed_feeds, process_name
from bot.process import cancel_task, install_stop_signals, store_gauges
from bot.sending import build_sender
from bot.wiring import add_configured_feeds, ingest_config, open_storage
from core.metrics import SendReport
from core.settings import Settings, SettingsError
from delivery.clock import start_clock
from delivery.feed_alerts import queue_feed_alerts
from delivery.labels import digest_labels
from delivery.sender import Sender
from ingest.facts_backfill import STOP_WAIT_SECONDS as BACKFILL_STOP_SECONDS
from ingest.facts_backfill import backfill_in_background
from ingest.pipeline import IngestPipeline
from ingest.report import FeedOutcome
from ingest.workers import create_ingest_pool
from storage.db import (
    checkpoint_periodically,
    create_engine,
    create_session_factory,
    sqlite_file_path,
)
from storage.guard import RunLock, StoreWatch
from tagging import Tagger

logger = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
# Telegram accepts 1 to 100 webhook connections.
WEBHOOK_MAX_CONNECTIONS = 100
TELEGRAM_RETRY_FIRST_SECONDS = 1.0
TELEGRAM_RETRY_MAX_SECONDS = 60.0
# Parse-and-tag processes of `digestbot run` unless INGEST_PROCESSES says otherwise: one
# leaves a core to the bot's own process on a small machine.
ALL_ROLE_INGEST_PROCESSES = 1


async def run_bot(settings: Settings) -> int:
    """Runs until SIGTERM or SIGINT. On a SQLite file, only one `digestbot run` at a time:
    raises StoreInUse when another one holds the file (see storage.guard)."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    health = ProcessHealth()
    async with contextlib.AsyncExitStack() as resources:
        database = sqlite_file_path(settings.database_url)
        if database is not None:
            lock = resources.enter_context(RunLock.acquire(database))
            _announce_new_database(database, lock)
        session_factory = await resources.enter_async_context(open_storage(settings, until=stop))
        engine: AsyncEngine = session_factory.kw["bind"]
        # Background work (clock, composer, sender, poller) has a pool of its own, so that a
        # surge of chat traffic cannot starve it of connections, nor it the chats; on
        # SQLite its transactions get the write turn first.
        background_engine = create_engine(settings.database_url, background=True)
        resources.push_async_callback(background_engine.dispose)
        background_sessions = create_session_factory(background_engine)
        if database is not None:
            health.store = StoreWatch(database)
            health.store.install(engine)
            health.store.install(background_engine)
            watching = asyncio.create_task(
                health.store.run(settings.store_check_seconds), name="store-watch"
            )
            resources.push_async_callback(cancel_task, watching)
            checkpoints = asyncio.create_task(
                checkpoint_periodically(database), name="sqlite-checkpoints"
            )
            resources.push_async_callback(cancel_task, checkpoints)
        else:
            health.probe = database_probe(engine)
        if settings.metrics_port is not None:
            server = HealthServer(health, settings.metrics_host, settings.metrics_port)
            await server.start()
            resources.push_async_callback(server.stop)
        if stop.is_set():
            return 0
        await add_configured_feeds(session_factory, settings)
        tagger = await asyncio.to_thread(Tagger, settings.tag_threshold)
        if stop.is_set():
            return 0
        bot = create_bot(settings)
        resources.push_async_callback(bot.session.close)
        if not await _until_telegram_answers(bot.get_me, stop, "check the token"):
            return 0
        bot.session.middleware(PollingConflictWatch(health))
        # Parsing and tagging in a worker process, and the planning of digests: in a thread
        # of this one they would hold the interpreter most of the time while a poll brings
        # new articles or digests fall due, and every reply would wait its turn behind
        # them.
        pool = health.workers = create_ingest_pool(
            settings.tag_threshold, settings.ingest_processes or ALL_ROLE_INGEST_PROCESSES
        )
        resources.callback(pool.shutdown, wait=False, cancel_futures=True)
        pipeline = IngestPipeline(background_sessions, None, ingest_config(settings), executor=pool)
        background = _Background(
            settings,
            background_sessions,
            bot,
            pipeline,
            store_lost=health.store.lost if health.store is not None else None,
            # Several processes may share a PostgreSQL database: they take turns at the
            # clock and share out the feeds (bot.leadership).
            shared=background_engine if database is None else None,
        )
        dispatcher = create_dispatcher(
            settings=settings,
            session_factory=session_factory,
            tagger=tagger,
            storage=_fsm_storage(settings),
            update_stats=health.updates,
            on_welcome_queued=background.notify_sender,
        )
        health.send_report = background.send_report
        health.store_gauges = store_gauges(background_sessions)
        summaries = asyncio.create_task(log_update_summaries(health.updates), name="summaries")
        resources.push_async_callback(cancel_task, summaries)
        dispatcher.startup.register(background.start)
        dispatcher.shutdown.register(background.stop)
        if settings.webhook_url:
            await _serve_webhook(settings, bot, dispatcher, stop)
        else:
            await _poll(bot, dispatcher, stop, settings.update_concurrency)
    logger.info("stopped")
    return 0


def _announce_new_database(database: Path, lock: RunLock) -> None:
    """SQLite creates a missing file silently: say so, louder when a bot ran here before."""
    if database.exists():
        return
    if lock.existed_before:
        logger.warning(
            "creating a new empty database at %s, although a bot has run on it before (%s "
            "exists): if the database was deleted, stop now and restore it from a backup",
            database,
            lock.path,
        )
    else:
        logger.warning("creating a new empty database at %s", database)


async def _poll(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event, concurrency: int) -> None:
    """Long polling with at most `concurrency` updates in hand: the next batch is fetched
    only when there is room, so a surge waits in Telegram's queue, not in our memory."""
    if not await _until_telegram_answers(
        lambda: bot.delete_webhook(drop_pending_updates=False), stop, "remove the webhook"
    ):
        return
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            tasks_concurrency_limit=concurrency,
        )
    )
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        await dispatcher.stop_polling()
    stopped.cancel()
    await polling


async def _until_telegram_answers(
    call: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    what: str,
    *,
    setting: str = "TELEGRAM_API_URL",
) -> bool:
    """Calls Telegram until it answers: True then, False when a stop came first.

    A refused token or an address that is no Bot API server is a configuration error
    (SettingsError, exit 2); a server that cannot be reached or fails is waited for with
    backoff, one log line per try, so a bot started before the network is up just waits.
    """
    delay = TELEGRAM_RETRY_FIRST_SECONDS
    while not stop.is_set():
        try:
            await call()
            return True
        except TelegramUnauthorizedError:
            raise SettingsError(
                "BOT_TOKEN: Telegram refused the token (401 Unauthorized): it was revoked or "
                "mistyped; get the current one from @BotFather"
            ) from None
        except TelegramNotFound:
            raise SettingsError(
                "TELEGRAM_API_URL: the server answered 404 Not Found: it is not a Bot API "
                "server, or the token is wrong"
            ) from None
        except TelegramBadRequest as error:
            raise SettingsError(f"{setting}: Telegram refused to {what}: {error.message}") from None
        except TelegramRetryAfter as error:
            wait = float(error.retry_after)
            logger.warning("Telegram asked to wait %.0f s before we %s", wait, what)
        except (TelegramNetworkError, TelegramServerError) as error:
            wait = delay
            delay = min(delay * 2, TELEGRAM_RETRY_MAX_SECONDS)
            reason = " ".join(str(error).split())[:200]
            logger.warning(
                "could not %s: Telegram unreachable (%s); retrying in %.0f s", what, reason, wait
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
    return False


def _fsm_storage(settings: Settings) -> BaseStorage | None:
    """Conversation state in Redis when several bot processes share one token."""
    if not settings.redis_url:
        return None
    try:
        from aiogram.fsm.storage.redis import RedisStorage
    except ImportError:
        raise SettingsError(
            "REDIS_URL: set, but the redis client is not installed (pip install 'digestbot[redis]')"
        ) from None
    return RedisStorage.from_url(settings.redis_url)


class _Background:
    """The clock, the sender and the feed poller, started and stopped with the dispatcher.

    On a SQLite file this process is the only one (storage.guard.RunLock): it runs the
    clock, which polls every feed due each interval. On PostgreSQL (`shared`, the engine
    of the background pool) any number of `digestbot run` processes may share the
    database, as with the separate roles: each one sends and polls the feeds it claims
    with a lease, and only the holder of the clock lock runs the clock, so that N
    processes behave like one clock and N pollers and senders.
    """

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        bot: Bot,
        pipeline: IngestPipeline,
        *,
        store_lost: asyncio.Event | None = None,
        shared: AsyncEngine | None = None,
    ) -> None:
        self._settings = settings
        self._shared = shared
        self._halt = asyncio.Event()
        self._shared_tasks: list[asyncio.Task[None]] = []
        self._session_factory = session_factory
        self._bot = bot
        self._pipeline = pipeline
        self._scheduler: AsyncIOScheduler | None = None
        self._sender: Sender = build_sender(bot, session_factory, settings)
        self._store_lost = store_lost
        self._suspender: asyncio.Task[None] | None = None
        self._polling: asyncio.Future[list[FeedOutcome]] | None = None
        self._backfilling: asyncio.Task[None] | None = None
        self._backfill_stop = asyncio.Event()

    @property
    def send_report(self) -> SendReport:
        return self._sender.report

    def notify_sender(self) -> None:
        """Rows were queued outside the clock (welcome messages): send them now."""
        self._sender.notify()

    async def _poll_feeds(self) -> object:
        polling = asyncio.ensure_future(self._pipeline.run_once(due_only=True))
        self._polling = polling
        try:
            outcomes = await polling
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            logger.info("feed polling interrupted: the database is lost")
            return []
        finally:
            self._polling = None
        try:
            queued = await queue_feed_alerts(
                self._session_factory, self._settings, now=datetime.now(UTC)
            )
        except Exception:
            logger.exception("could not check the feeds' health; next try after the next poll")
        else:
            if queued:
                self._sender.notify()
        return outcomes

    async def _check_feeds(self) -> object:
        """The clock's feed job when the polling is shared out: the feeds' alerts only."""
        queued = await queue_feed_alerts(
            self._session_factory, self._settings, now=datetime.now(UTC)
        )
        if queued:
            self._sender.notify()
        return queued

    def _start_clock(self, poll_feeds: Callable[[], Awaitable[object]]) -> AsyncIOScheduler:
        """The clock's scheduler, started, with `poll_feeds` as its feed job; and the facts
        backfill, which one process at a time runs: the one with the clock."""
        if self._backfilling is None:
            self._backfilling = asyncio.create_task(self._backfill_facts())
        scheduler = AsyncIOScheduler(timezone=UTC)
        start_clock(
            scheduler=scheduler,
            settings=self._settings,
            session_factory=self._session_factory,
            bot=self._bot,
            poll_feeds=poll_feeds,
            labels_for=digest_labels,
            sender=self._sender,
            executor=self._pipeline.executor,
            planners=self._settings.ingest_processes or ALL_ROLE_INGEST_PROCESSES,
        )
        scheduler.start()
        return scheduler

    def _start_shared_clock(self) -> AsyncIOScheduler:
        return self._start_clock(self._check_feeds)

    async def start(self) -> None:
        await setup_bot_commands(self._bot, admin_ids=self._settings.admin_ids)
        if self._shared is not None:
            self._sender.start()
            owner = process_name()
            logger.info("feed poller %s started", owner)
            self._shared_tasks = [
                asyncio.create_task(
                    poll_claimed_feeds(self._pipeline, self._halt, owner), name="feed-poller"
                ),
                asyncio.create_task(
                    lead_clock(self._shared, self._halt, self._start_shared_clock), name="clock"
                ),
            ]
            logger.info("bot started")
            return
        self._scheduler = self._start_clock(self._poll_feeds)
        if self._store_lost is not None:
            self._suspender = asyncio.create_task(self._suspend_when(self._store_lost))
        logger.info("bot started")

    async def _backfill_facts(self) -> None:
        await backfill_in_background(
            self._session_factory, self._backfill_stop, executor=self._pipeline.executor
        )

    async def _suspend_when(self, store_lost: asyncio.Event) -> None:
        """Without its database file every job would fail on every tick, and a message
        sent could not be recorded as sent: the clock and the sender stop until a restart."""
        await store_lost.wait()
        if self._backfilling is not None:
            self._backfilling.cancel()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()
        if self._polling is not None:
            self._polling.cancel()
        await self._sender.stop()
        logger.warning("feed polling, digests and delivery are stopped until the bot restarts")

    async def stop(self) -> None:
        if self._suspender is not None:
            await cancel_task(self._suspender)
        if self._backfilling is not None:
            # The batch under way ends (a database call cut short could leave a connection
            # open); only a batch that takes too long is cancelled.
            self._backfill_stop.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._backfilling, BACKFILL_STOP_SECONDS)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._halt.set()
        for task in self._shared_tasks:
            with contextlib.suppress(Exception):
                await task
        await self._sender.stop()


async def _serve_webhook(
    settings: Settings, bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event
) -> None:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = web.Application()
    # Each update is handled before its request is answered, and Telegram keeps at most
    # max_connections requests open: a surge waits on Telegram's side.
    SimpleRequestHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False
    ).register(app, path=WEBHOOK_PATH)
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise SettingsError(
            f"WEBHOOK_PORT: cannot listen on {settings.webhook_host}:{settings.webhook_port}: "
            f"{error.strerror or error}"
        ) from None
    webhook_url = (settings.webhook_url or "").rstrip("/") + WEBHOOK_PATH
    try:
        registered = await _until_telegram_answers(
            lambda: bot.set_webhook(
                webhook_url,
                secret_token=secret,
                allowed_updates=dispatcher.resolve_used_update_types(),
                max_connections=min(settings.update_concurrency, WEBHOOK_MAX_CONNECTIONS),
            ),
            stop,
            "register the webhook",
            setting="WEBHOOK_URL",
        )
        if registered:
            logger.info(
                "webhook server listening on %s:%d", settings.webhook_host, settings.webhook_port
            )
            await stop.wait()
    finally:
        await runner.cleanup()
