"""The running poller, as an operator starts it, reaches no private address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BotProcessFactory
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import KAZAKH_GRAIN, rss

pytestmark = pytest.mark.e2e


@pytest.fixture
async def local_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
        yield server


async def test_feeds_on_private_addresses_are_refused_without_the_setting(
    bot_process: BotProcessFactory, local_server: FeedServer, tmp_path: Path
) -> None:
    port = local_server.base.rsplit(":", 1)[1]
    feeds_file = tmp_path / "private-feeds.txt"
    feeds_file.write_text(
        f"{local_server.url('/feed.xml')} Loopback\nhttp://localhost:{port}/feed.xml Localhost\n",
        "utf-8",
    )
    # An empty value, as in a .env copied from .env.example, means the default: refuse.
    process = bot_process(FEEDS_ALLOW_PRIVATE="", FEEDS_FILE=str(feeds_file))
    process.start()

    def both_failed() -> bool:
        rows = process.query("SELECT count(*) FROM feeds WHERE consecutive_failures > 0")
        return bool(rows) and rows[0][0] == 2

    await process.wait_for(both_failed, 60, "both private feeds to be refused")
    errors = [row[0] for row in process.query("SELECT last_error FROM feeds ORDER BY id")]
    assert errors[0] == "refusing non-public address 127.0.0.1"
    assert errors[1].startswith("refusing non-public address: localhost resolves to non-public")
    assert process.query("SELECT count(*) FROM articles") == [(0,)]
    assert local_server.seen.hits["/feed.xml"] == 0
    assert "refused http://127.0.0.1" in process.log
    code, _seconds = await process.stop()
    assert code == 0
