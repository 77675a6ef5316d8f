"""/healthz and /metrics on a real port, the settings behind them, and the warning for
Telegram's 409 Conflict when another process polls with the same token."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import GetUpdates
from sqlalchemy import event

from bot.conflict_watch import PollingConflictWatch
from bot.health import (
    DATABASE_SILENT,
    PROMETHEUS_CONTENT_TYPE,
    HealthServer,
    ProcessHealth,
    database_probe,
)
from core.metrics import SendReport
from core.processes import RespawningPool, spawn_pool
from core.settings import SettingsError, load_settings
from storage.db import create_engine
from storage.guard import STORE_LOST, StoreWatch
from testing.telegram import BotApiEmulator

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper() in {"METRICS_PORT", "METRICS_HOST", "STORE_CHECK_SECONDS"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_metrics_settings_default_to_no_server_on_loopback() -> None:
    settings = load_settings()
    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1"
    assert 0 < settings.store_check_seconds <= 30


def test_an_empty_metrics_port_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "")
    assert load_settings().metrics_port is None
    monkeypatch.setenv("METRICS_PORT", "9100")
    assert load_settings().metrics_port == 9100


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_PORT", "0"),
        ("METRICS_PORT", "65536"),
        ("METRICS_PORT", "http"),
        ("STORE_CHECK_SECONDS", "0"),
        ("STORE_CHECK_SECONDS", "31"),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load_settings()


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Path, HealthServer]]:
    path = tmp_path / "digest.db"
    path.write_bytes(b"")
    health = ProcessHealth(store=StoreWatch(path), send_report=SendReport(sent=7, failed=2))
    server = HealthServer(health, "127.0.0.1", 0)
    await server.start()
    try:
        yield path, server
    finally:
        await server.stop()


async def _get(server: HealthServer, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{server.port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def test_healthz_is_ok_until_the_database_file_is_deleted(
    watched: tuple[Path, HealthServer],
) -> None:
    path, server = watched
    assert server.port > 0
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{server.port}/healthz") as response:
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "ok"
        assert body["database"] == "ok"

        path.unlink()
        assert server.health.store is not None
        assert not server.health.store.check()
        async with client.get(f"http://127.0.0.1:{server.port}/healthz") as response:
            assert response.status == 503
            body = await response.json()
    assert body["status"] == "failing"
    assert body["database"] == STORE_LOST
    assert body["detail"] == f"{path} was deleted"


async def test_metrics_in_prometheus_text_format(watched: tuple[Path, HealthServer]) -> None:
    path, server = watched
    status, content_type, before = await _get(server, "/metrics")
    assert status == 200
    assert content_type == PROMETHEUS_CONTENT_TYPE
    samples = _samples(before)
    assert samples["digestbot_up"] == 1
    assert samples["digestbot_store_ok"] == 1
    assert samples["digestbot_telegram_conflicts_total"] == 0
    assert samples["digestbot_worker_restarts_total"] == 0
    assert samples["digestbot_messages_sent_total"] == 7
    assert samples["digestbot_messages_failed_total"] == 2
    assert samples["digestbot_start_time_seconds"] == pytest.approx(server.health.started_at)
    assert "# TYPE digestbot_messages_sent_total counter" in before.splitlines()

    path.unlink()
    assert server.health.store is not None
    server.health.store.check()
    _, _, after = await _get(server, "/metrics")
    assert _samples(after)["digestbot_store_ok"] == 0


def _samples(exposition: str) -> dict[str, float]:
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split(" ")
            samples[name] = float(value)
    return samples


async def test_a_port_in_use_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(ProcessHealth(), "127.0.0.1", port)
        expected = f"^METRICS_PORT: cannot listen on 127.0.0.1:{port}: "
        with pytest.raises(SettingsError, match=expected):
            await server.start()


async def test_without_a_file_watch_the_database_is_asked(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}")
    try:
        assert await database_probe(engine)() is None
    finally:
        await engine.dispose()

    def unreachable(*_args: object) -> None:
        raise ConnectionRefusedError("connection refused\nsecond line")

    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}")
    event.listen(broken.sync_engine, "do_connect", unreachable)
    try:
        health = ProcessHealth(probe=database_probe(broken))
        status, body = await health.healthz()
    finally:
        await broken.dispose()
    assert status == 503
    assert body["status"] == "failing"
    assert body["database"] == DATABASE_SILENT
    assert body["detail"] == "ConnectionRefusedError: connection refused"


async def test_a_polling_conflict_is_one_warning_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    health = ProcessHealth()
    watch = PollingConflictWatch(health, retry_after=0, clock=lambda: now[0])
    async with BotApiEmulator(token=TOKEN, rate_limits=False) as api:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        bot.session.middleware(watch)
        try:
            with caplog.at_level(logging.WARNING):
                for round_number in range(1, 4):
                    assert await _conflicting_poll(api, bot, round_number) == []
                    now[0] += 20.0
                assert health.telegram_conflicts == 3
                assert len([r for r in caplog.records if r.name == "bot.conflict_watch"]) == 1
                now[0] += 60.0
                assert await _conflicting_poll(api, bot, 4) == []
        finally:
            await bot.session.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.conflict_watch"]
    assert len(warnings) == 2
    assert "409 (Conflict: terminated by other getUpdates request" in warnings[0]
    assert "stop the other process" in warnings[0]
    assert not [r for r in caplog.records if r.name == "aiogram.dispatcher"]


async def _conflicting_poll(api: BotApiEmulator, bot: Bot, round_number: int) -> object:
    """The bot's long poll, cut short by another client polling with the same token."""
    polling = asyncio.create_task(bot(GetUpdates(timeout=30)))
    async with asyncio.timeout(10):
        # The emulator counts a call on arrival; its waiters wake only when calls end.
        while True:
            if api.call_counts["getUpdates"] >= 2 * round_number - 1:
                break
            await asyncio.sleep(0.01)
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{api.base_url}/bot{TOKEN}/getUpdates", params={"timeout": "0"}) as answer,
    ):
        assert answer.status == 200
    return await asyncio.wait_for(polling, timeout=10)


async def test_worker_restarts_are_counted(watched: tuple[Path, HealthServer]) -> None:
    _, server = watched
    # Every process of this pool dies as it starts, as one the out-of-memory killer ends.
    dying = RespawningPool(lambda: spawn_pool(1, os._exit, (1,)), "test worker")
    server.health.workers = dying
    try:
        for _ in range(3):
            with pytest.raises(BrokenProcessPool):
                dying.submit(os.getpid).result(timeout=60)
    finally:
        dying.shutdown()
    _, _, exposition = await _get(server, "/metrics")
    # The first call broke the pool it was given; each later one found it broken.
    assert _samples(exposition)["digestbot_worker_restarts_total"] == 2
