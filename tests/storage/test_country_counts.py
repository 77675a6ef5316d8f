"""Articles per country per period (for /stats), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from digests.stats import last_weeks
from storage.articles import (
    COUNTRY,
    REGION,
    TOPIC,
    NewArticle,
    TagValue,
    country_counts_by_period,
    insert_article,
    save_tags,
)

THRESHOLD = 0.5
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
EDGES = (START, START + timedelta(weeks=1), START + timedelta(weeks=2))
_numbers = itertools.count(1)


async def _add(
    session: AsyncSession, published: datetime, tags: Iterable[tuple[str, str, float]]
) -> int:
    number = next(_numbers)
    article_id = await insert_article(
        session,
        NewArticle(
            feed_id=None,
            guid=f"g{number}",
            url=f"https://example.ru/{number}",
            title=f"Статья {number}",
            summary="",
            full_text="",
            source="БК55",
            published_at=published,
            content_hash=f"h{number}",
        ),
    )
    assert article_id is not None
    await save_tags(session, article_id, [TagValue(*tag) for tag in tags])
    return article_id


async def test_counts_per_country_and_period(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await _add(session, START, [(COUNTRY, "UZ", 0.9)])
        await _add(session, START + timedelta(days=6, hours=23), [(COUNTRY, "UZ", 0.5)])
        # A period includes its start and not its end.
        await _add(session, EDGES[1], [(COUNTRY, "UZ", 0.7), (COUNTRY, "TJ", 0.8)])
        await _add(session, EDGES[1] + timedelta(days=3), [(COUNTRY, "KZ", 1.0)])
        await session.commit()

        counts = await country_counts_by_period(session, EDGES, threshold=THRESHOLD)

    assert counts == {"UZ": [2, 1], "TJ": [0, 1], "KZ": [0, 1]}


async def test_weak_tags_and_other_kinds_are_not_counted(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    middle = START + timedelta(days=2)
    async with session_factory() as session:
        await _add(session, middle, [(COUNTRY, "UZ", 0.49), (COUNTRY, "KZ", 0.5)])
        await _add(session, middle, [(TOPIC, "UZ", 0.9), (REGION, "TJ", 0.9)])
        await _add(session, middle, [(TOPIC, "agreements", 0.9)])
        await session.commit()

        counts = await country_counts_by_period(session, EDGES, threshold=THRESHOLD)
        strict = await country_counts_by_period(session, EDGES, threshold=0.6)

    assert counts == {"KZ": [1, 0]}
    assert strict == {}


async def test_articles_outside_the_periods_are_not_counted(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await _add(session, START - timedelta(seconds=1), [(COUNTRY, "UZ", 0.9)])
        await _add(session, EDGES[-1], [(COUNTRY, "UZ", 0.9)])
        await _add(session, EDGES[-1] + timedelta(days=30), [(COUNTRY, "UZ", 0.9)])
        await _add(session, START + timedelta(hours=1), [(COUNTRY, "TJ", 0.9)])
        await session.commit()

        counts = await country_counts_by_period(session, EDGES, threshold=THRESHOLD)
        one_period = await country_counts_by_period(session, EDGES[:2], threshold=THRESHOLD)
        none = await country_counts_by_period(session, EDGES[:1], threshold=THRESHOLD)

    assert counts == {"TJ": [1, 0]}
    assert one_period == {"TJ": [1]}
    assert none == {}


async def test_weeks_of_a_chat_in_omsk(session_factory: async_sessionmaker[AsyncSession]) -> None:
    weeks = last_weeks(datetime(2026, 11, 18, 12, 0, tzinfo=UTC), 3, "Asia/Omsk")
    async with session_factory() as session:
        # Monday 16 November 05:30 in Omsk, Sunday night in UTC.
        await _add(session, datetime(2026, 11, 15, 23, 30, tzinfo=UTC), [(COUNTRY, "UZ", 0.9)])
        # Sunday 15 November 23:30 in Omsk.
        await _add(session, datetime(2026, 11, 15, 17, 30, tzinfo=UTC), [(COUNTRY, "UZ", 0.9)])
        # Monday 2 November 01:00 in Omsk, the first moment counted is 00:00.
        await _add(session, datetime(2026, 11, 1, 19, 0, tzinfo=UTC), [(COUNTRY, "UZ", 0.9)])
        await _add(session, datetime(2026, 11, 1, 17, 59, tzinfo=UTC), [(COUNTRY, "UZ", 0.9)])
        await session.commit()

        counts = await country_counts_by_period(session, weeks.edges, threshold=THRESHOLD)

    assert counts == {"UZ": [1, 1, 1]}
