"""Facts stored with their articles; one fact from several outlets is one row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.articles import NewArticle, insert_article
from storage.facts import (
    AGREEMENT,
    FIGURE,
    AgreementTerms,
    NewFact,
    StoredFact,
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


# -- one agreement worded differently by two outlets -----------------------------------------

SOGD = AgreementTerms("соглашение", frozenset({"сотрудничество"}), frozenset({"согдийский"}))
SOGD_FULL = AgreementTerms(
    "соглашение",
    frozenset({"торгово-экономический", "научно-технический", "культурный", "сотрудничество"}),
    frozenset({"согдийский"}),
)


def _report(
    key: str,
    terms: AgreementTerms,
    *,
    subject: str,
    parties: tuple[str, ...],
    day: date | None = None,
    status: str = "signed",
    countries: tuple[str, ...] = ("TJ",),
) -> NewFact:
    return NewFact(
        kind=AGREEMENT,
        key=key,
        countries=countries,
        subject=subject,
        parties=parties,
        status=status,
        day=day,
        terms=terms,
    )


SHORT = _report(
    "short",
    SOGD,
    subject="соглашение о сотрудничестве",
    parties=("председатель Согдийской области",),
)
FULL = _report(
    "full",
    SOGD_FULL,
    subject="соглашение о торгово-экономическом, культурном и научно-техническом сотрудничестве",
    parties=("Омская область", "Согдийская область"),
)


async def _register(
    session_factory: async_sessionmaker[AsyncSession], country: str = "TJ"
) -> list[StoredFact]:
    async with session_factory() as session:
        page, total = await agreements_page(session, country, offset=0, limit=20)
    assert total == len(page)
    return page


async def test_an_agreement_worded_otherwise_by_another_outlet_joins_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first = await _article(session, 10, "Сибирь-55")
        second = await _article(session, 12, "Омские вести")
        await save_facts(session, [(first, datetime(2025, 3, 10, 9, tzinfo=UTC), SHORT)])
        await save_facts(session, [(second, datetime(2025, 3, 12, 9, tzinfo=UTC), FULL)])
        await session.commit()
    (stored,) = await _register(session_factory)
    assert [ref.source for ref in stored.sources] == ["Сибирь-55", "Омские вести"]
    # The fuller report's wording: its subject and its parties.
    assert stored.subject == FULL.subject
    assert stored.parties == FULL.parties


async def test_reports_of_one_agreement_in_one_batch_are_one_fact(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    dated = _report(
        "dated",
        SOGD,
        subject="Соглашение о сотрудничестве",
        parties=(),
        day=date(2025, 3, 11),
        countries=("TJ", "UZ"),
    )
    async with session_factory() as session:
        first = await _article(session, 12, "Омские вести")
        second = await _article(session, 13, "Иртыш-Информ")
        await save_facts(
            session,
            [
                (first, datetime(2025, 3, 12, 9, tzinfo=UTC), FULL),
                (second, datetime(2025, 3, 13, 9, tzinfo=UTC), dated),
            ],
        )
        await session.commit()
    (stored,) = await _register(session_factory)
    assert len(stored.sources) == 2
    assert stored.subject == FULL.subject
    # The date one report gives is the agreement's, and so is every country named.
    assert stored.day == date(2025, 3, 11)
    assert stored.sort_at == datetime(2025, 3, 11, tzinfo=UTC)
    assert stored.countries == ("TJ", "UZ")
    assert [fact.id for fact in await _register(session_factory, "UZ")] == [stored.id]


async def test_agreements_alike_in_words_but_not_in_fact_stay_apart(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    health = _report(
        "health",
        AgreementTerms(
            "соглашение",
            frozenset({"сотрудничество", "сфера", "здравоохранение"}),
            frozenset({"хатлонский"}),
        ),
        subject="соглашение о сотрудничестве в сфере здравоохранения",
        parties=("Омская областная больница", "больница Хатлонской области"),
    )
    others = [
        health,  # another subject; and the short report's parties are not among its own
        replace(FULL, key="later", terms=SOGD_FULL),  # stored ten days after
        replace(FULL, key="planned", status="planned"),  # another stage of a document
        replace(FULL, key="memo", terms=replace(SOGD_FULL, document="меморандум")),
        replace(FULL, key="kz", countries=("KZ",)),  # another country
    ]
    published = [
        datetime(2025, 3, 11, tzinfo=UTC),
        datetime(2025, 3, 22, tzinfo=UTC),
        datetime(2025, 3, 11, tzinfo=UTC),
        datetime(2025, 3, 11, tzinfo=UTC),
        datetime(2025, 3, 11, tzinfo=UTC),
    ]
    async with session_factory() as session:
        first = await _article(session, 10, "Сибирь-55")
        await save_facts(session, [(first, datetime(2025, 3, 10, 9, tzinfo=UTC), SHORT)])
        for number, (fact, moment) in enumerate(zip(others, published, strict=True), 14):
            article = await _article(session, number, f"издание {number}")
            await save_facts(session, [(article, moment, fact)])
        await session.commit()
    register = await _register(session_factory)
    assert sorted(len(fact.sources) for fact in register) == [1, 1, 1, 1, 1]
    assert len(await _register(session_factory, "KZ")) == 1


async def test_two_dates_are_two_agreements(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        for number, day in ((10, 10), (11, 11)):
            article = await _article(session, number, f"издание {number}")
            fact = replace(FULL, key=f"k{day}", day=date(2025, 3, day))
            await save_facts(session, [(article, datetime(2025, 3, day, tzinfo=UTC), fact)])
        await session.commit()
    assert [fact.day for fact in await _register(session_factory)] == [
        date(2025, 3, 11),
        date(2025, 3, 10),
    ]


def test_agreement_terms_likeness() -> None:
    assert SOGD.likeness(SOGD_FULL) == 0.5  # a subject within the other's
    assert SOGD_FULL.likeness(SOGD) == 0.5
    road = AgreementTerms("карта", frozenset({"дорожный", "развитие", "сотрудничество"}))
    road_years = AgreementTerms("карта", frozenset({"дорожный", "сотрудничество", "туризм"}))
    assert road.likeness(road_years) == 0.5  # half the lemmas shared
    assert road.likeness(replace(road_years, subject=frozenset({"дорожный", "туризм"}))) is None
    assert SOGD.likeness(replace(SOGD, places=frozenset({"хатлонский"}))) is None
    assert AgreementTerms("соглашение").likeness(SOGD_FULL) is None
    assert AgreementTerms("соглашение").likeness(AgreementTerms("соглашение")) is None
    assert AgreementTerms.decoded(SOGD_FULL.encoded()) == SOGD_FULL
    assert AgreementTerms.decoded("") is None
