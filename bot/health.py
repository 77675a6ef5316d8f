"""What the running bot knows about its own health: `/healthz` and `/metrics` on
METRICS_PORT (the 409 Conflicts it counts come from bot.conflict_watch)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Final

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.metrics import SendReport, UpdateStats
from core.processes import RespawningPool
from core.settings import SettingsError
from storage.guard import STORE_LOST, StoreWatch

logger = logging.getLogger(__name__)

DATABASE_SILENT: Final = "the database does not answer"
PING_TIMEOUT_SECONDS: Final = 3.0
CONFLICT_WARN_EVERY_SECONDS: Final = 60.0
CONFLICT_RETRY_SECONDS: Final = 5.0
PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

UPDATE_SUMMARY_SECONDS: Final = 60.0

DatabaseProbe = Callable[[], Awaitable[str | None]]


@dataclass
class ProcessHealth:
    """Filled in by the runner; read by the HTTP endpoints.

    The database is judged by the SQLite file watch when there is one, else by `probe`
    (a query with a timeout, for PostgreSQL): each returns None or a one-line problem.
    """

    started_at: float = field(default_factory=time.time)
    store: StoreWatch | None = None
    probe: DatabaseProbe | None = None
    send_report: SendReport | None = None
    telegram_conflicts: int = 0
    updates: UpdateStats = field(default_factory=UpdateStats)
    # The worker pool (parsing and tagging; planning in `run` and the clock role), in the
    # processes that have one.
    workers: RespawningPool | None = None
    # Counts read from the database when /metrics is asked for (the outbox backlog, the
    # failing feeds); None where there is no database to ask.
    store_gauges: Callable[[], Awaitable[dict[str, float]]] | None = None

    async def database_problem(self) -> tuple[str, str] | None:
        """None when the database is usable, else (summary, detail)."""
        if self.store is not None:
            detail = self.store.problem
            return None if detail is None else (STORE_LOST, detail)
        if self.probe is not None:
            detail = await self.probe()
            return None if detail is None else (DATABASE_SILENT, detail)
        return None

    async def _store_samples(self) -> list[tuple[str, str, str, float]]:
        if self.store_gauges is None or await self.database_problem() is not None:
            return []
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                values = await self.store_gauges()
        except Exception as error:
            logger.warning("metrics: could not read the database: %s", error)
            return []
        return [
            (f"digestbot_{name}", "gauge", description, values[name])
            for name, description in STORE_GAUGES.items()
            if name in values
        ]

    async def healthz(self) -> tuple[int, dict[str, object]]:
        problem = await self.database_problem()
        body: dict[str, object] = {
            "status": "ok" if problem is None else "failing",
            "database": "ok" if problem is None else problem[0],
            "uptime_seconds": round(time.time() - self.started_at),
        }
        if problem is not None:
            body["detail"] = problem[1]
        return (200 if problem is None else 503), body

    async def metrics(self) -> str:
        store_ok = await self.database_problem() is None
        report = self.send_report or SendReport()
        updates = self.updates
        samples: list[tuple[str, str, str, float]] = [
            ("digestbot_up", "gauge", "The bot process is running.", 1),
            (
                "digestbot_start_time_seconds",
                "gauge",
                "When the process started, in seconds since the Unix epoch.",
                self.started_at,
            ),
            (
                "digestbot_store_ok",
                "gauge",
                "1 while the database is usable; 0 once its file was deleted or replaced.",
                int(store_ok),
            ),
            (
                "digestbot_telegram_conflicts_total",
                "counter",
                "getUpdates answered 409 Conflict: another process uses the bot token.",
                self.telegram_conflicts,
            ),
            (
                "digestbot_worker_restarts_total",
                "counter",
                "Times a worker process (parsing, tagging, planning) died and was replaced.",
                self.workers.restarts if self.workers is not None else 0,
            ),
            (
                "digestbot_messages_sent_total",
                "counter",
                "Messages the outbox sender delivered.",
                report.sent,
            ),
            (
                "digestbot_messages_failed_total",
                "counter",
                "Outbox messages given up on.",
                report.failed,
            ),
            (
                "digestbot_send_rate_limited_total",
                "counter",
                "Times Telegram answered the outbox sender with 429 Too Many Requests.",
                report.rate_limited,
            ),
            (
                "digestbot_updates_handled_total",
                "counter",
                "Updates from Telegram handled without an error.",
                updates.handled,
            ),
            (
                "digestbot_updates_failed_total",
                "counter",
                "Updates whose handling raised an error (the user got an apology).",
                updates.failed,
            ),
            (
                "digestbot_updates_in_progress",
                "gauge",
                "Updates being handled right now (at most UPDATE_CONCURRENCY).",
                updates.in_progress,
            ),
            (
                "digestbot_update_handling_seconds_total",
                "counter",
                "Time spent handling updates, summed.",
                updates.handling_seconds,
            ),
            (
                "digestbot_message_wait_seconds_total",
                "counter",
                "How old messages were when their handling began, summed (queue wait).",
                updates.delay_seconds,
            ),
            (
                "digestbot_messages_received_total",
                "counter",
                "Messages whose wait is counted in digestbot_message_wait_seconds_total.",
                updates.delayed_messages,
            ),
        ]
        samples += await self._store_samples()
        lines: list[str] = []
        for name, kind, description, value in samples:
            lines += [
                f"# HELP {name} {description}",
                f"# TYPE {name} {kind}",
                f"{name} {_number(value)}",
            ]
        return "\n".join(lines) + "\n"


STORE_GAUGES: Final = {
    "outbox_pending": "Digest messages waiting in the outbox to be sent.",
    "feeds_failing": "Active feeds whose last check failed.",
}


def update_summary(before: UpdateStats, after: UpdateStats, seconds: float) -> str | None:
    """One line on the updates between two snapshots of the counts; None when there were
    none."""
    handled = after.handled - before.handled
    failed = after.failed - before.failed
    if handled + failed <= 0:
        return None
    handling = (after.handling_seconds - before.handling_seconds) / (handled + failed)
    line = (
        f"updates in the last {seconds:.0f} s: {handled} handled, {failed} failed, "
        f"{1000 * handling:.0f} ms each on average"
    )
    messages = after.delayed_messages - before.delayed_messages
    if messages > 0:
        waited = (after.delay_seconds - before.delay_seconds) / messages
        line += f", messages waited {1000 * waited:.0f} ms on average before handling"
    return line


async def log_update_summaries(stats: UpdateStats, every: float = UPDATE_SUMMARY_SECONDS) -> None:
    """An INFO line every `every` seconds that saw updates, and one for the last stretch
    when cancelled (aiogram's line for each update is DEBUG: configure_logging)."""
    before, since = replace(stats), time.monotonic()

    def log_since() -> None:
        nonlocal before, since
        now = time.monotonic()
        line = update_summary(before, stats, now - since)
        before, since = replace(stats), now
        if line is not None:
            logger.info(line)

    try:
        while True:
            await asyncio.sleep(every)
            log_since()
    finally:
        log_since()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def database_probe(engine: AsyncEngine, timeout: float = PING_TIMEOUT_SECONDS) -> DatabaseProbe:
    """A `SELECT 1` that must answer within `timeout` seconds."""

    async def probe() -> str | None:
        try:
            async with asyncio.timeout(timeout), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except Exception as error:
            first_line = (str(error).splitlines() or [""])[0]
            return f"{type(error).__name__}: {first_line}"
        return None

    return probe


class HealthServer:
    """`GET /healthz` (200 or 503, JSON) and `GET /metrics` (Prometheus text format)."""

    def __init__(self, health: ProcessHealth, host: str, port: int) -> None:
        self.health = health
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listens; a port that cannot be bound is a configuration error naming the setting."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as error:
            await runner.cleanup()
            reason = error.strerror or str(error)
            raise SettingsError(
                f"METRICS_PORT: cannot listen on {self.host}:{self.port}: {reason}"
            ) from None
        self._runner = runner
        self.port = _bound_port(runner, self.port)
        logger.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        status, body = await self.health.healthz()
        return web.json_response(body, status=status, dumps=_compact_json)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=(await self.health.metrics()).encode(),
            headers={"Content-Type": PROMETHEUS_CONTENT_TYPE},
        )


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
