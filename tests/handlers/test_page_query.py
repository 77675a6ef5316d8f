"""The archive's page query returns what find_articles returns, whichever plan it picks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import articles as article_repo

Sessions = async_sessionmaker[AsyncSession]
COUNTRIES = ("UZ", "TJ", "KZ", "MN")
TOPICS = ("agreements", "trade", "energy")


@pytest.fixture
async def archive(session_factory: Sessions) -> None:
    rng = random.Random(3)
    now = datetime.now(UTC)
    async with session_factory() as session:
        for number in range(120):
            countries = {code: rng.choice((0.3, 0.6, 0.9)) for code in rng.sample(COUNTRIES, 2)}
            if number % 10 == 0:
                countries = {"MN": 0.9}
            topic = rng.choice(TOPICS)
            article_id = await article_repo.insert_article(
                session,
                article_repo.NewArticle(
                    feed_id=None,
                    guid=f"g{number}",
                    url=f"https://example.ru/{number}",
                    title=f"Статья {number}",
                    summary="",
                    full_text="",
                    source="БК55",
                    published_at=now - timedelta(hours=rng.uniform(0, 60 * 24)),
                    content_hash=f"h{number}",
                ),
            )
            assert article_id is not None
            tags = [article_repo.TagValue("country", c, v) for c, v in countries.items()]
            tags.append(article_repo.TagValue("topic", topic, rng.choice((0.4, 0.8))))
            await article_repo.save_tags(session, article_id, tags)
        await session.commit()


CASES = [
    (("UZ",), ("agreements",), None),
    (("MN",), ("energy",), None),
    (("KZ", "TJ"), (), 14),
    (("MN",), (), None),
    (("VN",), (), None),
    ((), ("trade",), 30),
]


@pytest.mark.parametrize("scan_limit", [0, 10**9], ids=["tag-lists", "scan"])
async def test_pages_match_find_articles(
    archive: None, session_factory: Sessions, monkeypatch: pytest.MonkeyPatch, scan_limit: int
) -> None:
    monkeypatch.setattr(article_repo, "PAGE_SCAN_LIMIT", scan_limit)
    for countries, topics, days in CASES:
        since = datetime.now(UTC) - timedelta(days=days) if days else None
        async with session_factory() as session:
            everything = await article_repo.find_articles(
                session, countries=countries, topics=topics, published_since=since, limit=1000
            )
            pages: list[int] = []
            for page in range(30):
                found, more = await article_repo.find_articles_page(
                    session,
                    countries=countries,
                    topics=topics,
                    published_since=since,
                    limit=7,
                    offset=page * 7,
                )
                pages += [article.id for article in found]
                if not more:
                    break
        assert pages == [article.id for article in everything], (countries, topics, days)
        assert bool(pages) == (countries != ("VN",))


async def test_plan_counts_are_read_once_a_minute_and_never_change_the_rows(
    archive: None, session_factory: Sessions
) -> None:
    counts: list[str] = []

    def count_reads(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        flat = " ".join(statement.lower().split())
        if flat.startswith("select max(articles.id)") or (
            "count(*)" in flat and "from article_tags" in flat
        ):
            counts.append(flat)

    async with session_factory() as session:
        assert isinstance(session.bind, AsyncEngine)
        event.listen(session.bind.sync_engine, "before_cursor_execute", count_reads)
        first, _more = await article_repo.find_articles_page(session, countries=["UZ"], limit=5)
        read = len(counts)
        again, _more = await article_repo.find_articles_page(session, countries=["UZ"], limit=5)
        assert read == 2 and len(counts) == read  # max(id) and the UZ count, then nothing
        assert [a.id for a in again] == [a.id for a in first]
        # A newer article is found at once, whatever the kept counts say.
        newest = await article_repo.insert_article(
            session,
            article_repo.NewArticle(
                feed_id=None,
                guid="g-new",
                url="https://example.ru/new",
                title="Новая статья об Узбекистане",
                summary="",
                full_text="",
                source="БК55",
                published_at=datetime.now(UTC) + timedelta(minutes=1),
                content_hash="h-new",
            ),
        )
        assert newest is not None
        await article_repo.save_tags(session, newest, [article_repo.TagValue("country", "UZ", 0.9)])
        latest, _more = await article_repo.find_articles_page(session, countries=["UZ"], limit=5)
        assert latest[0].id == newest
        assert len(counts) == read
