"""The first articles after subscribing: requested in the subscribing transaction, composed
into the outbox by any bot process, exactly once, on a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.i18n import gettext_for
from delivery import on_demand
from delivery.labels import digest_labels
from delivery.on_demand import latest_for_subscriber
from delivery.welcome import (
    MAX_AGE,
    WELCOME_KIND,
    WelcomeComposer,
    compose_welcomes,
    request_welcome,
)
from storage import chats as chat_repo
from storage.models import Chat, OutboxMessage
from tests.delivery.helpers import SessionFactory, add_article, add_chat

NOW = datetime.now(UTC)


async def subscribe_with_request(
    session_factory: SessionFactory, chat_id: int, *, at: datetime = NOW
) -> None:
    await add_chat(session_factory, chat_id, now=at)
    async with session_factory() as session:
        await request_welcome(session, chat_id, now=at)
        await session.commit()


async def welcome_rows(session_factory: SessionFactory) -> list[OutboxMessage]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == WELCOME_KIND)
            .order_by(OutboxMessage.chat_id)
        )
        return list(rows)


async def requests_left(session_factory: SessionFactory) -> list[int]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(Chat.id).where(Chat.welcome_due_at.is_not(None)).order_by(Chat.id)
        )
        return list(rows)


async def sent_to(session_factory: SessionFactory, chat_id: int) -> set[int]:
    async with session_factory() as session:
        return await chat_repo.sent_article_ids(session, chat_id)


async def uzbek_article(session_factory: SessionFactory, title: str, minutes_ago: int) -> int:
    return await add_article(
        session_factory,
        title,
        countries={"UZ": 0.95},
        topics={"agreements": 0.9},
        first_seen_at=NOW - timedelta(minutes=minutes_ago),
    )


async def test_a_request_left_by_a_stopped_process_is_composed_by_the_next_at_its_start(
    session_factory: SessionFactory,
) -> None:
    article = await uzbek_article(session_factory, "Омск и Ташкент подписали соглашение", 30)
    # The process that subscribed the chat stopped before composing anything.
    await subscribe_with_request(session_factory, 501)
    woken: list[bool] = []
    composer = WelcomeComposer(
        session_factory, threshold=0.5, on_queued=lambda: woken.append(True), sweep_seconds=3600
    )

    composer.start()
    await composer.join()
    await composer.close()

    (row,) = await welcome_rows(session_factory)
    assert row.chat_id == 501 and row.status == "pending"
    # Claimed ahead of bulk rows (storage.outbox).
    assert row.priority == 0
    assert "Свежее по вашим странам" in row.text and "подписали соглашение" in row.text
    assert row.article_ids == str(article)
    assert await sent_to(session_factory, 501) == {article}
    assert await requests_left(session_factory) == []
    assert woken == [True]


async def test_two_composers_at_once_queue_one_message_per_chat(
    session_factory: SessionFactory,
) -> None:
    # An empty archive: no article recorded as sent that could give a repeat away, so
    # only the compare-and-set of the request stands between two composers.
    chats = list(range(600, 640))
    for chat_id in chats:
        await subscribe_with_request(session_factory, chat_id)

    first, second = await asyncio.gather(
        compose_welcomes(session_factory, now=NOW + timedelta(seconds=1), batch_size=7),
        compose_welcomes(session_factory, now=NOW + timedelta(seconds=1), batch_size=7),
    )

    rows = await welcome_rows(session_factory)
    assert [row.chat_id for row in rows] == chats
    assert first.messages + second.messages == len(chats)
    assert first.chats + second.chats == len(chats)
    assert await requests_left(session_factory) == []


async def test_a_chat_that_unsubscribed_before_composing_gets_nothing(
    session_factory: SessionFactory,
) -> None:
    await uzbek_article(session_factory, "Ташкентская делегация посетила Омск", 5)
    await subscribe_with_request(session_factory, 701)
    async with session_factory() as session:
        await chat_repo.update_chat(session, 701, subscribed=False)
        await session.commit()

    report = await compose_welcomes(session_factory, now=NOW + timedelta(seconds=1))

    assert await welcome_rows(session_factory) == []
    assert report.skipped == 1 and report.messages == 0
    assert await requests_left(session_factory) == []
    assert await sent_to(session_factory, 701) == set()


async def test_articles_the_chat_already_got_are_left_out(
    session_factory: SessionFactory,
) -> None:
    seen = await uzbek_article(session_factory, "Омск и Самарканд открыли авиарейс", 50)
    fresh = await uzbek_article(session_factory, "Омский завод поставит технику в Фергану", 20)
    for chat_id in (801, 802):
        await subscribe_with_request(session_factory, chat_id)
    async with session_factory() as session:
        # /digest right after subscribing: 801 has seen one of them, 802 both.
        await chat_repo.record_sent(session, 801, [seen])
        await chat_repo.record_sent(session, 802, [seen, fresh])
        await session.commit()

    report = await compose_welcomes(session_factory, now=NOW + timedelta(seconds=1))

    (row,) = await welcome_rows(session_factory)
    assert row.chat_id == 801 and row.article_ids == str(fresh)
    assert "авиарейс" not in row.text and "технику в Фергану" in row.text
    assert report.messages == 1 and report.skipped == 1
    assert await requests_left(session_factory) == []


async def test_an_empty_archive_is_said_and_a_stale_request_is_dropped(
    session_factory: SessionFactory,
) -> None:
    await subscribe_with_request(session_factory, 901)
    await subscribe_with_request(session_factory, 902, at=NOW - MAX_AGE - timedelta(minutes=1))

    report = await compose_welcomes(session_factory, now=NOW + timedelta(seconds=1))

    (row,) = await welcome_rows(session_factory)
    assert row.chat_id == 901 and row.text.startswith("В архиве пока нет материалов")
    assert row.article_ids == ""
    assert report.skipped == 1
    assert await requests_left(session_factory) == []


async def test_a_request_not_yet_due_waits(session_factory: SessionFactory) -> None:
    await subscribe_with_request(session_factory, 950, at=NOW + timedelta(minutes=5))

    report = await compose_welcomes(session_factory, now=NOW)

    assert report.chats == 0
    assert await requests_left(session_factory) == [950]


async def test_chats_that_chose_alike_share_one_archive_query_and_keep_their_own_texts(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await uzbek_article(session_factory, "Омск и Самарканд открыли авиарейс", 50)
    await uzbek_article(session_factory, "Омский завод поставит технику в Фергану", 20)
    await add_article(
        session_factory,
        "Павлодарские аграрии приедут на омскую ярмарку",
        countries={"KZ": 0.95},
        first_seen_at=NOW - timedelta(minutes=30),
    )
    # Chat, language, time zone, countries.
    chats = [
        (821, "ru", "Asia/Omsk", "UZ"),
        (822, "ru", "Asia/Omsk", "UZ"),
        (823, "en", "Asia/Omsk", "UZ"),
        (824, "ru", "America/Los_Angeles", "UZ"),
        (825, "ru", "Asia/Omsk", "KZ"),
    ]
    for chat_id, language, timezone, country in chats:
        await add_chat(
            session_factory,
            chat_id,
            countries=(country,),
            language=language,
            timezone=timezone,
            now=NOW,
        )
        async with session_factory() as session:
            await request_welcome(session, chat_id, now=NOW)
            await session.commit()
    # Each chat's message as it is composed alone, before any of them is queued.
    alone: dict[int, str] = {}
    async with session_factory() as session:
        for chat_id, *_ in chats:
            chat = await chat_repo.get_chat(session, chat_id)
            assert chat is not None
            latest = await latest_for_subscriber(
                session,
                chat,
                NOW + timedelta(seconds=1),
                digest_labels(chat.language),
                header=gettext_for(chat.language)("Latest on your countries"),
            )
            assert latest is not None
            alone[chat_id] = latest.text
    queries = 0
    find = on_demand.find_articles_page

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal queries
        queries += 1
        return await find(*args, **kwargs)

    monkeypatch.setattr(on_demand, "find_articles_page", counted)

    report = await compose_welcomes(session_factory, now=NOW + timedelta(seconds=1))

    # Uzbekistan and Kazakhstan: one query each for the five chats.
    assert queries == 2
    assert report.messages == 5
    rows = await welcome_rows(session_factory)
    assert {row.chat_id: row.text for row in rows} == alone
    assert alone[821] == alone[822] != alone[823]
    assert "ярмарку" in alone[825] and "ярмарку" not in alone[821]
