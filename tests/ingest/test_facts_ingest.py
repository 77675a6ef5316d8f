"""Facts are extracted when articles are stored; two outlets' reports make one fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.config import IngestConfig
from ingest.pipeline import IngestPipeline
from storage import feeds as feed_repo
from storage.facts import agreements_page, count_articles_needing_facts, figures_of
from tagging import Tagger
from tagging.facts import FACTS_VERSION
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import CITY_PARK, Story, rss

CONFIG = IngestConfig(
    timeout=5.0, poll_interval=timedelta(minutes=15), allow_private_addresses=True
)

FIRST = Story(
    "Омская область и Кыргызстан подписали соглашение",
    "Сегодня губернатор Омской области и полпред правительства Кыргызской Республики в "
    "Чуйской области подписали соглашение о торгово-экономическом сотрудничестве. "
    "По итогам 2024 года товарооборот региона с Кыргызстаном вырос на 17,2 %.",
    "https://first-outlet.example/news/kg-agreement",
    date="Thu, 15 May 2025 10:00:00 +0300",
)
SECOND = Story(
    "Омск и Чуйская область договорились о торговле",
    "Соглашение о торгово-экономическом сотрудничестве подписали сегодня в Омске "
    "губернатор области и полпред правительства Киргизии в Чуйской области. Товарооборот "
    "Омской области с Кыргызстаном по итогам 2024 года вырос на 17,2 процента.",
    "https://second-outlet.example/articles/chui",
    date="Thu, 15 May 2025 14:30:00 +0300",
)


async def _ingest_two_outlets(
    server: FeedServer,
    session_factory: async_sessionmaker[AsyncSession],
    tagger: Tagger,
    first: list[Story],
    second: list[Story],
) -> None:
    """One poll of two outlets' feeds, the first publishing `first`, the second `second`."""
    server.document("/first.xml", rss("Первое издание", first))
    server.document("/second.xml", rss("Второе издание", second))
    async with session_factory() as session:
        for path in ("/first.xml", "/second.xml"):
            await feed_repo.add_feed(session, server.url(path), fetch_full_text=False)
        await session.commit()
    await IngestPipeline(session_factory, tagger, CONFIG).run_once()


async def test_the_same_agreement_from_two_outlets_is_one_fact_with_two_sources(
    server: FeedServer, session_factory: async_sessionmaker[AsyncSession], tagger: Tagger
) -> None:
    await _ingest_two_outlets(server, session_factory, tagger, [FIRST, CITY_PARK], [SECOND])

    async with session_factory() as session:
        register, total = await agreements_page(session, "KG", offset=0, limit=10)
        figures = await figures_of(session, "KG")
        # Articles stored with their facts are marked: the backfill leaves them alone.
        assert await count_articles_needing_facts(session, FACTS_VERSION) == 0
    assert total == 1
    (agreement,) = register
    assert agreement.status == "signed"
    assert agreement.subject.lower() == "соглашение о торгово-экономическом сотрудничестве"
    assert agreement.sort_at == datetime(2025, 5, 15, tzinfo=UTC)
    assert sorted(ref.url for ref in agreement.sources) == [FIRST.link, SECOND.link]
    (figure,) = figures
    assert (figure.indicator, figure.value, figure.change) == ("trade_turnover", 17.2, True)
    assert len(figure.sources) == 2


# One week, one partner: two regions' agreements worded alike, and one region's agreement
# worded otherwise by a second outlet.
OMSK_CHUI = Story(
    "Омская область договорилась о сотрудничестве с Чуйской областью",
    "Губернатор Омской области и полпред правительства Кыргызстана в Чуйской области "
    "подписали в Омске соглашение о сотрудничестве. Первыми проектами станут поставки "
    "омской сельхозтехники и обмен студентами.",
    "https://first-outlet.example/news/omsk-chui",
    date="Mon, 12 May 2025 10:00:00 +0300",
)
OMSK_CHUI_RETOLD = Story(
    "Омск и Чуйская область: подписано соглашение",
    "Соглашение о торгово-экономическом и научно-техническом сотрудничестве подписали в "
    "Омске губернатор Омской области и полпред правительства Киргизии в Чуйской области. "
    "Стороны обсудили поставки сельхозтехники.",
    "https://second-outlet.example/articles/chui-retold",
    date="Wed, 14 May 2025 09:00:00 +0300",
)
TYUMEN_CHUI = Story(
    "Тюменская область и Кыргызстан подписали соглашение",
    "Губернатор Тюменской области и полпред правительства Кыргызстана в Чуйской области "
    "подписали в Тюмени соглашение о сотрудничестве. Тюменские заводы предложили поставлять "
    "в республику оборудование для нефтепереработки.",
    "https://second-outlet.example/articles/tyumen-chui",
    date="Tue, 13 May 2025 12:00:00 +0300",
)


async def test_reports_of_one_week_are_one_agreement_per_region_however_worded(
    server: FeedServer, session_factory: async_sessionmaker[AsyncSession], tagger: Tagger
) -> None:
    await _ingest_two_outlets(
        server, session_factory, tagger, [OMSK_CHUI], [OMSK_CHUI_RETOLD, TYUMEN_CHUI]
    )

    async with session_factory() as session:
        register, total = await agreements_page(session, "KG", offset=0, limit=10)
    assert total == 2
    by_sources = {tuple(sorted(ref.url for ref in fact.sources)): fact for fact in register}
    omsk_links = tuple(sorted(str(story.link) for story in (OMSK_CHUI, OMSK_CHUI_RETOLD)))
    assert set(by_sources) == {omsk_links, (str(TYUMEN_CHUI.link),)}
    assert by_sources[omsk_links].subject.startswith("соглашение о торгово-экономическом")
