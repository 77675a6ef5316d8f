"""Two `digestbot run` (`--role all`) processes on one PostgreSQL database: one clock
between them, every feed fetched once per interval, one digest per chat."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testing.ports import free_port
from testing.telegram import BotApiEmulator
from tests.scale.conftest import Database, FeedServer, RoleFactory, wait_until
from tests.scale.seed import subscribed_chats
from tests.scale.test_clock import digests_per_chat

FEEDS = 60
CHATS = range(5_007_001, 5_007_031)
ACTIVE = "is the active clock"


def polled_feeds(log: str) -> int:
    return sum(int(count) for count in re.findall(r"polled (\d+) feeds", log))


async def test_two_all_processes_share_one_clock_and_the_feeds(
    tmp_path: Path,
    database: Database,
    pg_url: str,
    emulator: BotApiEmulator,
    feed_server: FeedServer,
    role_process: RoleFactory,
) -> None:
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(
        "".join(f"{feed_server.base}/feed/{n}.xml Вести {n}\n" for n in range(FEEDS)), "utf-8"
    )
    await subscribed_chats(pg_url, CHATS, due_at=datetime.now(UTC) - timedelta(minutes=1))
    ports = [free_port(), free_port()]
    settings = {
        "TELEGRAM_API_URL": emulator.base_url,
        # Updates reach the processes through a proxy in production; none are sent here.
        "WEBHOOK_URL": f"http://127.0.0.1:{ports[0]}",
        "WEBHOOK_HOST": "127.0.0.1",
        "FEEDS_FILE": str(feeds_file),
        "POLL_INTERVAL_MINUTES": "1",
        "FEED_CONCURRENCY": "10",
        "FEED_PER_HOST_CONCURRENCY": "10",
        "DIGEST_CHECK_SECONDS": "1",
    }
    processes = [role_process("all", WEBHOOK_PORT=str(port), **settings) for port in ports]
    for process in processes:
        process.start()
        await process.wait_for_log("bot started")
    # Both processes hold claims before any feed answers, so both take part in polling.
    await wait_until(lambda: len(feed_server.fetches) >= 20, 30, "both processes to claim feeds")
    feed_server.gate.set()

    async def all_polled() -> bool:
        done = await database.value("SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL")
        return bool(done == FEEDS)

    async def all_queued() -> bool:
        return len(await digests_per_chat(database, CHATS)) == len(CHATS)

    await wait_until(all_polled, 40, "every feed to be polled once")
    await wait_until(all_queued, 30, "every chat's digest")
    for chat in CHATS:
        await emulator.wait_for_messages(chat, 1, timeout=30)
    # Several more clock ticks and poller rounds (feeds fall due again after 54-60 s).
    await asyncio.sleep(6)

    logs = [process.log for process in processes]
    assert sum(log.count(ACTIVE) for log in logs) == 1, [log[-2000:] for log in logs]
    leader, standby = (0, 1) if ACTIVE in logs[0] else (1, 0)
    assert "stands by" in logs[standby]
    assert sorted(feed_server.fetches) == list(range(FEEDS))
    assert set(feed_server.fetches.values()) == {1}, {
        n: count for n, count in feed_server.fetches.items() if count != 1
    }
    polled = [polled_feeds(log) for log in logs]
    assert sum(polled) == FEEDS and min(polled) > 0, polled
    assert await database.value("SELECT count(*) FROM articles") == 2 * FEEDS
    per_chat = await digests_per_chat(database, CHATS)
    assert set(per_chat.values()) == {1}, per_chat
    for chat in CHATS:
        assert len(emulator.messages_for(chat)) == 1

    # The clock's process dies: the other one takes the clock over; still one digest a chat.
    processes[leader].kill()
    await processes[standby].wait_for_log(ACTIVE, limit=40)
    await asyncio.sleep(3)
    assert set((await digests_per_chat(database, CHATS)).values()) == {1}
    assert await processes[standby].stop() == 0
