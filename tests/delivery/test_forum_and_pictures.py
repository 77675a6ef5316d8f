"""Forum topics and pictures through the sender and the HTTP Bot API emulator: digests
routed to the topics countries are bound to, a deleted topic falling back to the general
topic, the weekly chart uploaded once and then sent by file id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot

from delivery.daily import compose_due_digests
from delivery.sender import Sender
from delivery.weekly import compose_due_weekly
from storage import chats as chat_repo
from storage import outbox
from storage.media import get_media, request_media
from storage.outbox import NewOutboxMessage
from testing.telegram import BotApiEmulator
from tests.delivery.helpers import SessionFactory, add_chat
from tests.delivery.modes_helpers import chat_rows, labels_for, store_article
from tests.delivery.test_modes import enable

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
FORUM = -1001234567


def make_sender(bot: Bot, session_factory: SessionFactory) -> Sender:
    return Sender(bot, session_factory, rate=28.0, idle_poll=0.1, lease=timedelta(seconds=20))


async def test_digest_goes_to_bound_topics_and_a_deleted_topic_falls_back_to_general(
    session_factory: SessionFactory,
    emulator: BotApiEmulator,
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.add_group(FORUM, "Экспортёры", admins=[501], type="supergroup")
    uz_topic = emulator.create_forum_topic(FORUM, "Узбекистан")
    tj_topic = emulator.create_forum_topic(FORUM, "Таджикистан")
    await add_chat(
        session_factory,
        FORUM,
        countries=("UZ", "TJ", "KZ"),
        next_at=NOW,
        chat_type="supergroup",
        now=NOW,
    )
    async with session_factory() as session:
        await chat_repo.bind_country(session, FORUM, "UZ", uz_topic)
        await chat_repo.bind_country(session, FORUM, "TJ", tj_topic)
        await session.commit()
    for title, code in (
        ("Омские аграрии открыли торговый дом в Бухаре", "UZ"),
        ("Таджикские врачи прошли стажировку в Омске", "TJ"),
        ("Омск и Павлодар запустят автобусный маршрут", "KZ"),
    ):
        await store_article(
            session_factory,
            title,
            "Подробности в материале.",
            countries={code: 0.9},
            topics={"trade": 0.9},
            first_seen_at=NOW - timedelta(hours=2),
        )
    await compose_due_digests(
        session_factory, now=NOW + timedelta(minutes=1), labels_for=labels_for
    )
    rows = await chat_rows(session_factory, FORUM)
    assert sorted((row.thread_id or 0) for row in rows) == sorted([0, uz_topic, tj_topic])

    # The Tajikistan topic is deleted before the digest goes out.
    emulator.delete_forum_topic(FORUM, tj_topic)
    caplog.set_level(logging.WARNING, logger="delivery.sender")
    report = await make_sender(bot, session_factory).run_until_empty()
    assert report.sent == 3 and report.failed == 0
    sent = emulator.messages_for(FORUM)
    by_thread = {message.message_thread_id: message.plain_text or "" for message in sent}
    assert "Бухаре" in by_thread[uz_topic]
    assert set(by_thread) == {uz_topic, None}
    general = [m.plain_text or "" for m in sent if m.message_thread_id is None]
    assert any("Павлодар" in text for text in general)
    assert any("Таджикские врачи" in text for text in general)
    assert any("message thread not found" in rejected.description for rejected in emulator.rejected)
    assert any("is gone" in record.getMessage() for record in caplog.records)
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, FORUM)
    assert chat is not None and chat.bindings == (("UZ", uz_topic),)


async def test_weekly_chart_is_uploaded_once_then_sent_by_file_id(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monday_slot = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    for chat_id in (11, 12):
        await add_chat(session_factory, chat_id, countries=("UZ",), now=sunday)
        await enable(session_factory, chat_id, now=sunday, weekly=True)
    await store_article(
        session_factory,
        "Омская область и Хорезмская область подписали соглашение о сотрудничестве",
        "Подробности в материале.",
        countries={"UZ": 0.9},
        topics={"agreements": 0.9},
        first_seen_at=datetime(2026, 11, 19, 6, 0, tzinfo=UTC),
        published_at=datetime(2026, 11, 19, 6, 0, tzinfo=UTC),
    )
    report = await compose_due_weekly(
        session_factory, now=monday_slot + timedelta(seconds=5), labels_for=labels_for
    )
    assert report.briefs == 2 and report.charts_queued == 1
    # Composing only queues the chart's recipe; the sender draws it before its first send.
    rows = await chat_rows(session_factory, 11)
    async with session_factory() as session:
        assert rows[1].media_id is not None
        queued = await get_media(session, rows[1].media_id)
    assert queued is not None and queued.content is None and queued.recipe
    sent = await make_sender(bot, session_factory).run_until_empty()
    assert sent.sent == 4 and sent.failed == 0 and sent.charts_drawn == 1
    photos = [call for call in emulator.calls if call.method == "sendPhoto"]
    assert len(photos) == 2
    # The first is an upload (an attached file); the second names Telegram's file id.
    first, second = (str(call.params.get("photo", "")) for call in photos)
    assert first.startswith("attach://") or not first
    assert second and not second.startswith("attach://")
    assert len({f.file_unique_id for f in emulator.files.values() if f.kind == "photos"}) == 1
    for chat_id in (11, 12):
        messages = emulator.messages_for(chat_id)
        assert [m.method for m in messages] == ["sendMessage", "sendPhoto"]
        assert "Хорезмская" in (messages[0].plain_text or "")
        assert "Статьи по странам" in (messages[1].plain_text or "")
    rows = await chat_rows(session_factory, 11)
    async with session_factory() as session:
        assert rows[1].media_id is not None
        stored = await get_media(session, rows[1].media_id)
    assert stored is not None and stored.telegram_file_id is not None
    assert stored.content is not None and stored.content.startswith(b"\x89PNG")


async def test_weekly_chart_not_drawn_before_a_crash_is_drawn_and_sent_after_restart(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monday_slot = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    await add_chat(session_factory, 13, countries=("KZ",), now=sunday)
    await enable(session_factory, 13, now=sunday, weekly=True)
    await store_article(
        session_factory,
        "Омские и павлодарские аграрии договорились о поставках семян",
        "Соглашение подписано на ярмарке в Павлодаре.",
        countries={"KZ": 0.9},
        topics={"agreements": 0.9},
        first_seen_at=datetime(2026, 11, 18, 6, 0, tzinfo=UTC),
        published_at=datetime(2026, 11, 18, 6, 0, tzinfo=UTC),
    )
    report = await compose_due_weekly(
        session_factory, now=monday_slot + timedelta(seconds=5), labels_for=labels_for
    )
    assert report.briefs == 1 and report.charts_queued == 1
    # A process claimed the brief and died before sending or drawing anything.
    async with session_factory() as session:
        claimed = await outbox.claim_batch(
            session,
            owner="crashed",
            now=datetime.now(UTC) - timedelta(minutes=5),
            lease=timedelta(seconds=30),
            limit=10,
        )
        await session.commit()
    assert claimed
    rows = await chat_rows(session_factory, 13)
    assert rows[1].media_id is not None
    async with session_factory() as session:
        queued = await get_media(session, rows[1].media_id)
    assert queued is not None and queued.content is None

    sent = await make_sender(bot, session_factory).run_until_empty()
    assert sent.sent == 2 and sent.failed == 0 and sent.charts_drawn == 1
    messages = emulator.messages_for(13)
    assert [m.method for m in messages] == ["sendMessage", "sendPhoto"]
    assert "павлодарские аграрии" in (messages[0].plain_text or "")
    async with session_factory() as session:
        drawn = await get_media(session, rows[1].media_id)
    assert drawn is not None and drawn.content is not None
    assert drawn.content.startswith(b"\x89PNG") and drawn.telegram_file_id is not None


async def test_a_picture_recipe_that_cannot_be_drawn_fails_its_row_only(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    now = datetime.now(UTC)
    await add_chat(session_factory, 14, countries=("UZ",), now=now)
    async with session_factory() as session:
        media_id = await request_media(session, '{"kind": "pie"}', "broken.png", now=now)
        await outbox.enqueue(
            session,
            [
                NewOutboxMessage(chat_id=14, digest_key="w", part=0, kind="weekly", text="Итоги"),
                NewOutboxMessage(
                    chat_id=14,
                    digest_key="w",
                    part=1,
                    kind="weekly_chart",
                    text="График",
                    media_id=media_id,
                ),
            ],
            now=now,
        )
        await session.commit()
    sent = await make_sender(bot, session_factory).run_until_empty()
    assert sent.sent == 1 and sent.failed == 1 and sent.charts_drawn == 0
    assert [m.method for m in emulator.messages_for(14)] == ["sendMessage"]
