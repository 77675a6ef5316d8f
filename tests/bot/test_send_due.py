"""`digestbot digest --send-due` as cron runs it: a real process against a real SQLite file
and the Bot API emulator. With something due it composes and sends it; with nothing to
send it neither loads Telegram's library nor opens a connection to it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import create_engine, create_session_factory, upgrade_database
from testing.telegram import DEFAULT_TOKEN, BotApiEmulator
from tests.delivery.helpers import HEADLINES, SessionFactory, add_article, add_chat
from tests.support.commands import command_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHAT_ID = 4242
# The command in this process's own interpreter, reporting what it imported.
PROBE = """
import json, sys
from bot.cli import main
code = main(["digest", "--send-due"])
print(json.dumps({"code": code, "aiogram": "aiogram" in sys.modules}))
"""


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=DEFAULT_TOKEN) as api:
        yield api


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Path, SessionFactory]]:
    database = tmp_path / "digest.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_database(url)
    engine = create_engine(url)
    yield database, create_session_factory(engine)
    await engine.dispose()


async def send_due(database: Path, api: BotApiEmulator) -> tuple[dict[str, object], str]:
    env = command_environment(
        database,
        PYTHONPATH=str(PROJECT_ROOT),
        BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_URL=api.base_url,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        cwd=database.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


async def test_a_due_digest_is_sent_and_a_second_run_has_nothing_to_send(
    store: tuple[Path, SessionFactory], emulator: BotApiEmulator
) -> None:
    database, sessions = store
    now = datetime.now(UTC)
    await add_chat(sessions, CHAT_ID, countries=("UZ",), next_at=now - timedelta(minutes=1))
    await add_article(
        sessions, HEADLINES[0], countries={"UZ": 0.95}, first_seen_at=now - timedelta(hours=2)
    )

    first, report = await send_due(database, emulator)

    assert first == {"code": 0, "aiogram": True}
    assert "digests 1 (1 messages)" in report
    assert "sent 1," in report
    (digest,) = emulator.messages_for(CHAT_ID)
    assert HEADLINES[0] in (digest.plain_text or "")
    calls = sum(emulator.call_counts.values())

    second, report = await send_due(database, emulator)

    assert second == {"code": 0, "aiogram": False}
    assert "due chats 0" in report and "sent 0," in report
    assert sum(emulator.call_counts.values()) == calls
    assert len(emulator.messages_for(CHAT_ID)) == 1
