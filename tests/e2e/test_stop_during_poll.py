"""SIGTERM while a poll is under way: the real `digestbot run` stops at once and cleanly, and
keeps what the poll stored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.e2e.conftest import BotProcessFactory
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import KAZAKH_GRAIN, rss

pytestmark = pytest.mark.e2e


async def test_a_stop_during_a_poll_ends_it_cleanly(
    bot_process: BotProcessFactory, tmp_path: Path
) -> None:
    async with FeedServer() as server:
        # Its page is on this server too (not found there): nothing leaves the machine.
        grain = replace(KAZAKH_GRAIN, link=server.url("/news/grain"))
        server.document("/grain.xml", rss("Омские новости", [grain]))
        server.stall("/slow.xml", 60)
        feeds = tmp_path / "slow-feeds.txt"
        feeds.write_text(
            f"{server.url('/grain.xml')} Омские новости\n{server.url('/slow.xml')} Медленная\n",
            "utf-8",
        )
        process = bot_process(FEEDS_FILE=str(feeds), FEED_TIMEOUT_SECONDS="120")
        process.start()
        await process.wait_for(
            lambda: (
                process.query("SELECT count(*) FROM articles") == [(1,)]
                and server.seen.in_flight == 1
            ),
            60,
            "one feed stored while the other stalls",
        )

        code, seconds = await process.stop()

    log = process.log
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    assert "the clock stopped during a feed poll; the feeds left are due next run" in log
    assert seconds < 20
    assert process.query("SELECT count(*) FROM articles") == [(1,)]
    # The stalled feed was never checked: it is due at the next start.
    assert process.query(
        "SELECT count(*) FROM feeds WHERE url LIKE '%/slow.xml' AND last_checked_at IS NULL"
    ) == [(1,)]
