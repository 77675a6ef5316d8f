from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import select

from delivery.labels import digest_labels
from delivery.more_buttons import more_keyboard_json
from delivery.sender import ChatPacing, Sender, SendPacer, TokenRejected
from storage import chats as chat_repo
from storage import outbox
from storage.models import Chat, SentArticle
from testing.telegram import BotApiEmulator
from tests.delivery.helpers import (
    HEADLINES,
    SessionFactory,
    add_article,
    add_chat,
    make_bot,
    outbox_rows,
    queue_digest,
    statuses,
)

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def make_sender(bot: Bot, session_factory: SessionFactory, **overrides: Any) -> Sender:
    options: dict[str, Any] = {
        "rate": 28.0,
        "retry_base": timedelta(seconds=0.2),
        "lease": timedelta(seconds=20),
        "idle_poll": 0.2,
    }
    options.update(overrides)
    return Sender(bot, session_factory, **options)


def digest_text(chat_id: int, part: int = 0) -> str:
    title = HEADLINES[(chat_id + part) % len(HEADLINES)]
    return (
        f"<b>Дайджест за 20 ноября</b>\n<b>🇺🇿 Узбекистан</b>\n"
        f'• <a href="https://bk55.ru/news/{chat_id}/{part}">{title}</a> — БК55, 20 ноября'
    )


async def test_digests_go_out_in_order_with_buttons_and_html(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    markup = more_keyboard_json([("UZ", 3)], digest_labels("ru"))
    for chat_id in range(1, 13):
        await add_chat(session_factory, chat_id, now=NOW)
        await queue_digest(session_factory, chat_id, [digest_text(chat_id)], reply_markup=markup)
    await add_chat(session_factory, 100, now=NOW)
    await queue_digest(session_factory, 100, [digest_text(100, part) for part in range(3)])
    emulator.add_group(-500, "Экспортёры Прииртышья", admins=[7])
    await add_chat(session_factory, -500, now=NOW)
    await queue_digest(session_factory, -500, [digest_text(500, part) for part in range(2)])

    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.sent == 17 and report.failed == 0 and report.rate_limited == 0
    assert (await statuses(session_factory))["sent"] == 17
    assert emulator.count_429 == 0
    parts = emulator.messages_for(100)
    assert len(parts) == 3
    for part, message in enumerate(parts):
        assert HEADLINES[(100 + part) % len(HEADLINES)] in (message.plain_text or "")
    gaps = [later.timestamp - earlier.timestamp for earlier, later in itertools.pairwise(parts)]
    assert min(gaps) >= 0.95
    group = emulator.messages_for(-500)
    assert len(group) == 2 and group[1].timestamp - group[0].timestamp >= 0.95
    first = emulator.messages_for(1)[0]
    assert first.parse_mode == "HTML"
    assert first.link_preview_options == {"is_disabled": True}
    assert first.button_data() == ["more:UZ"]
    assert first.entities and first.entities[0]["type"] == "bold"
    rows = {row.chat_id: row for row in await outbox_rows(session_factory) if row.part == 0}
    assert rows[1].telegram_message_id == first.message_id
    assert rows[1].sent_at is not None and rows[1].lease_owner is None


async def test_blocked_chat_becomes_inactive_and_its_rows_are_skipped(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    for chat_id in range(1, 6):
        await add_chat(session_factory, chat_id, countries=["UZ", "KZ"], now=NOW)
        await queue_digest(session_factory, chat_id, [digest_text(chat_id, p) for p in range(2)])
    emulator.block_chat(3)

    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.sent == 8 and report.blocked_chats == 1 and report.skipped == 2
    calls_to_blocked = [r for r in emulator.rejected if r.chat_id in (3, "3")]
    assert len(calls_to_blocked) == 1 and calls_to_blocked[0].error_code == 403
    async with session_factory() as session:
        blocked = await chat_repo.get_chat(session, 3)
        other = await chat_repo.get_chat(session, 4)
    assert blocked is not None and other is not None
    assert not blocked.active and blocked.subscribed and blocked.countries == {"UZ", "KZ"}
    assert other.active
    rows = [row for row in await outbox_rows(session_factory) if row.chat_id == 3]
    assert [row.status for row in rows] == ["skipped", "skipped"]
    assert "blocked" in (rows[0].last_error or "")
    # /start reactivates the chat with its settings.
    async with session_factory() as session:
        again, created = await chat_repo.ensure_chat(
            session,
            3,
            type="private",
            title=None,
            language="ru",
            timezone="Asia/Omsk",
            digest_time="09:00",
        )
        await session.commit()
    assert again.active and not created and again.countries == {"UZ", "KZ"}


async def test_429_pauses_every_send_for_retry_after(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    for chat_id in range(1, 31):
        await add_chat(session_factory, chat_id, now=NOW)
        await queue_digest(session_factory, chat_id, [digest_text(chat_id)])
    emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", {"retry_after": 2})

    started = time.monotonic()
    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.sent == 30 and report.rate_limited == 1
    assert emulator.count_429 == 1
    assert emulator.sends_during_pause == 0
    ((_, pause_end),) = emulator.pauses
    assert min(message.timestamp for message in emulator.sent_messages) >= pause_end
    assert time.monotonic() - started >= 2.0
    assert (await statuses(session_factory))["sent"] == 30
    attempts = {row.attempts for row in await outbox_rows(session_factory)}
    assert attempts == {1}


async def test_global_rate_is_kept_without_429(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    for chat_id in range(1, 91):
        await add_chat(session_factory, chat_id, now=NOW)
        await queue_digest(session_factory, chat_id, [digest_text(chat_id)])

    report = await make_sender(bot, session_factory, rate=28.0).run_until_empty()

    assert report.sent == 90
    assert emulator.count_429 == 0
    assert emulator.max_rate_observed() <= 30
    stamps = sorted(message.timestamp for message in emulator.sent_messages)
    sustained = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    # Never above the configured rate; how close it gets is bench/fanout.py's figure.
    assert sustained <= 28.5


async def test_group_migration_is_followed(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    old_id, new_id = -300, -1003000000001
    emulator.add_group(old_id, "Омские экспортёры", admins=[11])
    await add_chat(session_factory, old_id, countries=["TJ"], now=NOW)
    article = await add_article(
        session_factory, HEADLINES[9], countries={"TJ": 0.9}, first_seen_at=NOW
    )
    async with session_factory() as session:
        await chat_repo.record_sent(session, old_id, [article])
        await session.commit()
    await queue_digest(session_factory, old_id, [digest_text(300, p) for p in range(2)])
    emulator.migrate_group(old_id, new_id)

    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.migrated == 1 and report.sent == 2 and report.failed == 0
    assert emulator.messages_for(old_id) == []
    assert len(emulator.messages_for(new_id)) == 2
    async with session_factory() as session:
        assert await session.get(Chat, old_id) is None
        moved = await chat_repo.get_chat(session, new_id)
        sent = set(
            await session.scalars(
                select(SentArticle.article_id).where(SentArticle.chat_id == new_id)
            )
        )
    assert moved is not None and moved.type == "supergroup" and moved.countries == {"TJ"}
    assert sent == {article}
    rows = await outbox_rows(session_factory)
    assert {(row.chat_id, row.status) for row in rows} == {(new_id, "sent")}


async def test_bad_request_fails_once_and_is_not_retried(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    await add_chat(session_factory, 7, now=NOW)
    await add_chat(session_factory, 8, now=NOW)
    await queue_digest(session_factory, 7, ["<b>Дайджест за 20 ноября", digest_text(7, 1)])
    await queue_digest(session_factory, 8, [digest_text(8)])

    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.failed == 1 and report.sent == 2
    assert sum(1 for call in emulator.calls if str(call.params.get("chat_id")) == "7") == 2
    rows = {(row.chat_id, row.part): row for row in await outbox_rows(session_factory)}
    failed = rows[(7, 0)]
    assert failed.status == "failed" and failed.attempts == 1
    assert "parse entities" in (failed.last_error or "")
    assert rows[(7, 1)].status == "sent"


async def test_dropped_connection_is_retried_and_delivered_once(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    await add_chat(session_factory, 12, now=NOW)
    await queue_digest(session_factory, 12, [digest_text(12)])
    emulator.drop_connection_next("sendMessage")

    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.sent == 1 and report.retried == 1
    assert emulator.dropped_connections == 1
    assert len(emulator.messages_for(12)) == 1
    (row,) = await outbox_rows(session_factory)
    assert row.status == "sent" and row.attempts == 2


async def test_lost_answer_is_retried_so_the_message_arrives_at_least_once(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    await add_chat(session_factory, 13, now=NOW)
    await queue_digest(session_factory, 13, [digest_text(13)])
    emulator.drop_connection_next("sendMessage", after_processing=True)

    report = await make_sender(bot, session_factory).run_until_empty()

    # Telegram accepted it but the answer was lost: sending again is the only safe choice.
    assert report.sent == 1 and report.retried == 1
    assert len(emulator.messages_for(13)) == 2


async def test_server_errors_back_off_and_give_up_after_max_attempts(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    await add_chat(session_factory, 14, now=NOW)
    await queue_digest(session_factory, 14, [digest_text(14)])
    emulator.fail_next("sendMessage", 502, "Bad Gateway", times=10, chat_id=14)

    started = time.monotonic()
    report = await make_sender(bot, session_factory, max_attempts=3).run_until_empty()

    calls = [call.timestamp for call in emulator.calls if call.method == "sendMessage"]
    assert len(calls) == 3
    # Exponential backoff: 0.2 s, then 0.4 s.
    assert calls[1] - calls[0] >= 0.18 and calls[2] - calls[1] >= 0.38
    assert report.failed == 1 and report.retried == 2
    (row,) = await outbox_rows(session_factory)
    assert row.status == "failed" and row.attempts == 3
    assert "gave up after 3 attempts" in (row.last_error or "")
    assert time.monotonic() - started < 5


async def test_rows_of_a_dead_worker_are_sent_after_the_lease_ends(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    await add_chat(session_factory, 15, now=NOW)
    await queue_digest(session_factory, 15, [digest_text(15)])
    async with session_factory() as session:
        (claimed,) = await outbox.claim_batch(
            session,
            owner="worker-that-died",
            now=datetime.now(UTC),
            lease=timedelta(seconds=1.5),
            limit=10,
        )
        await session.commit()

    started = time.monotonic()
    report = await make_sender(bot, session_factory).run_until_empty()

    assert report.sent == 1
    assert time.monotonic() - started >= 1.3
    assert len(emulator.messages_for(15)) == 1
    (row,) = await outbox_rows(session_factory)
    assert row.id == claimed.id and row.status == "sent" and row.attempts == 2


async def test_refused_token_stops_delivery_and_keeps_the_rows(
    session_factory: SessionFactory,
) -> None:
    async with BotApiEmulator(token="42:the-only-token-this-server-accepts") as api:
        bot = make_bot(api)
        try:
            await add_chat(session_factory, 16, now=NOW)
            await queue_digest(session_factory, 16, [digest_text(16)])
            with pytest.raises(TokenRejected):
                await make_sender(bot, session_factory).run_until_empty()
        finally:
            await bot.session.close()
    (row,) = await outbox_rows(session_factory)
    assert row.status == "pending" and row.attempts == 0


async def test_background_sender_picks_up_new_rows_and_stops_cleanly(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    sender = make_sender(bot, session_factory, idle_poll=5.0)
    sender.start()
    await asyncio.sleep(0.2)
    await add_chat(session_factory, 17, now=NOW)
    await queue_digest(session_factory, 17, [digest_text(17, p) for p in range(4)])
    sender.notify()
    await emulator.wait_for_messages(17, count=1, timeout=3)
    await sender.stop()
    delivered = len(emulator.messages_for(17))
    assert 1 <= delivered < 4
    counts = await statuses(session_factory)
    assert counts["sent"] == delivered
    assert counts["pending"] == 4 - delivered and counts["sending"] == 0
    await asyncio.sleep(1.2)
    assert len(emulator.messages_for(17)) == delivered


async def test_pacer_spaces_sends_and_honours_a_pause() -> None:
    pacer = SendPacer(100.0)
    started = time.monotonic()
    for _ in range(30):
        assert await pacer.acquire()
    elapsed = time.monotonic() - started
    assert 0.27 <= elapsed <= 0.45
    assert pacer.pause(0.3)  # a new pause
    assert not pacer.pause(0.3)  # the 429 of a request that was already out
    paused_at = time.monotonic()
    assert await pacer.acquire()
    assert time.monotonic() - paused_at >= 0.29
    stop = asyncio.Event()
    pacer.pause(10)
    stop.set()
    assert not await pacer.acquire(stop)


async def test_a_send_that_wakes_late_keeps_the_grid_and_a_stale_slot_starts_a_new_one() -> None:
    now = [0.0]
    pacer = SendPacer(100.0, clock=lambda: now[0])  # slots 10 ms apart

    async def slot() -> bool:
        return await asyncio.wait_for(pacer.acquire(), 1.0)

    assert await slot()  # the slot at 0
    now[0] = 0.016  # the slot at 0.01, taken 6 ms late
    assert await slot()
    now[0] = 0.0201  # the slot at 0.02 is due: lateness did not move the grid
    assert await slot()
    now[0] = 0.05  # 20 ms past the slot at 0.03: within STALE_SLOT_SECONDS, so it is used,
    assert await slot()  # and those at 0.04 and 0.05 follow at once
    assert await slot()
    assert await slot()
    waiting = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the slot at 0.06 is not due yet
    now[0] = 0.0601
    assert await asyncio.wait_for(waiting, 1.0)
    now[0] = 0.5  # idle: the slot at 0.07 is long past, so a new grid starts now
    assert await slot()
    waiting = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # a full interval after the new grid's first slot
    now[0] = 0.5101
    assert await asyncio.wait_for(waiting, 1.0)
    await pacer.close()


def test_chat_pacing_private_and_group_windows() -> None:
    pacing = ChatPacing(private_interval=1.0, group_per_minute=20)
    pacing.record(5, 100.0)
    assert pacing.ready_at(5) == 101.0
    assert pacing.ready_at(6) == 1.0
    for second in range(20):
        pacing.record(-9, 200.0 + second * 1.5)
    # The 21st message waits until the first of the last 20 is a minute old (plus margin).
    assert pacing.ready_at(-9) == pytest.approx(260.5)
    pacing.forget_older_than(400.0)
    assert pacing.ready_at(-9) == 1.0
