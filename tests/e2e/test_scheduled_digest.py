"""The daily digest from the real `digestbot run` process: it arrives at the subscriber's
local time, and one missed while the bot was down arrives once after the restart."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from delivery.schedule import next_digest_at
from storage import chats as chat_repo
from storage.db import create_engine, create_session_factory
from testing.telegram import BotApiEmulator, SentMessage
from tests.e2e.conftest import BotProcess, BotProcessFactory

pytestmark = pytest.mark.e2e

SUBSCRIBER = 777001
ZONE = "Asia/Tashkent"


def is_digest(message: SentMessage) -> bool:
    return (message.plain_text or "").startswith("Дайджест за")


async def subscribe(
    process: BotProcess, chat_id: int, *, digest_time: str, next_at: datetime
) -> None:
    """The rows onboarding leaves behind, written with the repositories."""
    engine = create_engine(process.env["DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            await chat_repo.ensure_chat(
                session,
                chat_id,
                type="private",
                title=None,
                language="ru",
                timezone=ZONE,
                digest_time=digest_time,
            )
            await chat_repo.set_countries(session, chat_id, ["UZ", "TJ"])
            await chat_repo.update_chat(session, chat_id, subscribed=True, next_digest_at=next_at)
            await session.commit()
    finally:
        await engine.dispose()


def upcoming_minute(zone: str, *, at_least: float) -> tuple[str, datetime]:
    """The first whole minute at least `at_least` seconds away: (local HH:MM, UTC moment)."""
    moment = datetime.now(UTC) + timedelta(seconds=at_least)
    moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%H:%M"), moment


async def test_digest_arrives_at_the_subscribers_local_time(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process(DIGEST_CHECK_SECONDS="1")
    process.start()
    await process.wait_for_first_poll()

    digest_time, due = upcoming_minute(ZONE, at_least=5)
    assert next_digest_at(digest_time, ZONE, datetime.now(UTC)) == due
    await subscribe(process, SUBSCRIBER, digest_time=digest_time, next_at=due)

    messages = await emulator.wait_for_messages(SUBSCRIBER, 1, timeout=90, predicate=is_digest)
    arrived = time.time()
    first = messages[0]
    # On time: not before the minute, and within the clock's tick plus a send.
    assert due.timestamp() - 1 <= first.date <= due.timestamp() + 5, (first.date, due)
    assert arrived - due.timestamp() < 10
    assert first.parse_mode == "HTML"
    assert any(entity["type"] in {"text_link", "text_url"} for entity in first.entities)
    assert "Узбекистан" in (first.plain_text or "") or "Таджикистан" in (first.plain_text or "")

    await process.wait_for(
        lambda: (
            process.query(
                "SELECT count(*) FROM outbox WHERE chat_id = ? AND status = 'sent'", (SUBSCRIBER,)
            )
            == [(len(messages),)]
        ),
        limit=10,
        what="the outbox rows marked sent",
    )
    ((next_at, last_at),) = process.query(
        "SELECT next_digest_at, last_digest_at FROM chats WHERE id = ?", (SUBSCRIBER,)
    )
    assert next_at.startswith((due + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"))
    assert last_at is not None
    sent_ids = process.query("SELECT count(*) FROM sent_articles WHERE chat_id = ?", (SUBSCRIBER,))
    assert sent_ids[0][0] >= 1

    # A few more ticks of the clock: still one digest.
    await asyncio.sleep(3)
    assert len([m for m in emulator.messages_for(SUBSCRIBER) if is_digest(m)]) == len(messages)
    code, _ = await process.stop()
    assert code == 0


async def test_digest_missed_while_the_bot_was_down_arrives_once_after_restart(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process(DIGEST_CHECK_SECONDS="1")
    process.start()
    await process.wait_for_first_poll()
    code, _ = await process.stop()
    assert code == 0

    # While the bot was down, the subscriber's 09:00-style slot passed 20 minutes ago.
    missed = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    digest_time = missed.astimezone(ZoneInfo(ZONE)).strftime("%H:%M")
    await subscribe(process, SUBSCRIBER, digest_time=digest_time, next_at=missed)

    process.start()
    messages = await emulator.wait_for_messages(SUBSCRIBER, 1, timeout=90, predicate=is_digest)
    parts = len(messages)
    await process.stop()
    polls_before = emulator.call_counts["getUpdates"]
    process.start()
    await process.wait_for(
        lambda: emulator.call_counts["getUpdates"] > polls_before,
        limit=60,
        what="the restarted bot to poll for updates",
    )
    await asyncio.sleep(4)  # several ticks of the digest clock
    assert len([m for m in emulator.messages_for(SUBSCRIBER) if is_digest(m)]) == parts
    ((next_at,),) = process.query("SELECT next_digest_at FROM chats WHERE id = ?", (SUBSCRIBER,))
    assert next_at.startswith((missed + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"))
    code, _ = await process.stop()
    assert code == 0
