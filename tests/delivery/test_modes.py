"""Delivery modes: instant messages batched per poll interval, daily digests that do not
repeat them, the weekly brief, keyword and region filters, on a real database."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.processes import RespawningPool, spawn_pool
from delivery.daily import compose_due_digests
from delivery.instant import compose_instant_messages
from delivery.subscriptions import change_modes, next_weekly_for
from delivery.weekly import WEEKLY_CHART_KIND, WEEKLY_KIND, compose_due_weekly
from storage import chats as chat_repo
from storage import outbox
from storage.models import Chat, Media, OutboxMessage, SentArticle
from storage.outbox import NewOutboxMessage
from tests.delivery.helpers import SessionFactory, add_chat
from tests.delivery.modes_helpers import chat_rows, labels_for, set_preferences, store_article

GAP = timedelta(minutes=15)
# Wednesday 2026-11-18, 10:00 in Omsk (UTC+6).
NOW = datetime(2026, 11, 18, 4, 0, tzinfo=UTC)

AGREEMENT = {"agreements": 0.9}
TRADE = {"trade": 0.9}


async def enable(
    session_factory: SessionFactory,
    chat_id: int,
    *,
    now: datetime,
    daily: bool | None = None,
    weekly: bool | None = None,
    instant: set[str] | None = None,
) -> None:
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, chat_id)
        assert chat is not None
        await change_modes(
            session, chat, daily=daily, weekly=weekly, instant_topics=instant, now=now
        )
        await session.commit()


async def instant_pass(
    session_factory: SessionFactory, now: datetime, executor: Executor | None = None
) -> int:
    report = await compose_instant_messages(
        session_factory, now=now, labels_for=labels_for, min_gap=GAP, executor=executor
    )
    return report.messages


@pytest.fixture(params=["thread", "worker process"])
def planning(request: pytest.FixtureRequest) -> Executor | None:
    """Where the passes plan: a thread of this process, or a worker process (as in
    `digestbot run`)."""
    if request.param == "thread":
        return None
    pool: Executor = request.getfixturevalue("worker_pool")
    return pool


async def sent_ids(session_factory: SessionFactory, chat_id: int) -> set[int]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(SentArticle.article_id).where(SentArticle.chat_id == chat_id)
        )
        return set(rows)


async def test_instant_articles_come_batched_once_and_not_again_in_the_daily_digest(
    session_factory: SessionFactory, planning: Executor | None
) -> None:
    await add_chat(session_factory, 1, countries=("UZ",), now=NOW - timedelta(hours=1))
    await enable(session_factory, 1, now=NOW - timedelta(hours=1), instant={"agreements"})
    # A busy poll: three agreements and one trade article stored together.
    first = [
        await store_article(
            session_factory,
            title,
            f"{title}. Документ подписали в Ташкенте в присутствии губернатора.",
            countries={"UZ": 0.9},
            topics=AGREEMENT,
            first_seen_at=NOW + timedelta(seconds=index),
        )
        for index, title in enumerate(
            (
                "Омская область и Бухарская область подписали дорожную карту",
                "ОмГУ и Самаркандский университет заключили соглашение о стажировках",
                "Омский агрохолдинг подписал контракт на поставку семян в Фергану",
            )
        )
    ]
    trade = await store_article(
        session_factory,
        "Товарооборот Омской области с Узбекистаном вырос на треть",
        "Рост обеспечили поставки зерна и масла.",
        countries={"UZ": 0.9},
        topics=TRADE,
        first_seen_at=NOW + timedelta(seconds=5),
    )
    assert await instant_pass(session_factory, NOW + timedelta(seconds=30), planning) == 1
    rows = await chat_rows(session_factory, 1)
    assert len(rows) == 1 and rows[0].kind == "instant"
    for article_id in first:
        assert f",{article_id}," in f",{rows[0].article_ids},"
    assert "Только что" in rows[0].text and "Товарооборот" not in rows[0].text
    # A second tick finds nothing new: no second message, nothing twice.
    assert await instant_pass(session_factory, NOW + timedelta(seconds=60), planning) == 0

    # Within the gap a new agreement waits; when the gap has passed it goes alone.
    late = await store_article(
        session_factory,
        "Омский завод и ташкентский дистрибьютор договорились о совместном складе",
        "Соглашение подписано на выставке в Ташкенте.",
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW + timedelta(minutes=5),
    )
    assert await instant_pass(session_factory, NOW + timedelta(minutes=6), planning) == 0
    assert await instant_pass(session_factory, NOW + GAP + timedelta(seconds=31), planning) == 1
    rows = await chat_rows(session_factory, 1)
    assert len(rows) == 2 and rows[1].article_ids == str(late)

    # The daily digest carries what did not come instantly, and only that.
    async with session_factory() as session:
        await chat_repo.update_chat(session, 1, next_digest_at=NOW + timedelta(hours=1))
        await session.commit()
    await compose_due_digests(
        session_factory, now=NOW + timedelta(hours=1), labels_for=labels_for, executor=planning
    )
    rows = await chat_rows(session_factory, 1)
    assert [row.kind for row in rows] == ["instant", "instant", "digest"]
    assert rows[2].article_ids == str(trade)
    assert await sent_ids(session_factory, 1) == {*first, late, trade}


async def test_instant_state_survives_a_restart_and_a_busy_hour_is_at_most_one_message_a_gap(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 2, countries=("TJ",), now=NOW - timedelta(hours=1))
    await enable(session_factory, 2, now=NOW - timedelta(hours=1), instant={"agreements"})
    # Twenty agreements over one hour, a poll every 15 minutes; the pass runs every 30 s
    # (each call stands for a fresh process: all state is read from the database).
    pending = list(range(0, 60, 3))
    moment = NOW
    while moment <= NOW + timedelta(minutes=61):
        while pending and NOW + timedelta(minutes=pending[0]) <= moment:
            minute = pending.pop(0)
            await store_article(
                session_factory,
                f"Соглашение №{minute} Омской области с Согдийской областью",
                "Стороны подписали документ о сотрудничестве.",
                countries={"TJ": 0.9},
                topics=AGREEMENT,
                first_seen_at=NOW + timedelta(minutes=minute),
            )
        await instant_pass(session_factory, moment)
        moment += timedelta(seconds=30)
    rows = await chat_rows(session_factory, 2)
    assert len(rows) == 5  # at 0, 15, 30, 45 and 60 minutes
    created = [row.created_at for row in rows]
    assert all(b - a >= GAP for a, b in itertools.pairwise(created))
    carried = [int(i) for row in rows for i in row.article_ids.split(",")]
    assert len(carried) == len(set(carried)) == 20


async def test_daily_mode_off_sends_no_digest_but_moves_the_schedule(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 3, countries=("UZ",), next_at=NOW, now=NOW)
    await enable(session_factory, 3, now=NOW, daily=False)
    await store_article(
        session_factory,
        "Омские машиностроители показали технику в Ташкенте",
        "Выставка прошла успешно.",
        countries={"UZ": 0.9},
        topics=TRADE,
        first_seen_at=NOW - timedelta(hours=2),
    )
    await compose_due_digests(
        session_factory, now=NOW + timedelta(minutes=1), labels_for=labels_for
    )
    assert await chat_rows(session_factory, 3) == []
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 3)
    assert chat is not None and chat.next_digest_at is not None
    assert chat.next_digest_at > NOW + timedelta(hours=12)


async def test_keyword_filter_matches_word_forms_in_daily_and_instant(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 4, countries=("KZ",), next_at=NOW + timedelta(hours=1), now=NOW)
    await enable(session_factory, 4, now=NOW - timedelta(hours=1), instant={"agreements"})
    await set_preferences(session_factory, 4, keywords=[(True, "зерно"), (False, "хоккей")])
    grain = await store_article(
        session_factory,
        "Омские аграрии договорились о поставках зерна в Павлодар",
        "Соглашение о поставках зерном подписано на пять лет.",
        countries={"KZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW + timedelta(seconds=1),
    )
    await store_article(
        session_factory,
        "Омск и Астана подписали соглашение о турнире по хоккею",
        "Хоккейные клубы сыграют серию матчей; зерно тут ни при чём.",
        countries={"KZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW + timedelta(seconds=2),
    )
    await store_article(
        session_factory,
        "Омские и казахстанские энергетики подписали меморандум",
        "Речь о перетоках мощности.",
        countries={"KZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW + timedelta(seconds=3),
    )
    trade_grain = await store_article(
        session_factory,
        "Экспорт зерна из Омской области в Казахстан вырос",
        "Пшеница идёт по железной дороге.",
        countries={"KZ": 0.9},
        topics=TRADE,
        first_seen_at=NOW + timedelta(seconds=4),
    )
    await instant_pass(session_factory, NOW + timedelta(seconds=30))
    await compose_due_digests(session_factory, now=NOW + timedelta(hours=1), labels_for=labels_for)
    rows = await chat_rows(session_factory, 4)
    assert [(row.kind, row.article_ids) for row in rows] == [
        ("instant", str(grain)),
        ("digest", str(trade_grain)),
    ]


async def test_region_filter_keeps_only_the_chosen_regions(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 5, countries=("UZ",), next_at=NOW, now=NOW)
    await set_preferences(session_factory, 5, regions=["RU-OMS"])
    omsk = await store_article(
        session_factory,
        "Омская делегация провела переговоры в Ташкенте",
        "Омская область расширяет связи.",
        countries={"UZ": 0.9},
        topics=TRADE,
        regions={"RU-OMS": 0.9},
        first_seen_at=NOW - timedelta(hours=3),
    )
    for title, regions in (
        ("Новосибирские логисты открыли склад в Ташкенте", {"RU-NVS": 0.9}),
        ("Российские и узбекские банки обсудили расчёты", {}),
    ):
        await store_article(
            session_factory,
            title,
            "Подробности в материале.",
            countries={"UZ": 0.9},
            topics=TRADE,
            regions=regions,
            first_seen_at=NOW - timedelta(hours=2),
        )
    await compose_due_digests(
        session_factory, now=NOW + timedelta(minutes=1), labels_for=labels_for
    )
    rows = await chat_rows(session_factory, 5)
    assert [row.article_ids for row in rows] == [str(omsk)]


async def test_weekly_brief_on_monday_counts_against_the_week_before_and_lists_agreements(
    session_factory: SessionFactory, planning: Executor | None
) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monday_slot = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 09:00 in Omsk
    await add_chat(session_factory, 6, countries=("UZ", "TJ"), now=sunday)
    await enable(session_factory, 6, now=sunday, weekly=True, daily=False)
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 6)
    assert chat is not None and chat.next_weekly_at == monday_slot
    assert next_weekly_for(chat, monday_slot) == monday_slot + timedelta(days=7)

    last_week = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    week_before = datetime(2026, 11, 11, 6, 0, tzinfo=UTC)
    titles = [
        "Омская область и Андижанская область подписали соглашение о сотрудничестве",
        "Омские ветеринары обучат коллег из Намангана",
        "Узбекские студенты выбрали омские аграрные вузы",
    ]
    for index, title in enumerate(titles):
        await store_article(
            session_factory,
            title,
            "Подробности в материале издания.",
            countries={"UZ": 0.9},
            topics=AGREEMENT if index == 0 else {"education_science": 0.8},
            first_seen_at=last_week + timedelta(hours=index),
            published_at=last_week + timedelta(hours=index),
        )
    await store_article(
        session_factory,
        "Омские дорожники поделились опытом с ташкентскими коллегами",
        "Встреча прошла в Омске.",
        countries={"UZ": 0.9},
        topics={"transport_logistics": 0.8},
        first_seen_at=week_before,
        published_at=week_before,
    )
    for index in range(2):
        await store_article(
            session_factory,
            f"Таджикские аграрии посетили омские хозяйства, встреча {index + 1}",
            "Обсуждали поставки.",
            countries={"TJ": 0.9},
            topics=TRADE,
            first_seen_at=week_before + timedelta(hours=index),
            published_at=week_before + timedelta(hours=index),
        )
    # This week's article is not part of the brief about last week.
    await store_article(
        session_factory,
        "Омская область и Ташкент подписали ещё одно соглашение",
        "Документ подписан в понедельник утром.",
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=monday_slot - timedelta(hours=1),
        published_at=monday_slot - timedelta(hours=1),
    )

    early = await compose_due_weekly(
        session_factory,
        now=monday_slot - timedelta(minutes=1),
        labels_for=labels_for,
        executor=planning,
    )
    assert early.due == 0
    report = await compose_due_weekly(
        session_factory,
        now=monday_slot + timedelta(seconds=20),
        labels_for=labels_for,
        executor=planning,
    )
    assert report.briefs == 1 and report.charts_queued == 1
    rows = await chat_rows(session_factory, 6)
    assert [row.kind for row in rows] == [WEEKLY_KIND, WEEKLY_CHART_KIND]
    text = rows[0].text
    assert "Итоги недели: 16 ноября – 22 ноября" in text
    assert "🇺🇿 Узбекистан 3 (+2)" in text
    assert "🇹🇯 Таджикистан 0 (−2)" in text
    assert "Соглашения 1 (+1)" in text
    assert titles[0] in text and "ещё одно соглашение" not in text
    assert "Омские ветеринары" not in text  # not an agreement: counted, not listed
    async with session_factory() as session:
        media_id = await session.scalar(
            select(OutboxMessage.media_id).where(OutboxMessage.kind == WEEKLY_CHART_KIND)
        )
        next_weekly = await session.scalar(select(Chat.next_weekly_at).where(Chat.id == 6))
    assert media_id is not None
    assert next_weekly == monday_slot + timedelta(days=7)
    # Nothing is queued twice, and a weekly brief records nothing as sent.
    again = await compose_due_weekly(
        session_factory, now=monday_slot + timedelta(minutes=1), labels_for=labels_for
    )
    assert again.due == 0
    assert len(await chat_rows(session_factory, 6)) == 2
    assert await sent_ids(session_factory, 6) == set()


async def test_weekly_brief_missed_by_more_than_a_day_is_skipped_to_next_monday(
    session_factory: SessionFactory,
) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    await add_chat(session_factory, 7, countries=("UZ",), now=sunday)
    await enable(session_factory, 7, now=sunday, weekly=True)
    thursday = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    report = await compose_due_weekly(session_factory, now=thursday, labels_for=labels_for)
    assert report.due == 1 and report.briefs == 0
    assert await chat_rows(session_factory, 7) == []
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 7)
    assert chat is not None and chat.next_weekly_at == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def refusing_chat(chat_id: int, monkeypatch: pytest.MonkeyPatch, calls: list[list[int]]) -> None:
    """Makes queueing fail whenever a transaction's messages include one for `chat_id`, as
    a database refusing a row would, after the transaction's other writes; records the
    chats of each transaction's messages in `calls`."""
    enqueue = outbox.enqueue

    async def refusing(session: Any, messages: Sequence[NewOutboxMessage], **kwargs: Any) -> Any:
        chats = sorted({message.chat_id for message in messages})
        calls.append(chats)
        if chat_id in chats:
            raise ValueError(f"chat {chat_id}: a value the database refuses")
        return await enqueue(session, messages, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", refusing)


async def test_a_chat_that_cannot_be_stored_holds_back_no_other_instant_message(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for chat_id in (21, 22, 23):
        await add_chat(session_factory, chat_id, countries=("UZ",), now=NOW - timedelta(hours=1))
        await enable(session_factory, chat_id, now=NOW - timedelta(hours=1), instant={"agreements"})
    await store_article(
        session_factory,
        "Омская область и Хорезмская область подписали соглашение о туризме",
        "Документ подписали в Хиве.",
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW,
    )
    calls: list[list[int]] = []
    refusing_chat(22, monkeypatch, calls)

    report = await compose_instant_messages(
        session_factory, now=NOW + timedelta(seconds=30), labels_for=labels_for, min_gap=GAP
    )

    assert calls == [[21, 22, 23], [21], [22], [23]]
    assert (report.messages, report.errors) == (2, 1)
    assert [len(await chat_rows(session_factory, c)) for c in (21, 22, 23)] == [1, 0, 1]
    # Chat 22 stayed as it was: the next tick, able to store it, sends its message.
    monkeypatch.undo()
    assert await instant_pass(session_factory, NOW + timedelta(seconds=60)) == 1
    assert [len(await chat_rows(session_factory, c)) for c in (21, 22, 23)] == [1, 1, 1]


async def test_a_chat_that_cannot_be_stored_holds_back_no_other_weekly_brief(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monday_slot = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 09:00 in Omsk
    for chat_id in (31, 32, 33):
        await add_chat(session_factory, chat_id, countries=("UZ",), now=sunday)
        await enable(session_factory, chat_id, now=sunday, weekly=True, daily=False)
    last_week = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    await store_article(
        session_factory,
        "Омская область и Наманганская область подписали соглашение о поставках овощей",
        "Первые поставки начнутся весной.",
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=last_week,
        published_at=last_week,
    )
    calls: list[list[int]] = []
    refusing_chat(32, monkeypatch, calls)

    report = await compose_due_weekly(
        session_factory, now=monday_slot + timedelta(seconds=20), labels_for=labels_for
    )

    assert calls == [[31, 32, 33], [31], [32], [33]]
    assert (report.briefs, report.errors, report.charts_queued) == (2, 1, 1)
    assert [len(await chat_rows(session_factory, c)) for c in (31, 32, 33)] == [2, 0, 2]
    # The chart requested by the transaction that failed was rolled back with it: the
    # briefs stored after it point at the chart row that exists.
    async with session_factory() as session:
        chart_ids = set(
            await session.scalars(
                select(OutboxMessage.media_id).where(OutboxMessage.kind == WEEKLY_CHART_KIND)
            )
        )
        media_ids = set(await session.scalars(select(Media.id)))
    assert len(chart_ids) == 1 and chart_ids <= media_ids
    monkeypatch.undo()
    again = await compose_due_weekly(
        session_factory, now=monday_slot + timedelta(minutes=1), labels_for=labels_for
    )
    assert (again.due, again.briefs) == (1, 1)
    assert len(await chat_rows(session_factory, 32)) == 2


async def test_the_instant_and_weekly_passes_plan_in_the_worker_process_they_are_given(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 24, countries=("UZ",), now=NOW - timedelta(hours=1))
    await enable(
        session_factory, 24, now=NOW - timedelta(hours=1), instant={"agreements"}, weekly=True
    )
    await store_article(
        session_factory,
        "Омская область и Сырдарьинская область подписали соглашение о торговле",
        "Документ подписали в Гулистане.",
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        first_seen_at=NOW,
    )
    # Its process dies at the start: a pass that planned anywhere else would succeed.
    dying = RespawningPool(lambda: spawn_pool(1, os._exit, (1,)), "test worker")
    try:
        with pytest.raises(BrokenProcessPool):
            await instant_pass(session_factory, NOW + timedelta(seconds=30), dying)
        async with session_factory() as session:
            chat = await chat_repo.get_chat(session, 24)
        assert chat is not None and chat.next_weekly_at is not None
        with pytest.raises(BrokenProcessPool):
            await compose_due_weekly(
                session_factory, now=chat.next_weekly_at, labels_for=labels_for, executor=dying
            )
    finally:
        dying.shutdown()
    assert await chat_rows(session_factory, 24) == []
