"""/agreements with the register, /trade with the timeline and chart, /export as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import BufferedInputFile
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.archive import REGISTER_PAGE_SIZE
from storage.facts import AGREEMENT, FIGURE, NewFact, save_facts
from testing.telegram import Conversation, button, calls, html_texts, keyboard, texts
from tests.handlers.conftest import ArticleSeeder
from tests.handlers.helpers import subscribe


async def _seed_agreements(
    articles: ArticleSeeder, factory: async_sessionmaker[AsyncSession], count: int
) -> None:
    for number in range(1, count + 1):
        article_id = await articles.add(
            f"Соглашение № {number} с Узбекистаном",
            countries={"UZ": 0.9},
            topics={"agreements": 0.9},
            source="Омская правда",
        )
        async with factory() as session:
            await save_facts(
                session,
                [
                    (
                        article_id,
                        datetime(2025, 1, number, tzinfo=UTC),
                        NewFact(
                            kind=AGREEMENT,
                            key=f"a{number}",
                            countries=("UZ",),
                            subject=f"меморандум № {number} о поставках зерна",
                            parties=("Омская область", "Бухарская область"),
                            status="signed" if number % 2 else "planned",
                            day=date(2025, 1, number),
                        ),
                    )
                ],
            )
            await session.commit()


async def _seed_figures(
    articles: ArticleSeeder,
    factory: async_sessionmaker[AsyncSession],
    values: list[float],
    units: list[str] | None = None,
) -> None:
    for number, value in enumerate(values, start=1):
        unit = units[number - 1] if units else "млн долл."
        article_id = await articles.add(
            f"Торговля с Таджикистаном, выпуск {number}", countries={"TJ": 0.9}, source="БК55"
        )
        async with factory() as session:
            await save_facts(
                session,
                [
                    (
                        article_id,
                        datetime(2024, number, 15, tzinfo=UTC),
                        NewFact(
                            kind=FIGURE,
                            key=f"f{number}",
                            countries=("TJ",),
                            indicator="trade_turnover",
                            value=value,
                            unit=unit,
                            change=False,
                            period=f"{number} месяцев",
                        ),
                    )
                ],
            )
            await session.commit()


async def test_agreements_open_with_a_paged_register(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_agreements(articles, session_factory, REGISTER_PAGE_SIZE + 2)

    first = await private.send("/agreements Узбекистан")
    (text,) = texts(first)
    assert text.startswith("Соглашения · 🇺🇿 Узбекистан\n\nРеестр соглашений")
    assert (
        "07.01.2025 — Омская область; Бухарская область — меморандум № 7 о поставках зерна"
        " — подписано — Омская правда" in text
    )
    assert "№ 6 о поставках зерна — планируется" in text
    assert "меморандум № 2 о" not in text  # on the second page of the register
    assert text.index("меморандум № 7") < text.index("меморандум № 3")
    assert text.index("Реестр соглашений") < text.index("Соглашение № 1 с Узбекистаном")
    assert '<a href="https://example.ru/news/7">Омская правда</a>' in html_texts(first)[0]
    assert [label for label, _ in keyboard(first)] == ["Ещё »"]

    second = await private.press(button(first, "Ещё"))
    assert "меморандум № 2 о" in texts(second)[0] and "меморандум № 7" not in texts(second)[0]
    assert texts(second)[0].endswith("Страница 2")


async def test_trade_shows_a_timeline_and_a_chart(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_figures(articles, session_factory, [10.0, 12.5, 9.0, 14.25])

    sent = await private.send("/trade Таджикистан")
    text = texts(sent)[0]
    assert "Показатели торговли" in text
    assert "15.01.2024 — товарооборот: 10 млн долл., 1 месяцев — БК55" in text
    assert text.index("15.01.2024") < text.index("15.04.2024")
    assert "товарооборот: 14,25 млн долл." in text
    (photo,) = calls(sent, SendPhoto)
    assert isinstance(photo, SendPhoto) and isinstance(photo.photo, BufferedInputFile)
    assert photo.photo.data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_trade_with_few_points_has_no_chart(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_figures(articles, session_factory, [10.0, 12.5, 9.0])
    sent = await private.send("/trade tj")
    assert "товарооборот: 9 млн долл." in texts(sent)[0]
    assert calls(sent, SendPhoto) == []


async def test_trade_charts_one_currency_at_any_scale_and_never_mixes_units(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # Two in dollars, two in roubles, one in tonnes: no series has four points.
    await _seed_figures(
        articles,
        session_factory,
        [640.0, 1.2, 5.0, 7.0, 430.0],
        ["млн долларов", "млрд долларов", "млрд рублей", "млрд руб.", "тыс. тонн"],
    )
    sent = await private.send("/trade tj")
    text = texts(sent)[0]
    for line in ("640 млн долларов", "1,2 млрд долларов", "5 млрд рублей", "430 тыс. тонн"):
        assert line in text
    assert calls(sent, SendPhoto) == []


async def test_trade_chart_brings_one_currency_to_one_scale(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_figures(
        articles,
        session_factory,
        [640.0, 1.2, 700.0, 0.9, 5.0],
        ["млн долларов", "млрд долларов", "млн долл.", "млрд долларов США", "млрд рублей"],
    )
    sent = await private.send("/trade tj")
    (photo,) = calls(sent, SendPhoto)
    assert isinstance(photo, SendPhoto) and isinstance(photo.photo, BufferedInputFile)
    assert photo.photo.data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_export_keeps_each_figure_with_its_unit(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_figures(
        articles, session_factory, [1.2, 5.0, 430.0], ["млрд долларов", "млрд рублей", "тыс. тонн"]
    )
    await subscribe(private, "TJ")
    sent = await private.send("/export")
    (document,) = calls(sent, SendDocument)
    assert isinstance(document, SendDocument)
    assert isinstance(document.document, BufferedInputFile)
    rows = list(csv.DictReader(io.StringIO(document.document.data.decode("utf-8-sig"))))
    assert sorted((row["value"], row["unit"]) for row in rows) == [
        ("1.2", "млрд долларов"),
        ("430", "тыс. тонн"),
        ("5", "млрд рублей"),
    ]


async def test_export_sends_the_chats_facts_as_csv(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed_agreements(articles, session_factory, 2)
    await _seed_figures(articles, session_factory, [7.5])
    await subscribe(private, "UZ")

    sent = await private.send("/export")
    (document,) = calls(sent, SendDocument)
    assert isinstance(document, SendDocument)
    assert isinstance(document.document, BufferedInputFile)
    data = document.document.data
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [row["kind"] for row in rows] == ["agreement", "agreement"]  # TJ is not chosen
    assert rows[0]["date"] == "2025-01-02" and rows[0]["status"] == "planned"
    assert rows[0]["parties"] == "Омская область;Бухарская область"
    assert rows[0]["subject"] == "меморандум № 2 о поставках зерна"
    assert rows[0]["sources"] == "https://example.ru/news/2"


async def test_export_without_countries_says_what_to_do(private: Conversation) -> None:
    sent = await private.send("/export")
    assert texts(sent) == ["Сначала выберите страны: /countries"]


async def test_an_undated_agreement_shows_the_day_of_its_first_report_in_the_chats_zone(
    private: Conversation,
    articles: ArticleSeeder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    article_id = await articles.add(
        "Омские аграрии подписали меморандум с Узбекистаном", countries={"UZ": 0.9}
    )
    async with session_factory() as session:
        # Reported at 20:30 UTC on 31 January: 1 February in Omsk, the chat's zone.
        await save_facts(
            session,
            [
                (
                    article_id,
                    datetime(2025, 1, 31, 20, 30, tzinfo=UTC),
                    NewFact(
                        kind=AGREEMENT,
                        key="undated",
                        countries=("UZ",),
                        subject="меморандум о поставках семян",
                        status="signed",
                    ),
                )
            ],
        )
        await session.commit()

    (text,) = texts(await private.send("/agreements Узбекистан"))
    assert "• 01.02.2025 (сообщение) — 🇺🇿 Узбекистан — меморандум о поставках семян" in text
