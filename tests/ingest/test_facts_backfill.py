"""Facts for articles stored before facts existed, and again when the extractor improves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.facts_backfill import backfill, new_facts
from ingest.workers import create_ingest_pool
from storage import articles as article_repo
from storage.articles import NewArticle, TagValue
from storage.facts import (
    FIGURE,
    NewFact,
    agreements_page,
    articles_needing_facts,
    count_articles_needing_facts,
    figures_of,
    save_facts,
)
from storage.models import Article, Fact, FactSource
from tagging.facts import FACTS_VERSION

# Two outlets report one agreement and one figure; a third article names no partner.
STORIES = (
    (
        "Омская область и Кыргызстан подписали соглашение",
        "Сегодня губернатор Омской области и полпред правительства Кыргызской Республики в "
        "Чуйской области подписали соглашение о торгово-экономическом сотрудничестве. "
        "По итогам 2024 года товарооборот региона с Кыргызстаном вырос на 17,2 %.",
        "БК55",
        ("KG",),
    ),
    (
        "Омск и Чуйская область договорились о торговле",
        "Соглашение о торгово-экономическом сотрудничестве подписали сегодня в Омске "
        "губернатор области и полпред правительства Киргизии в Чуйской области. Товарооборот "
        "Омской области с Кыргызстаном по итогам 2024 года вырос на 17,2 процента.",
        "Омская правда",
        ("KG",),
    ),
    (
        "В Омске открыли новый парк",
        "В Кировском округе открыли парк площадью 12 гектаров; на работы потратили 40 млн рублей.",
        "Омск-информ",
        (),
    ),
)


async def _stored_article(
    session: AsyncSession,
    name: str,
    story: tuple[str, str, str],
    published_at: datetime,
    countries: tuple[str, ...],
) -> int:
    """An article with its country tags, as the pipeline stores it before facts."""
    title, text, source = story
    article_id = await article_repo.insert_article(
        session,
        NewArticle(
            feed_id=None,
            guid=name,
            url=f"https://outlet.example/news/{name}",
            title=title,
            summary="",
            full_text=text,
            source=source,
            published_at=published_at,
            content_hash=f"hash-{name}",
        ),
    )
    assert article_id is not None
    await article_repo.save_tags(
        session, article_id, [TagValue(article_repo.COUNTRY, code, 0.9) for code in countries]
    )
    return article_id


async def _store_without_facts(session_factory: async_sessionmaker[AsyncSession]) -> list[int]:
    """Articles as an older version of the bot stored them: tags, no facts, no version."""
    ids: list[int] = []
    async with session_factory() as session:
        for number, (title, text, source, countries) in enumerate(STORIES, start=1):
            published_at = datetime(2025, 5, 15, 7 + number, tzinfo=UTC)
            story = (title, text, source)
            ids.append(await _stored_article(session, f"g{number}", story, published_at, countries))
        await session.commit()
    return ids


async def _counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        facts = await session.scalar(select(func.count()).select_from(Fact))
        sources = await session.scalar(select(func.count()).select_from(FactSource))
    return int(facts or 0), int(sources or 0)


async def test_backfill_gives_stored_articles_their_facts_merged_across_outlets(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _store_without_facts(session_factory)
    async with session_factory() as session:
        assert await count_articles_needing_facts(session, FACTS_VERSION) == 3
        assert (await agreements_page(session, "KG", offset=0, limit=10))[1] == 0

    result = await backfill(session_factory, batch_size=2)

    assert result.articles == 3
    async with session_factory() as session:
        register, total = await agreements_page(session, "KG", offset=0, limit=10)
        figures = await figures_of(session, "KG")
        assert await count_articles_needing_facts(session, FACTS_VERSION) == 0
    assert total == 1
    (agreement,) = register
    assert agreement.subject.lower() == "соглашение о торгово-экономическом сотрудничестве"
    assert sorted(ref.source for ref in agreement.sources) == ["БК55", "Омская правда"]
    (figure,) = figures
    assert (figure.indicator, figure.value, figure.change) == ("trade_turnover", 17.2, True)
    assert len(figure.sources) == 2
    stored = await _counts(session_factory)
    assert stored == (2, 4)

    # A second run finds nothing to do and changes nothing.
    again = await backfill(session_factory)
    assert again.articles == 0
    assert await _counts(session_factory) == stored


async def test_a_newer_extractor_replaces_the_facts_of_older_articles(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _store_without_facts(session_factory)
    await backfill(session_factory)
    async with session_factory() as session:
        # What an older extractor left: a figure the rules no longer find, a rough party.
        await save_facts(
            session,
            [
                (
                    ids[0],
                    datetime(2025, 5, 15, tzinfo=UTC),
                    NewFact(
                        kind=FIGURE,
                        key="stale-figure",
                        countries=("KG",),
                        indicator="export",
                        value=12.0,
                        unit="%",
                        change=True,
                    ),
                )
            ],
        )
        await session.execute(update(Fact).values(parties="губернатором Омской области"))
        await session.commit()
        assert await count_articles_needing_facts(session, FACTS_VERSION) == 0
        assert await count_articles_needing_facts(session, FACTS_VERSION + 1) == 3

    result = await backfill(session_factory, version=FACTS_VERSION + 1)

    assert result.articles == 3
    assert await _counts(session_factory) == (2, 4)  # the stale figure is gone
    async with session_factory() as session:
        (agreement,), _ = await agreements_page(session, "KG", offset=0, limit=10)
        versions = set(await session.scalars(select(Article.facts_version)))
        figures = await figures_of(session, "KG")
    assert "губернатором Омской области" not in agreement.parties
    assert [f.value for f in figures] == [17.2]
    assert versions == {FACTS_VERSION + 1}
    assert (await backfill(session_factory, version=FACTS_VERSION + 1)).articles == 0


async def test_the_backfill_in_worker_processes_stores_what_a_thread_does(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _store_without_facts(session_factory)
    pool = create_ingest_pool(0.5, processes=1)
    try:
        result = await backfill(session_factory, batch_size=2, executor=pool)
    finally:
        pool.shutdown(cancel_futures=True)

    assert result.articles == 3
    assert await _counts(session_factory) == (2, 4)
    async with session_factory() as session:
        (figure,) = await figures_of(session, "KG")
    assert (figure.indicator, figure.value, figure.change) == ("trade_turnover", 17.2, True)


# One agreement in two outlets' words: the register of version 3 listed it twice.
SOGD_REPORTS = (
    (
        "Омская область и Таджикистан договорились о сотрудничестве",
        "В Омске губернатор области и председатель Согдийской области Таджикистана подписали "
        "соглашение о сотрудничестве. Стороны намерены нарастить поставки зерна и открыть "
        "прямой грузовой маршрут до Худжанда.",
        "Сибирь-55",
    ),
    (
        "Прииртышье и Согдийская область подписали соглашение",
        "Соглашение о торгово-экономическом, культурном и научно-техническом сотрудничестве "
        "подписали Омская область и Согдийская область Республики Таджикистан. Документ "
        "рассчитан на пять лет; первые совместные проекты касаются зерна и логистики.",
        "Омские вести",
    ),
)


async def test_the_backfill_joins_one_agreement_stored_twice_in_two_wordings(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        for number, story in enumerate(SOGD_REPORTS, start=1):
            published_at = datetime(2025, 5, 14 + number, 9, tzinfo=UTC)
            article_id = await _stored_article(
                session, f"sogd{number}", story, published_at, ("TJ",)
            )
            # As version 3 stored them: keyed by their wording alone.
            title, text, _source = story
            old_facts = [
                replace(fact, terms=None) for fact in new_facts(title, text, ["TJ"], published_at)
            ]
            await save_facts(session, [(article_id, published_at, fact) for fact in old_facts])
        await session.execute(update(Article).values(facts_version=FACTS_VERSION - 1))
        await session.commit()
        assert (await agreements_page(session, "TJ", offset=0, limit=10))[1] == 2

    # Batches of one: the second report joins the agreement the first batch stored again.
    result = await backfill(session_factory, batch_size=1)

    assert result.articles == 2
    async with session_factory() as session:
        register, total = await agreements_page(session, "TJ", offset=0, limit=10)
    assert total == 1
    (agreement,) = register
    assert [ref.source for ref in agreement.sources] == ["Сибирь-55", "Омские вести"]
    assert agreement.subject.startswith("соглашение о торгово-экономическом")
    assert await _counts(session_factory) == (1, 2)


async def test_the_backfill_reads_each_article_with_its_countries_and_regions(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _store_without_facts(session_factory)
    async with session_factory() as session:
        await article_repo.save_tags(
            session,
            ids[0],
            [
                TagValue(article_repo.REGION, "RU-OMS", 0.8),
                TagValue(article_repo.TOPIC, "trade", 0.7),
            ],
        )
        await session.commit()
        articles = await articles_needing_facts(session, FACTS_VERSION, limit=10)
    assert [(article.countries, article.regions) for article in articles] == [
        (("KG",), ("RU-OMS",)),
        (("KG",), ()),
        ((), ()),
    ]
