from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.processes import RespawningPool, spawn_pool
from delivery import daily
from delivery.daily import compose_due_digests
from delivery.labels import digest_labels
from delivery.on_demand import build_digest_now, preview_digest, record_digest_sent
from delivery.planner import ChatChange
from delivery.writes import CHATS_PER_TRANSACTION
from storage import chats as chat_repo
from storage.db import create_engine, create_session_factory
from storage.models import SentArticle
from tests.delivery.helpers import (
    HEADLINES,
    SOURCES,
    SessionFactory,
    add_article,
    add_chat,
    add_chats_bulk,
    outbox_rows,
)

# 09:00 in Omsk (UTC+6).
NINE_IN_OMSK = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
CATCHUP = timedelta(hours=6)


async def compose(
    session_factory: SessionFactory, now: datetime, executor: Executor | None = None
) -> object:
    return await compose_due_digests(
        session_factory,
        now=now,
        labels_for=digest_labels,
        threshold=0.5,
        catchup=CATCHUP,
        executor=executor,
    )


@pytest.fixture(params=["thread", "worker process"])
def planning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Executor | None:
    """Where the pass plans its digests: a thread of this process, or a worker process
    (`digestbot run` gives the pass its worker process). With a worker process, planning
    in this process fails the test."""
    if request.param == "thread":
        return None

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("digests were planned in the test's own process")

    monkeypatch.setattr(daily, "plan_digests", not_here)
    pool: Executor = request.getfixturevalue("worker_pool")
    return pool


def ids_of(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part}


async def sent_ids(session_factory: SessionFactory, chat_id: int) -> set[int]:
    async with session_factory() as session:
        return await chat_repo.sent_article_ids(session, chat_id)


async def test_a_due_chat_gets_one_digest_of_what_is_new(
    session_factory: SessionFactory, planning: Executor | None
) -> None:
    yesterday = NINE_IN_OMSK - timedelta(days=1)
    await add_chat(
        session_factory, 1, countries=["UZ"], next_at=NINE_IN_OMSK, last_digest_at=yesterday
    )
    await add_chat(session_factory, 2, countries=["KZ", "BY"], next_at=NINE_IN_OMSK)
    await add_chat(session_factory, 3, countries=["UZ"], next_at=NINE_IN_OMSK + timedelta(hours=1))
    fresh = [
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=5 + index),
            source=SOURCES[index],
        )
        for index, title in enumerate(HEADLINES[:3])
    ]
    old = await add_article(
        session_factory,
        HEADLINES[3],
        countries={"UZ": 0.9},
        first_seen_at=yesterday - timedelta(hours=2),
    )
    kazakh = await add_article(
        session_factory, HEADLINES[6], countries={"KZ": 0.8}, first_seen_at=NINE_IN_OMSK
    )
    chinese = await add_article(
        session_factory, HEADLINES[13], countries={"CN": 0.9}, first_seen_at=NINE_IN_OMSK
    )

    now = NINE_IN_OMSK + timedelta(seconds=20)
    report = await compose(session_factory, now, planning)
    assert (report.due, report.digests, report.skipped_late) == (2, 2, 0)  # type: ignore[attr-defined]

    rows = await outbox_rows(session_factory)
    by_chat = defaultdict(list)
    for row in rows:
        by_chat[row.chat_id].append(row)
    assert set(by_chat) == {1, 2}
    (first,) = by_chat[1]
    assert (first.digest_key, first.part, first.kind, first.status) == (
        "2026-11-20",
        0,
        "digest",
        "pending",
    )
    assert first.text.startswith("<b>Дайджест за 20 ноября</b>")
    assert all(title in first.text for title in HEADLINES[:3])
    assert HEADLINES[3] not in first.text
    assert ids_of(first.article_ids) == set(fresh)
    assert await sent_ids(session_factory, 1) == set(fresh)
    assert ids_of(by_chat[2][0].article_ids) == {kazakh}
    assert old not in await sent_ids(session_factory, 1) and chinese not in await sent_ids(
        session_factory, 2
    )

    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 1)
    assert chat is not None
    assert chat.next_digest_at == NINE_IN_OMSK + timedelta(days=1)
    assert chat.last_digest_at == now

    again = await compose(session_factory, now + timedelta(seconds=30), planning)
    assert again.due == 0  # type: ignore[attr-defined]
    assert len(await outbox_rows(session_factory)) == len(rows)


async def test_missed_digests_after_downtime_are_sent_once_or_skipped(
    session_factory: SessionFactory,
) -> None:
    three_days_ago = timedelta(days=3)
    # Omsk times: 09:00 = 03:00 UTC, 06:00 = 00:00 UTC, 13:00 = 07:00 UTC.
    await add_chat(session_factory, 10, digest_time="09:00", next_at=NINE_IN_OMSK)
    await add_chat(
        session_factory,
        11,
        digest_time="06:00",
        next_at=NINE_IN_OMSK - timedelta(hours=3),
        last_digest_at=NINE_IN_OMSK - timedelta(days=1, hours=3),
    )
    await add_chat(
        session_factory,
        12,
        digest_time="13:00",
        next_at=NINE_IN_OMSK + timedelta(hours=4) - three_days_ago,
    )
    await add_chat(session_factory, 13, digest_time="06:00", next_at=NINE_IN_OMSK - three_days_ago)
    for index, title in enumerate(HEADLINES[:2]):
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.95},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=2 + index),
        )
    # The bot comes back at 14:00 in Omsk.
    back = NINE_IN_OMSK + timedelta(hours=5)
    report = await compose(session_factory, back)
    assert report.digests == 2 and report.skipped_late == 2  # type: ignore[attr-defined]
    await compose(session_factory, back + timedelta(minutes=1))
    await compose(session_factory, back + timedelta(hours=2))

    keys = defaultdict(set)
    for row in await outbox_rows(session_factory):
        keys[row.chat_id].add(row.digest_key)
    # 5 h late: sent; 8 h late: skipped; 3 days late but today's 13:00 slot 1 h ago: sent.
    assert keys == {10: {"2026-11-20"}, 12: {"2026-11-20"}}
    async with session_factory() as session:
        skipped = await chat_repo.get_chat(session, 11)
        long_gone = await chat_repo.get_chat(session, 13)
    assert skipped is not None and long_gone is not None
    assert skipped.next_digest_at == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert skipped.last_digest_at == NINE_IN_OMSK - timedelta(days=1, hours=3)
    assert long_gone.next_digest_at == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)

    # Next morning the skipped chat gets the articles it missed, once.
    next_morning = datetime(2026, 11, 21, 0, 0, 5, tzinfo=UTC)
    await compose(session_factory, next_morning)
    rows = [row for row in await outbox_rows(session_factory) if row.chat_id == 11]
    assert [row.digest_key for row in rows] == ["2026-11-21"]
    assert all(title in rows[0].text for title in HEADLINES[:2])


async def test_no_article_reaches_a_chat_twice_over_three_days(
    session_factory: SessionFactory,
) -> None:
    start = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
    chats = {
        21: ("Asia/Omsk", "09:00", ["UZ", "TJ"]),
        22: ("Asia/Tashkent", "08:00", ["UZ"]),
        23: ("Europe/Moscow", "07:30", ["KZ", "UZ", "BY"]),
        24: ("America/New_York", "21:15", ["TJ", "BY"]),
    }
    for chat_id, (zone, at, countries) in chats.items():
        await add_chat(
            session_factory, chat_id, countries=countries, timezone=zone, digest_time=at, now=start
        )
    countries_cycle = [{"UZ": 0.9}, {"TJ": 0.8}, {"KZ": 0.9, "UZ": 0.7}, {"BY": 0.9}, {"CN": 0.9}]
    # Articles appear through the day; the clock ticks every 20 minutes for three days.
    arrivals: list[tuple[datetime, str, dict[str, float]]] = []
    for number in range(30):
        moment = start + timedelta(hours=2.3 * number + 0.5)
        title = f"{HEADLINES[number % len(HEADLINES)]} (выпуск {number + 1})"
        arrivals.append((moment, title, countries_cycle[number % len(countries_cycle)]))
    stored: dict[int, tuple[dict[str, float], datetime]] = {}
    on_demand: set[int] = set()
    tick = start
    while tick < start + timedelta(days=3):
        while arrivals and arrivals[0][0] <= tick:
            moment, title, tags = arrivals.pop(0)
            article_id = await add_article(
                session_factory, title, countries=tags, first_seen_at=moment
            )
            stored[article_id] = (tags, moment)
        await compose(session_factory, tick)
        if tick == start + timedelta(days=1, hours=12):
            # The subscriber asks for /digest in the middle of the second day.
            async with session_factory() as session:
                messages = await build_digest_now(session, 22, tick, digest_labels("ru"))
                on_demand = {i for message in messages for i in message.article_ids}
                await record_digest_sent(session, 22, on_demand)
                await session.commit()
            assert on_demand
        tick += timedelta(minutes=20)

    rows = await outbox_rows(session_factory)
    for chat_id, (_, _, countries) in chats.items():
        chat_rows = [row for row in rows if row.chat_id == chat_id]
        parts = defaultdict(list)
        for row in chat_rows:
            parts[row.digest_key].append(row.part)
        # One digest a local day (a day with nothing new has none), parts 0..n-1.
        assert len(parts) >= 2, chat_id
        assert all(sorted(p) == list(range(len(p))) for p in parts.values())
        delivered = [i for row in chat_rows for i in ids_of(row.article_ids)]
        assert len(delivered) == len(set(delivered)), f"chat {chat_id} got an article twice"
        if chat_id == 22:
            assert not on_demand & set(delivered)
            delivered += list(on_demand)
        async with session_factory() as session:
            chat = await chat_repo.get_chat(session, chat_id)
        assert chat is not None and chat.last_digest_at is not None
        relevant = {
            article_id: seen
            for article_id, (tags, seen) in stored.items()
            if set(tags) & set(countries)
        }
        # Everything relevant first seen before the last digest went out, exactly once.
        assert set(delivered) <= set(relevant)
        assert {i for i, seen in relevant.items() if seen < chat.last_digest_at} <= set(delivered)
        async with session_factory() as session:
            sent = set(
                await session.scalars(
                    select(SentArticle.article_id).where(SentArticle.chat_id == chat_id)
                )
            )
        assert sent == set(delivered)
        assert len(delivered) >= 8


async def test_empty_digest_sends_nothing_unless_asked(session_factory: SessionFactory) -> None:
    await add_chat(session_factory, 31, next_at=NINE_IN_OMSK, notify_empty=True)
    await add_chat(session_factory, 32, next_at=NINE_IN_OMSK, language="en", notify_empty=True)
    await add_chat(session_factory, 33, next_at=NINE_IN_OMSK)
    report = await compose(session_factory, NINE_IN_OMSK)
    assert (report.empty, report.empty_notices, report.digests) == (3, 2, 0)  # type: ignore[attr-defined]
    rows = {row.chat_id: row for row in await outbox_rows(session_factory)}
    assert set(rows) == {31, 32}
    assert rows[31].kind == "empty" and "Новых материалов" in rows[31].text
    assert rows[32].text.startswith("No new articles")
    async with session_factory() as session:
        quiet = await chat_repo.get_chat(session, 33)
    assert quiet is not None and quiet.next_digest_at == NINE_IN_OMSK + timedelta(days=1)


async def test_more_button_for_a_country_over_its_cap(session_factory: SessionFactory) -> None:
    await add_chat(session_factory, 41, countries=["UZ"], next_at=NINE_IN_OMSK)
    for index, title in enumerate(HEADLINES[:10]):
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=1 + index),
        )
    await compose(session_factory, NINE_IN_OMSK)
    (row,) = await outbox_rows(session_factory)
    markup = json.loads(row.reply_markup or "{}")
    buttons = [button for line in markup["inline_keyboard"] for button in line]
    assert [button["callback_data"] for button in buttons] == ["more:UZ"]
    assert "ещё 3" in buttons[0]["text"] and "Узбекистан" in buttons[0]["text"]
    assert len(ids_of(row.article_ids)) == 7
    assert await sent_ids(session_factory, 41) == ids_of(row.article_ids)


async def test_two_clocks_at_once_compose_each_digest_once(
    session_factory: SessionFactory, database_url: str
) -> None:
    for chat_id in range(100, 160):
        await add_chat(session_factory, chat_id, countries=["UZ"], next_at=NINE_IN_OMSK)
    for index, title in enumerate(HEADLINES[:4]):
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=index + 1),
        )
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        reports = await asyncio.gather(
            *(
                compose_due_digests(
                    create_session_factory(engine),
                    now=NINE_IN_OMSK,
                    labels_for=digest_labels,
                    batch_size=7,
                )
                for engine in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    rows = await outbox_rows(session_factory)
    assert sorted(row.chat_id for row in rows) == list(range(100, 160))
    assert sum(report.digests for report in reports) == 60
    assert sum(report.conflicts for report in reports) == sum(r.due for r in reports) - 60


async def test_preview_shows_the_next_digest_and_writes_nothing(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 51, countries=["TJ"], next_at=NINE_IN_OMSK)
    await add_article(
        session_factory,
        HEADLINES[9],
        countries={"TJ": 0.9},
        topics={"education_science": 0.9},
        first_seen_at=NINE_IN_OMSK - timedelta(hours=3),
    )
    text = await preview_digest(session_factory, 51, NINE_IN_OMSK, digest_labels)
    assert text is not None and HEADLINES[9] in text
    assert "Таджикистан" in text and "Образование" in text
    assert "<" not in text.replace("<token>", "")
    assert await outbox_rows(session_factory) == []
    assert await sent_ids(session_factory, 51) == set()
    assert await preview_digest(session_factory, 999, NINE_IN_OMSK, digest_labels) is None


async def test_chats_with_the_same_subscription_share_a_composition_not_a_digest(
    session_factory: SessionFactory, planning: Executor | None
) -> None:
    for chat_id, zone in ((61, "Asia/Omsk"), (62, "Asia/Omsk"), (63, "America/New_York")):
        await add_chat(session_factory, chat_id, timezone=zone, next_at=NINE_IN_OMSK)
    await add_chat(session_factory, 64, next_at=NINE_IN_OMSK)
    ids = [
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=2 + index),
        )
        for index, title in enumerate(HEADLINES[:3])
    ]
    async with session_factory() as session:
        await chat_repo.record_sent(session, 64, [ids[0]])
        await session.commit()

    await compose(session_factory, NINE_IN_OMSK, planning)

    rows = {row.chat_id: row for row in await outbox_rows(session_factory)}
    assert rows[61].text == rows[62].text
    assert rows[61].text.startswith("<b>Дайджест за 20 ноября</b>")
    # 03:00 UTC is still the evening of the 19th in New York.
    assert rows[63].text.startswith("<b>Дайджест за 19 ноября</b>")
    assert ids_of(rows[61].article_ids) == ids_of(rows[63].article_ids) == set(ids)
    assert ids_of(rows[64].article_ids) == set(ids[1:])
    assert HEADLINES[0] not in rows[64].text
    assert {row.digest_key for row in rows.values()} == {"2026-11-20", "2026-11-19"}


async def test_articles_sent_between_planning_and_storing_are_not_sent_again(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_chat(session_factory, 61, countries=["UZ"], next_at=NINE_IN_OMSK)
    first, second = [
        await add_article(
            session_factory,
            title,
            countries={"UZ": 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=2 + index),
        )
        for index, title in enumerate(HEADLINES[:2])
    ]
    original_apply = daily._apply

    async def digest_command_lands_first(*args: object, **kwargs: object) -> None:
        # The subscriber's /digest sends the first article while the pass is planning.
        async with session_factory() as session:
            await record_digest_sent(session, 61, [first])
            await session.commit()
        monkeypatch.setattr(daily, "_apply", original_apply)
        await original_apply(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(daily, "_apply", digest_command_lands_first)
    report = await compose(session_factory, NINE_IN_OMSK)
    assert (report.due, report.digests, report.conflicts) == (1, 0, 1)  # type: ignore[attr-defined]
    assert await outbox_rows(session_factory) == []

    # The chat stayed due; the next tick sends what it has not seen.
    again = await compose(session_factory, NINE_IN_OMSK + timedelta(seconds=30))
    assert (again.due, again.digests) == (1, 1)  # type: ignore[attr-defined]
    (row,) = await outbox_rows(session_factory)
    assert ids_of(row.article_ids) == {second}
    assert await sent_ids(session_factory, 61) == {first, second}


async def test_a_batch_of_digests_is_written_a_chunk_of_chats_at_a_time(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = range(1000, 1000 + 2 * CHATS_PER_TRANSACTION + 50)
    await add_chats_bulk(session_factory, chats, next_at=NINE_IN_OMSK)
    await add_article(
        session_factory,
        HEADLINES[0],
        countries={"UZ": 0.9},
        first_seen_at=NINE_IN_OMSK - timedelta(hours=1),
    )
    chats_per_transaction: list[int] = []
    write = daily._apply_in_one_transaction

    async def counted(
        factory: SessionFactory, changes: Sequence[ChatChange], *, now: datetime
    ) -> daily.ComposeReport:
        chats_per_transaction.append(len(changes))
        return await write(factory, changes, now=now)

    monkeypatch.setattr(daily, "_apply_in_one_transaction", counted)

    report = await compose_due_digests(
        session_factory, now=NINE_IN_OMSK, labels_for=digest_labels, catchup=CATCHUP
    )

    assert report.digests == len(chats)
    assert len(await outbox_rows(session_factory)) == len(chats)
    # Each transaction holds the write lock, and the event loop, for a chunk's writes only.
    assert chats_per_transaction == [CHATS_PER_TRANSACTION, CHATS_PER_TRANSACTION, 50]


class _CountingPool(Executor):
    """Real worker processes, counting how many of the calls given them were unfinished at
    once."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._unfinished = 0
        self.most_at_once = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self._unfinished += 1
            self.most_at_once = max(self.most_at_once, self._unfinished)
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._unfinished -= 1


async def test_two_worker_processes_plan_two_batches_at_once(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = list(range(2000, 2023))
    for offset, chat_id in enumerate(chats):
        await add_chats_bulk(
            session_factory,
            [chat_id],
            countries=("UZ", "KZ")[: 1 + offset % 2],
            next_at=NINE_IN_OMSK - timedelta(seconds=len(chats) - offset),
        )
    for number, headline in enumerate(HEADLINES[:4]):
        await add_article(
            session_factory,
            headline,
            countries={("UZ", "KZ")[number % 2]: 0.9},
            first_seen_at=NINE_IN_OMSK - timedelta(hours=1 + number),
        )

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("digests were planned in the test's own process")

    monkeypatch.setattr(daily, "plan_digests", not_here)
    pool = spawn_pool(2)
    try:
        counting = _CountingPool(pool)
        report = await compose_due_digests(
            session_factory,
            now=NINE_IN_OMSK,
            labels_for=digest_labels,
            catchup=CATCHUP,
            batch_size=4,
            executor=counting,
            planners=2,
        )
    finally:
        pool.shutdown(cancel_futures=True)

    assert (report.due, report.digests, report.errors) == (len(chats), len(chats), 0)
    assert counting.most_at_once == 2
    rows = await outbox_rows(session_factory)
    assert sorted(row.chat_id for row in rows) == chats
    for row in rows:
        uzbek_only = (row.chat_id - chats[0]) % 2 == 0
        assert ("Казахстан" in row.text) != uzbek_only, row.text


async def test_a_worker_dying_while_batches_plan_fails_the_pass_once_and_keeps_chats_due(
    session_factory: SessionFactory,
) -> None:
    chats = list(range(3000, 3009))
    await add_chats_bulk(session_factory, chats, next_at=NINE_IN_OMSK)
    await add_article(
        session_factory,
        HEADLINES[0],
        countries={"UZ": 0.9},
        first_seen_at=NINE_IN_OMSK - timedelta(hours=1),
    )
    unretrieved: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    # Its process dies at the start: every batch given to it fails.
    dying = RespawningPool(lambda: spawn_pool(1, os._exit, (1,)), "test worker")
    try:
        with pytest.raises(BrokenProcessPool) as failure:
            await compose_due_digests(
                session_factory,
                now=NINE_IN_OMSK,
                labels_for=digest_labels,
                catchup=CATCHUP,
                batch_size=3,
                executor=dying,
                planners=2,
            )
    finally:
        dying.shutdown()
    # The other batch's planning failed too, and was waited for: nothing left unretrieved.
    del failure
    await asyncio.sleep(0.5)
    gc.collect()
    loop.set_exception_handler(None)
    assert unretrieved == []
    assert await outbox_rows(session_factory) == []
    report = await compose_due_digests(
        session_factory, now=NINE_IN_OMSK + timedelta(seconds=30), labels_for=digest_labels
    )
    assert (report.due, report.digests) == (len(chats), len(chats))
