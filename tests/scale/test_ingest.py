"""Two ingest workers over many feeds: every feed is fetched once per interval."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from tests.scale.conftest import Database, RoleFactory, wait_until

FEEDS = 200
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
