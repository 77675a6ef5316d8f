"""Facts stored with their articles; one fact from several outlets is one row."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.articles import NewArticle, insert_article
from storage.facts import (
    AGREEMENT,
    FIGURE,
    NewFact,
    agreements_page,
    facts_of_countries,
    figures_of,
    save_facts,
)


async def _article(session: AsyncSession, number: int, source: str) -> int:
    article_id = await insert_article(
        session,
        NewArticle(
            feed_id=None,
            guid=f"g{number}",
            url=f"https://example.ru/{number}",
            title=f"Статья {number}",
            summary="",
            full_text="",
            source=source,
            published_at=datetime(2025, 3, number, 9, tzinfo=UTC),
            content_hash=f"h{number}",
        ),
    )
    assert article_id is not None
    return article_id


def _agreement(key: str, day: date | None, subject: str = "соглашение о сотрудничестве") -> NewFact:
    return NewFact(
        kind=AGREEMENT,
        key=key,
        countries=("UZ",),
        subject=subject,
        parties=("Омская область", "Бухарская область"),
        status="signed",
        day=day,
    )


async def test_one_fact_from_two_outlets_has_two_sources(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first = await _article(session, 1, "БК55")
        second = await _article(session, 2, "Омская правда")
        fact = _agreement("k1", date(2025, 3, 1))
        await save_facts(session, [(first, datetime(2025, 3, 1, tzinfo=UTC), fact)])
        await save_facts(session, [(second, datetime(2025, 3, 2, tzinfo=UTC), fact)])
        await session.commit()
    async with session_factory() as session:
        page, total = await agreements_page(session, "UZ", offset=0, limit=10)
    assert total == 1
    (stored,) = page
    assert [ref.source for ref in stored.sources] == ["БК55", "Омская правда"]
    assert stored.parties == ("Омская область", "Бухарская область")
    assert stored.day == date(2025, 3, 1)


async def test_register_is_newest_first_and_paged(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        article = await _article(session, 3, "БК55")
        await save_facts(
            session,
            [
                (
                    article,
                    datetime(2025, 3, 3, tzinfo=UTC),
                    _agreement(f"k{day}", date(2025, 2, day)),
                )
                for day in range(1, 8)
            ],
        )
        await session.commit()
    async with session_factory() as session:
        first, total = await agreements_page(session, "UZ", offset=0, limit=5)
        second, _total = await agreements_page(session, "UZ", offset=5, limit=5)
        other, none = await agreements_page(session, "KZ", offset=0, limit=5)
    assert total == 7 and none == 0 and other == []
    assert [fact.day for fact in first] == [date(2025, 2, day) for day in (7, 6, 5, 4, 3)]
    assert [fact.day for fact in second] == [date(2025, 2, 2), date(2025, 2, 1)]


async def test_figures_timeline_and_export(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        articles = [await _article(session, number, "БК55") for number in (4, 5)]
        await save_facts(
            session,
            [
                (
                    article_id,
                    datetime(2025, 3, number, tzinfo=UTC),
                    NewFact(
                        kind=FIGURE,
                        key=f"f{number}",
                        countries=("UZ", "KZ"),
                        indicator="export",
                        value=float(number),
                        unit="млн долл.",
                        change=False,
                        period="2024",
                    ),
                )
                for number, article_id in zip((4, 5), articles, strict=True)
            ]
            + [(articles[0], datetime(2025, 3, 4, tzinfo=UTC), _agreement("a1", None))],
        )
        await session.commit()
    async with session_factory() as session:
        timeline = await figures_of(session, "KZ")
        exported = await facts_of_countries(session, ["UZ", "KZ"])
    assert [fact.value for fact in timeline] == [4.0, 5.0]
    assert [fact.kind for fact in exported] == [AGREEMENT, FIGURE, FIGURE]
    assert exported[1].countries == ("UZ", "KZ")
