from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.settings import Settings
from delivery.clock import COMPOSE_DIGESTS_JOB, POLL_FEEDS_JOB, start_clock
from delivery.labels import digest_labels
from delivery.sender import Sender
from storage import chats as chat_repo
from testing.telegram import BotApiEmulator
from tests.delivery.helpers import HEADLINES, SessionFactory, add_article, add_chat, statuses


async def test_clock_polls_feeds_composes_due_digests_and_sends_them(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    now = datetime.now(UTC)
    await add_chat(session_factory, 42, countries=["KZ"], next_at=now + timedelta(seconds=1))
    await add_article(
        session_factory, HEADLINES[8], countries={"KZ": 0.9}, first_seen_at=now - timedelta(hours=1)
    )
    polls: list[datetime] = []

    async def poll_feeds() -> None:
        polls.append(datetime.now(UTC))

    settings = Settings(digest_check_seconds=0.3, poll_interval_minutes=15)
    scheduler = AsyncIOScheduler(timezone=UTC)
    sender = Sender(bot, session_factory, idle_poll=5.0)
    start_clock(
        scheduler=scheduler,
        settings=settings,
        session_factory=session_factory,
        bot=bot,
        poll_feeds=poll_feeds,
        labels_for=digest_labels,
        sender=sender,
    )
    scheduler.start()
    try:
        assert {job.id for job in scheduler.get_jobs()} == {POLL_FEEDS_JOB, COMPOSE_DIGESTS_JOB}
        (message,) = await emulator.wait_for_messages(42, 1, timeout=10)
        await asyncio.sleep(1.0)
    finally:
        scheduler.shutdown(wait=False)
        await sender.stop()

    assert HEADLINES[8] in (message.plain_text or "")
    # Due one second after the start: not sent early, and sent once.
    assert message.date >= int(now.timestamp())
    assert len(emulator.messages_for(42)) == 1
    assert len(polls) == 1
    assert (await statuses(session_factory))["sent"] == 1
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 42)
    assert chat is not None and chat.next_digest_at is not None
    assert chat.next_digest_at > now + timedelta(hours=1)
