"""`digestbot demo`: the whole pipeline offline, on feeds bundled with the package."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from aiohttp import web

from bot.errors import CommandError
from bot.wiring import ingest_config
from core.settings import Settings
from digests.compose import compose_digest
from digests.facts import fact_date
from digests.model import Subscription
from digests.render import render_plain
from ingest.config import IngestConfig
from ingest.pipeline import IngestPipeline
from ingest.report import format_outcomes_table
from ingest.urls import origin_of
from storage import articles as article_repo
from storage import facts as fact_repo
from storage import feeds as feed_repo
from storage.db import create_engine, create_session_factory, upgrade_database

DEMO_COUNTRIES = frozenset({"UZ", "TJ"})
BASE_PLACEHOLDER = "{BASE}"


@dataclass(frozen=True, slots=True)
class DemoFeed:
    file: str
    title: str
    fetch_full_text: bool


def demo_feeds() -> list[DemoFeed]:
    manifest = json.loads((resources.files("bot.demo") / "manifest.json").read_text("utf-8"))
    return [
        DemoFeed(item["file"], item["title"], bool(item.get("fetch_full_text", False)))
        for item in manifest["feeds"]
    ]


def _content_type(name: str) -> str:
    return "text/html; charset=utf-8" if name.endswith(".html") else "application/rss+xml"


@asynccontextmanager
async def serve_demo_feeds(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serves bot/demo/feeds and bot/demo/pages with {BASE} replaced; yields the base URL."""
    root = resources.files("bot.demo")
    base_holder: dict[str, str] = {}

    async def handle(request: web.Request) -> web.Response:
        folder, name = request.match_info["folder"], request.match_info["name"]
        resource = root / folder / name
        if folder not in {"feeds", "pages"} or "/" in name or not resource.is_file():
            raise web.HTTPNotFound()
        body = resource.read_bytes().replace(
            BASE_PLACEHOLDER.encode("ascii"), base_holder["base"].encode("ascii")
        )
        return web.Response(body=body, headers={"Content-Type": _content_type(name)})

    app = web.Application()
    app.router.add_get("/{folder}/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base_holder["base"] = f"http://{host}:{bound_port}"
    try:
        yield base_holder["base"]
    finally:
        await runner.cleanup()


async def run_demo(settings: Settings, *, keep: Path | None = None) -> int:
    """Raises CommandError when `keep` names anything that exists: the demo never
    replaces a file, least of all a real database."""
    if keep is not None:
        _refuse_existing(keep)
    from delivery.labels import digest_labels
    from delivery.planner import topic_order
    from delivery.window import to_digest_article
    from tagging import Tagger

    with tempfile.TemporaryDirectory(prefix="digestbot-demo-") as workdir:
        database = keep or Path(workdir) / "demo.db"
        url = f"sqlite+aiosqlite:///{database}"
        await upgrade_database(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        try:
            tagger = await asyncio.to_thread(Tagger, settings.tag_threshold)
            async with serve_demo_feeds() as base:
                async with session_factory() as session:
                    for feed in demo_feeds():
                        await feed_repo.add_feed(
                            session,
                            f"{base}/feeds/{feed.file}",
                            title=feed.title,
                            fetch_full_text=feed.fetch_full_text,
                        )
                    await session.commit()
                pipeline = IngestPipeline(
                    session_factory, tagger, demo_ingest_config(settings, base)
                )
                started = time.perf_counter()
                outcomes = await pipeline.run_once(due_only=False)
                elapsed = time.perf_counter() - started
            print(format_outcomes_table(outcomes))
            print(f"Ingested and tagged in {elapsed:.2f} s\n")

            async with session_factory() as session:
                stored = await article_repo.find_articles(session, limit=100_000)
                counts = await article_repo.tag_counts(session, threshold=settings.tag_threshold)
                register = {
                    code: (await fact_repo.agreements_page(session, code, offset=0, limit=5))[0]
                    for code in sorted(DEMO_COUNTRIES)
                }
            labels = digest_labels("ru")
            subscription = Subscription(
                countries=DEMO_COUNTRIES,
                topics=frozenset(),
                threshold=settings.tag_threshold,
                language="ru",
                timezone=settings.default_timezone,
                topic_order=topic_order(),
            )

            digest = compose_digest(
                [to_digest_article(article) for article in stored],
                subscription,
                since=None,
                already_sent=(),
            )
            today = datetime.now(UTC).date()
            print("Digest for a subscriber to Uzbekistan and Tajikistan:\n")
            print(render_plain(digest, labels, tz=settings.default_timezone, date=today))
            print()
            print(format_register(register, settings.default_timezone))
            print()
            print(format_count_table(counts, len(stored)))
        finally:
            await engine.dispose()
    return 0


def demo_ingest_config(settings: Settings, base: str) -> IngestConfig:
    """The demo may fetch from its own server on 127.0.0.1 and from nowhere else private,
    whatever FEEDS_ALLOW_PRIVATE says."""
    return replace(
        ingest_config(settings),
        allow_private_addresses=False,
        private_origins=frozenset({origin_of(base)}),
    )


def _refuse_existing(path: Path) -> None:
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))):
        if candidate.exists() or candidate.is_symlink():
            raise CommandError(
                f"--keep {path}: {candidate} already exists; "
                "give a new path (the demo never replaces a file)"
            )
    if not path.parent.is_dir():
        raise CommandError(f"--keep {path}: no such directory: {path.parent}")


def format_register(register: dict[str, list[fact_repo.StoredFact]], tz: str) -> str:
    """Соглашения: the agreements extracted from the demo feeds, per country; dates of first
    reports in zone `tz`."""
    from delivery.labels import fact_texts

    texts = fact_texts("ru")
    lines = ["Соглашения (извлечены из статей):"]
    for code, facts in register.items():
        for fact in facts:
            when = fact_date(fact, texts, tz)
            status = "подписано" if fact.status == "signed" else "планируется"
            sources = ", ".join(ref.source for ref in fact.sources)
            parties = "; ".join(fact.parties) or "—"
            lines.append(f"{code} · {when} — {parties} — {fact.subject} — {status} — {sources}")
    if len(lines) == 1:
        lines.append("нет")
    return "\n".join(lines)


def format_count_table(counts: dict[tuple[str, str], int], total: int) -> str:
    """Countries × topics: how many stored articles carry both tags."""
    from tagging import topics

    topic_ids = [topic.id for topic in topics()]
    countries = sorted({country for country, _ in counts})
    short = {topic_id: topic_id[:5] for topic_id in topic_ids}
    header = "country " + " ".join(f"{short[t]:>5}" for t in topic_ids) + "    sum"
    lines = [f"Articles per country and topic ({total} articles stored):", header]
    for country in countries:
        row = [counts.get((country, topic_id), 0) for topic_id in topic_ids]
        cells = " ".join(f"{n:>5}" if n else f"{'.':>5}" for n in row)
        lines.append(f"{country:<7} {cells}  {sum(row):>5}")
    legend = ", ".join(f"{short[t]}={t}" for t in topic_ids)
    lines.append(f"({legend})")
    return "\n".join(lines)
