"""The weekly brief's facts: the week's signed agreements and published figures from the
facts register, through the chat's countries and keyword filter, at most five of each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from delivery.weekly import WEEKLY_KIND, compose_due_weekly
from storage.facts import AGREEMENT, FIGURE, NewFact, save_facts
from tests.delivery.helpers import SessionFactory, add_chat
from tests.delivery.modes_helpers import chat_rows, labels_for, set_preferences, store_article
from tests.delivery.test_modes import enable

SUNDAY = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# The brief's Monday, 09:00 in Omsk: a frozen clock for every pass below.
MONDAY_SLOT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
UZ_AGREEMENT = {"agreements": 0.9}
SUBJECTS = (
    "поставки омского зерна в Ташкентскую область",
    "обмен студентами аграрных университетов",
    "совместное производство сельхозтехники",
    "туристический маршрут Омск — Самарканд",
    "сотрудничество в здравоохранении на 2027–2029 годы",
    "поставки хлопковой пряжи омским фабрикам",
)


async def _article_with_facts(
    session_factory: SessionFactory,
    title: str,
    text: str,
    facts: list[NewFact],
    *,
    published_at: datetime,
    countries: dict[str, float] | None = None,
    source: str = "БК55",
) -> int:
    article_id = await store_article(
        session_factory,
        title,
        text,
        countries=countries or {"UZ": 0.9},
        topics=UZ_AGREEMENT,
        first_seen_at=published_at,
        published_at=published_at,
        source=source,
    )
    async with session_factory() as session:
        await save_facts(session, [(article_id, published_at, fact) for fact in facts])
        await session.commit()
    return article_id


def _agreement(subject: str, day: date, *, status: str = "signed", country: str = "UZ") -> NewFact:
    return NewFact(
        kind=AGREEMENT,
        key=f"a|{country}|{subject}"[:64],
        countries=(country,),
        subject=subject,
        parties=("Омская область", "Ташкентская область"),
        status=status,
        day=day,
    )


async def test_brief_lists_the_weeks_signed_agreements_and_figures_with_filters(
    session_factory: SessionFactory,
) -> None:
    for chat_id in (21, 22):
        await add_chat(session_factory, chat_id, countries=("UZ",), now=SUNDAY)
        await enable(session_factory, chat_id, now=SUNDAY, weekly=True)
    await set_preferences(session_factory, 22, keywords=[(True, "зерно")])

    week_day = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    # Six signed agreements, the first reported by two outlets (one fact, two sources).
    for index, subject in enumerate(SUBJECTS):
        await _article_with_facts(
            session_factory,
            f"Омская и Ташкентская области подписали соглашение: {subject}",
            f"Документ о том, что стороны договорились: {subject}. Подписи поставили главы "
            "регионов на встрече в Омске, зерно и техника названы первыми направлениями.",
            [_agreement(subject, date(2026, 11, 17))],
            published_at=week_day + timedelta(hours=index),
        )
    await _article_with_facts(
        session_factory,
        "В Омске подписали соглашение с ташкентскими аграриями о поставках зерна",
        "Омские аграрии отправят узбекским партнёрам зерно нового урожая.",
        [_agreement(SUBJECTS[0], date(2026, 11, 17))],
        published_at=week_day + timedelta(hours=8),
        source="Омскинформ",
    )
    await _article_with_facts(
        session_factory,
        "Товарооборот Омской области с Узбекистаном вырос на 41,3 %",
        "По итогам девяти месяцев торговля выросла, основа экспорта — масло и мука.",
        [
            NewFact(
                kind=FIGURE,
                key="f|UZ|trade_turnover|41.3|%",
                countries=("UZ",),
                indicator="trade_turnover",
                value=41.3,
                unit="%",
                change=True,
                period="январь–сентябрь 2026 года",
            )
        ],
        published_at=week_day + timedelta(hours=10),
    )
    # Not in the brief: a planned agreement, one about another country, one of the week
    # before.
    await _article_with_facts(
        session_factory,
        "Омская область и Ташкент готовят соглашение о логистическом центре",
        "Подписать документ планируют весной, зерно пойдёт через новый центр.",
        [_agreement("логистический центр", date(2026, 11, 19), status="planned")],
        published_at=week_day + timedelta(hours=11),
    )
    await _article_with_facts(
        session_factory,
        "Омская и Павлодарская области подписали соглашение о зерне",
        "Казахстанские партнёры закупят омское зерно.",
        [_agreement("закупки зерна в Павлодаре", date(2026, 11, 18), country="KZ")],
        published_at=week_day + timedelta(hours=12),
        countries={"KZ": 0.9},
    )
    await _article_with_facts(
        session_factory,
        "Омская область и Самарканд подписали соглашение о зерновом терминале",
        "Зерно пойдёт через терминал с будущего года.",
        [_agreement("зерновой терминал в Самарканде", date(2026, 11, 10))],
        published_at=week_day - timedelta(days=7),
    )

    report = await compose_due_weekly(
        session_factory, now=MONDAY_SLOT + timedelta(seconds=5), labels_for=labels_for
    )
    assert report.briefs == 2 and report.errors == 0

    everything = (await chat_rows(session_factory, 21))[0]
    assert everything.kind == WEEKLY_KIND
    text = everything.text
    assert "<b>Подписанные соглашения</b>" in text
    register = text.split("<b>Подписанные соглашения</b>")[1].split("\n\n")[0]
    lines = [line for line in register.splitlines() if line.startswith("• ")]
    assert len(lines) == 5
    assert "и ещё 1: /agreements" in register
    assert lines[0].startswith("• 17.11.2026 — Омская область; Ташкентская область — ")
    grain = next(line for line in lines if SUBJECTS[0] in line)
    assert ">БК55</a>" in grain and ">Омскинформ</a>" in grain
    # The planned agreement's article is still listed among the week's articles below.
    assert "логистический центр" not in register
    assert "Павлодаре" not in text and "Самарканде" not in text
    assert "<b>Опубликованные цифры</b>" in text
    figures = text.split("<b>Опубликованные цифры</b>")[1].split("\n\n")[0]
    assert figures.startswith(
        "\n• 18.11.2026 — товарооборот: 41,3 % (изменение), январь–сентябрь 2026 года — <a href="
    )

    # The keyword filter holds for facts too: only facts from articles about grain.
    grain_only = (await chat_rows(session_factory, 22))[0].text
    register = grain_only.split("<b>Подписанные соглашения</b>")[1].split("\n\n")[0]
    assert SUBJECTS[0] in register
    assert "Опубликованные цифры" not in grain_only
    assert "логистический центр" not in grain_only
