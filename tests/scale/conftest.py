"""Several real `digestbot run --role …` processes on one PostgreSQL database.

These tests need TEST_POSTGRES_URL (`bash .ci/postgres.sh` prints one). Outside CI they are
skipped without it; in CI (CI set) a missing server fails them, so that they cannot pass by
not running.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from core.settings import Settings
from testing.telegram import BotApiEmulator
from tests.support.databases import fresh_database, require_postgres

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SETTING_NAMES = frozenset(Settings.model_fields)


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own, dropped afterwards."""
    require_postgres()
    async with fresh_database("postgresql", tmp_path) as url:
        yield url


class Database:
    """Plain SQL on the test's database (asyncpg), to seed rows and read what processes did."""

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None


@pytest.fixture
def database(pg_url: str) -> Database:
    return Database(pg_url)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, rate_limits=False) as api:
        yield api


@dataclass
class RoleProcess:
    """One `python -m bot run --role ROLE` child; its log goes to a file."""

    role: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: Any = field(default=None, repr=False)

    def start(self) -> RoleProcess:
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--role", self.role],
            cwd=self.log_path.parent,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self, limit: float = 15.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.role} did not stop within {limit} s\n{self.log[-3000:]}"
            ) from None

    def close(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait()
        if self._log_file is not None:
            self._log_file.close()

    async def wait_for_log(self, text: str, limit: float = 120.0) -> float:
        """Waits until the log holds `text`; returns the monotonic time it was seen."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if text in self.log:
                return time.monotonic()
            if not self.running():
                raise AssertionError(f"{self.role} exited waiting for {text!r}\n{self.log[-3000:]}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.role}: no {text!r} within {limit} s\n{self.log[-3000:]}")


RoleFactory = Callable[..., RoleProcess]


@pytest.fixture
async def role_process(tmp_path: Path, pg_url: str) -> AsyncIterator[RoleFactory]:
    """Builds role processes on the test's database; keyword arguments become env vars."""
    created: list[RoleProcess] = []
    counter = 0

    def make(role: str, **extra_env: str) -> RoleProcess:
        nonlocal counter
        counter += 1
        inherited = {
            key: value for key, value in os.environ.items() if key.lower() not in SETTING_NAMES
        }
        env = {
            **inherited,
            "PYTHONPATH": str(PROJECT_ROOT),
            "BOT_TOKEN": TOKEN,
            "DATABASE_URL": pg_url,
            "LOG_LEVEL": "INFO",
            "FEEDS_ALLOW_PRIVATE": "1",
            **extra_env,
        }
        process = RoleProcess(role, env, tmp_path / f"{role}-{counter}.log")
        created.append(process)
        return process

    yield make
    for process in created:
        with suppress(Exception):
            process.close()


async def wait_until(condition: Callable[[], Any], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {limit} s waiting for {what}")


CITIES = ("Ташкент", "Самарканд", "Бухара", "Андижан", "Наманган", "Фергана", "Хива")


def feed_xml(base: str, number: int) -> str:
    """A small RSS feed of two items about Omsk and Uzbekistan; texts differ per feed."""
    city = CITIES[number % len(CITIES)]
    published = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    items = []
    for part in (1, 2):
        title = f"Омские аграрии обсудили поставки зерна в {city}: встреча №{number}-{part}"
        text = (
            f"Делегация Омской области провела переговоры с деловыми кругами города {city}. "
            f"Стороны обсудили поставки пшеницы и совместный проект №{number}{part} "
            "по переработке сельхозпродукции в Узбекистане."
        )
        items.append(
            f"<item><title>{title}</title><link>{base}/news/{number}/{part}</link>"
            f"<guid>{base}/news/{number}/{part}</guid><pubDate>{published}</pubDate>"
            f"<description>{text}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Вести Прииртышья {number}</title><link>{base}/</link>"
        f"<description>Новости</description>{''.join(items)}</channel></rss>"
    )


@dataclass
class FeedServer:
    """RSS feeds on 127.0.0.1 that count their fetches and answer once `gate` is set."""

    base: str = ""
    fetches: Counter[int] = field(default_factory=Counter)
    gate: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        server.fetches[number] += 1
        await server.gate.wait()
        await asyncio.sleep(0.05)
        return web.Response(text=feed_xml(server.base, number), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/feed/{number}.xml", feed)
    app.router.add_get("/news/{number}/{part}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base = f"http://{host}:{port}"
    try:
        yield server
    finally:
        server.gate.set()
        await runner.cleanup()
