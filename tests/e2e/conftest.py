"""The real `digestbot run` process against a local Bot API emulator and demo feed server."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.demo_runner import demo_feeds, serve_demo_feeds
from core.settings import Settings
from testing.telegram import BotApiEmulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
E2E_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
E2E_ADMIN_ID = 900001
# The bot's own settings never leak in from the environment running the tests.
SETTING_NAMES = frozenset(Settings.model_fields)


@dataclass
class BotProcess:
    """One `python -m bot run` child process; its log goes to a file for failures."""

    env: dict[str, str]
    workdir: Path
    database: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: Any = field(default=None, repr=False)

    def start(self) -> None:
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.workdir,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def stop(self, sig: int = signal.SIGTERM, limit: float = 30.0) -> tuple[int, float]:
        """Sends `sig` and waits up to `limit` seconds; returns the exit code and the time
        it took. `limit` only guards against a process that hangs: the suite's workers share
        the machine, so a test about how fast the bot stops asserts on the time returned."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = await asyncio.to_thread(self.process.wait, limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the bot did not stop within {limit} s\n{self.log[-3000:]}"
            ) from None
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._log_file is not None:
            self._log_file.close()

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Reads the bot's database (WAL lets the test read while the bot writes)."""
        if not self.database.exists():
            return []
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return list(connection.execute(sql, parameters))
        except sqlite3.OperationalError:
            return []
        finally:
            connection.close()

    async def wait_for(self, condition: Callable[[], bool], limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"the bot exited while waiting for {what}\n{self.log[-3000:]}")
            if condition():
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.log[-3000:]}")

    async def wait_for_first_poll(self, limit: float = 120.0) -> None:
        """Every configured feed has been fetched once and articles are stored."""

        def polled() -> bool:
            feeds = self.query("SELECT count(*), count(last_checked_at) FROM feeds")
            articles = self.query("SELECT count(*) FROM articles")
            return bool(
                feeds and feeds[0][0] > 0 and feeds[0][0] == feeds[0][1] and articles[0][0] > 0
            )

        await self.wait_for(polled, limit, "the first feed poll")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=E2E_TOKEN, rate_limits=False) as api:
        yield api


@pytest.fixture
async def demo_feed_base() -> AsyncIterator[str]:
    async with serve_demo_feeds() as base:
        yield base


@pytest.fixture
def feeds_file(tmp_path: Path, demo_feed_base: str) -> Path:
    path = tmp_path / "feeds.txt"
    lines = [f"{demo_feed_base}/feeds/{feed.file} {feed.title}" for feed in demo_feeds()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


BotProcessFactory = Callable[..., BotProcess]


@pytest.fixture
async def bot_process(
    tmp_path: Path, emulator: BotApiEmulator, feeds_file: Path
) -> AsyncIterator[BotProcessFactory]:
    """Builds (not yet started) bot processes; extra keyword arguments become env vars.
    Processes share a database and a log unless given another `name`."""
    created: list[BotProcess] = []

    def make(name: str = "e2e", **extra_env: str) -> BotProcess:
        database = tmp_path / f"{name}.db"
        workdir = tmp_path / "work"
        workdir.mkdir(exist_ok=True)
        inherited = {
            key: value for key, value in os.environ.items() if key.lower() not in SETTING_NAMES
        }
        env: Mapping[str, str] = {
            **inherited,
            "PYTHONPATH": str(PROJECT_ROOT),
            "BOT_TOKEN": E2E_TOKEN,
            "TELEGRAM_API_URL": emulator.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "FEEDS_FILE": str(feeds_file),
            "ADMIN_IDS": str(E2E_ADMIN_ID),
            "POLL_INTERVAL_MINUTES": "1",
            "LOG_LEVEL": "INFO",
            "FEEDS_ALLOW_PRIVATE": "1",
            **extra_env,
        }
        process = BotProcess(
            env=dict(env),
            workdir=workdir,
            database=database,
            log_path=tmp_path / ("bot.log" if name == "e2e" else f"{name}.log"),
        )
        created.append(process)
        return process

    yield make
    for process in created:
        with suppress(Exception):
            process.close()
