"""`digestbot run --role …`: each role runs its own part only; SQLite refuses the roles."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from testing.ports import free_port
from testing.telegram import BotApiEmulator
from tests.scale.conftest import PROJECT_ROOT, TOKEN, Database, RoleFactory, wait_until
from tests.scale.seed import subscribed_chats
from tests.support.processes import live_processes

CHAT = 5_002_001


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "BOT_TOKEN": TOKEN, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_role_on_sqlite_is_refused_with_one_line(tmp_path: Path) -> None:
    for role in ("bot", "ingest", "sender", "clock"):
        result = run_cli(
            tmp_path,
            "run",
            "--role",
            role,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"--role {role}" in lines[0] and "PostgreSQL" in lines[0]
    assert not (tmp_path / "bot.db").exists()


def test_send_rate_above_telegrams_free_limit_needs_paid_broadcast(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", SEND_RATE="100", DATABASE_URL="sqlite+aiosqlite:///x.db")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "digestbot: SEND_RATE: at most 30 messages a second, up to 1000 with PAID_BROADCAST=1 "
        "(paid broadcasts)"
    ]
    result = run_cli(
        tmp_path, "run", SEND_RATE="1500", PAID_BROADCAST="1", DATABASE_URL="sqlite+aiosqlite:///x"
    )
    assert result.returncode == 2
    assert "SEND_RATE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


async def healthy(port: int) -> bool:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status == 200


async def test_each_role_runs_its_own_part_only(
    pg_url: str, database: Database, emulator: BotApiEmulator, role_process: RoleFactory
) -> None:
    api = {"TELEGRAM_API_URL": emulator.base_url, "DIGEST_CHECK_SECONDS": "1"}
    await subscribed_chats(pg_url, [CHAT], due_at=datetime.now(UTC) - timedelta(minutes=1))

    clock_port = free_port()
    clock = role_process("clock", METRICS_PORT=str(clock_port), **api).start()
    await clock.wait_for_log("is the active clock")

    async def queued() -> bool:
        return await database.value("SELECT count(*) FROM outbox WHERE chat_id = $1", CHAT) == 1

    await wait_until(queued, 30, "the clock to queue the digest")
    assert await healthy(clock_port)
    # The clock queues; it neither talks to Telegram nor sends.
    assert sum(emulator.call_counts.values()) == 0
    assert await database.value("SELECT status FROM outbox WHERE chat_id = $1", CHAT) == "pending"

    sender_port = free_port()
    sender = role_process("sender", METRICS_PORT=str(sender_port), **api).start()
    await emulator.wait_for_messages(CHAT, 1, timeout=30)
    assert await healthy(sender_port)
    assert emulator.call_counts.get("getUpdates", 0) == 0
    assert "feed" not in sender.log.lower()

    bot_port = free_port()
    bot = role_process("bot", METRICS_PORT=str(bot_port), **api).start()
    await wait_until(lambda: emulator.call_counts.get("getUpdates", 0) > 0, 30, "polling")
    assert await healthy(bot_port)
    assert len(emulator.messages_for(CHAT)) == 1
    for process in (bot, sender, clock):
        assert await process.stop() == 0


async def test_a_clock_with_plan_processes_plans_in_worker_processes(
    pg_url: str, database: Database, emulator: BotApiEmulator, role_process: RoleFactory
) -> None:
    await subscribed_chats(pg_url, [CHAT], due_at=datetime.now(UTC) - timedelta(minutes=1))
    clock = role_process(
        "clock",
        TELEGRAM_API_URL=emulator.base_url,
        DIGEST_CHECK_SECONDS="1",
        PLAN_PROCESSES="2",
    ).start()
    await clock.wait_for_log("is the active clock")

    async def queued() -> bool:
        return await database.value("SELECT count(*) FROM outbox WHERE chat_id = $1", CHAT) == 1

    await wait_until(queued, 60, "the clock to queue the digest")
    workers = [
        pid
        for pid, (parent, command) in live_processes().items()
        if parent == clock.pid and "spawn_main" in command
    ]
    # Processes start as work comes: one batch needed one.
    assert len(workers) == 1, live_processes()
    assert await clock.stop() == 0
