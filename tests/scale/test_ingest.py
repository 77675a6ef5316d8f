"""Two ingest workers over many feeds: every feed is fetched once per interval."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.scale.conftest import Database, FeedServer, RoleFactory, wait_until

FEEDS = 200


async def test_two_workers_fetch_every_feed_once_per_interval(
    tmp_path: Path, database: Database, feed_server: FeedServer, role_process: RoleFactory
) -> None:
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(
        "".join(f"{feed_server.base}/feed/{n}.xml Вести {n}\n" for n in range(FEEDS)), "utf-8"
    )
    settings = {
        "FEEDS_FILE": str(feeds_file),
        "POLL_INTERVAL_MINUTES": "1",
        "FEED_PER_HOST_CONCURRENCY": "16",
        "INGEST_PROCESSES": "1",
    }
    workers = [role_process("ingest", **settings).start() for _ in range(2)]
    for worker in workers:
        await worker.wait_for_log("ingest worker")
    # Both workers hold claims before any feed answers, so both take part.
    await wait_until(lambda: len(feed_server.fetches) >= 24, 30, "both workers to claim feeds")
    feed_server.gate.set()

    async def all_polled() -> bool:
        done = await database.value("SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL")
        return bool(done == FEEDS)

    await wait_until(all_polled, 50, "every feed to be polled once")
    await asyncio.sleep(3)  # the workers keep looking for due feeds meanwhile
    assert sorted(feed_server.fetches) == list(range(FEEDS))
    assert set(feed_server.fetches.values()) == {1}, {
        n: count for n, count in feed_server.fetches.items() if count != 1
    }
    stored = await database.value("SELECT count(*) FROM articles")
    assert stored == 2 * FEEDS
    polled = [
        sum(int(count) for count in re.findall(r"polled (\d+) feeds", worker.log))
        for worker in workers
    ]
    assert sum(polled) == FEEDS and min(polled) > 0, polled
    unclaimed = await database.value("SELECT count(*) FROM feeds WHERE claimed_until IS NULL")
    assert unclaimed == FEEDS
    for worker in workers:
        assert await worker.stop() == 0
