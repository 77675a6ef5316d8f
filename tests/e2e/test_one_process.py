"""One `digestbot run` per SQLite file; another poller on the same token is a warning a
minute, not a traceback; a database file deleted under the running bot is noticed, writes
stop and /healthz says so; new articles are tagged in a worker process that ends with the
bot, however the bot ends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import aiohttp
import pytest

from storage.guard import STORE_LOST
from testing.ports import free_port
from testing.telegram import BotApiEmulator
from tests.e2e.conftest import BotProcess, BotProcessFactory
from tests.support.processes import all_ended, live_processes

pytestmark = pytest.mark.e2e

USER = 556001
NEW_USER = 556002
HELP_HEADING = "Что я умею"
SOMETHING_WENT_WRONG = "Что-то пошло не так с моей стороны. Попробуйте ещё раз через минуту."
CONFLICT_WARNING = "Telegram refused getUpdates with 409"


async def _ask_help(api: BotApiEmulator, chat: int = USER) -> str:
    api.send_user_message(chat, "/help")
    (reply,) = await api.wait_for_reply(chat, 1, timeout=60)
    return reply.plain_text or ""


async def test_a_second_run_on_the_same_database_refuses_to_start(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    first = bot_process()
    first.start()
    assert first.process is not None
    assert (await _ask_help(emulator)).startswith(HELP_HEADING)
    assert f"creating a new empty database at {first.database}" in first.log

    second = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "run"],
        cwd=first.workdir,
        env=first.env,
        capture_output=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert second.stdout == b""
    assert second.stderr.decode().splitlines() == [
        f"digestbot: another digestbot run is already using {first.database} "
        f"(pid {first.process.pid}); stop it first"
    ]
    # The first one never saw a rival poll, and it still answers.
    assert (await _ask_help(emulator)).startswith(HELP_HEADING)
    assert emulator.conflicts == 0
    code, _seconds = await first.stop()
    assert code == 0, first.log[-3000:]


async def test_another_poller_on_the_same_token_is_a_warning_a_minute(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    started = time.monotonic()
    one, other = bot_process(), bot_process(name="elsewhere")
    one.start()
    other.start()
    for process in (one, other):
        await process.wait_for(_warned(process), 90, "the conflict warning")
    # They keep taking turns at Telegram, each conflict a quiet retry.
    conflicts = emulator.conflicts
    await one.wait_for(lambda: emulator.conflicts >= conflicts + 3, 60, "more conflicts")

    minutes = int((time.monotonic() - started) // 60)
    for process in (one, other):
        log = process.log
        assert 1 <= log.count(CONFLICT_WARNING) <= 1 + minutes, log[-3000:]
        assert "stop the other process" in log
        assert "Failed to fetch updates" not in log
        assert "Traceback" not in log
    for process in (one, other):
        code, _seconds = await process.stop()
        assert code == 0, process.log[-3000:]


def _warned(process: BotProcess) -> Callable[[], bool]:
    return lambda: CONFLICT_WARNING in process.log


async def _healthz(port: int) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def _wait_for_status(
    process: BotProcess, port: int, status: int, limit: float
) -> dict[str, object]:
    deadline = time.monotonic() + limit
    while True:
        if not process.running():
            raise AssertionError(f"the bot exited\n{process.log[-3000:]}")
        try:
            seen, body = await _healthz(port)
        except aiohttp.ClientError:
            seen, body = 0, {}
        if seen == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz answered {seen} {body}\n{process.log[-3000:]}")
        await asyncio.sleep(0.2)


async def test_a_deleted_database_file_is_noticed_and_nothing_more_is_written(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    port = free_port()
    process = bot_process(METRICS_PORT=str(port), STORE_CHECK_SECONDS="0.5")
    process.start()
    body = await _wait_for_status(process, port, 200, 60)
    assert body["status"] == "ok" and body["database"] == "ok"
    assert (await _ask_help(emulator)).startswith(HELP_HEADING)
    # Between polls: a poll in flight would fail its feeds one by one as they finish.
    await process.wait_for(lambda: "ingest.pipeline: polled " in process.log, 120, "a poll")

    process.database.unlink()
    body = await _wait_for_status(process, port, 503, 10)
    assert body["status"] == "failing"
    assert body["database"] == STORE_LOST
    assert body["detail"] == f"{process.database} was deleted"

    # Reading still answers; a write (a new chat) is refused politely.
    assert (await _ask_help(emulator)).startswith(HELP_HEADING)
    emulator.send_user_message(NEW_USER, "/start")
    (refused,) = await emulator.wait_for_reply(NEW_USER, 1, timeout=30)
    assert refused.plain_text == SOMETHING_WENT_WRONG
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert "digestbot_store_ok 0" in (await response.text()).splitlines()

    log = process.log
    lost = f"the database file {process.database} was deleted while the bot was running"
    assert log.count(lost) == 1, log[-3000:]
    assert "feed polling, digests and delivery are stopped" in log
    assert "Traceback" not in log
    assert not process.database.exists()
    code, _seconds = await process.stop()
    assert code == 0, process.log[-3000:]

    # A restart says loudly that it starts from nothing.
    again = bot_process(METRICS_PORT=str(port))
    again.start()
    await _wait_for_status(again, port, 200, 60)
    assert (
        f"creating a new empty database at {process.database}, although a bot has run on it"
        in again.log
    )
    code, _seconds = await again.stop()
    assert code == 0


async def test_new_articles_are_tagged_in_a_worker_that_dies_with_the_bot(
    bot_process: BotProcessFactory,
) -> None:
    process = bot_process()
    process.start()
    assert process.process is not None
    await process.wait_for_first_poll()
    assert process.query("SELECT count(*) FROM article_tags")[0][0] > 0

    bot = process.process.pid
    children = {
        pid: command for pid, (parent, command) in live_processes().items() if parent == bot
    }
    workers = [pid for pid, command in children.items() if "spawn_main" in command]
    assert len(workers) == 1, children  # ALL_ROLE_INGEST_PROCESSES

    process.process.kill()  # as the out-of-memory killer would: no shutdown at all
    process.process.wait()
    assert await asyncio.to_thread(all_ended, children.keys(), 30.0)
