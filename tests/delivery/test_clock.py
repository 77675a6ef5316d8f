from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.processes import RespawningPool, spawn_pool
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


async def test_a_worker_process_dying_while_planning_leaves_the_digests_due(
    session_factory: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    due = now - timedelta(seconds=1)
    await add_chat(session_factory, 43, countries=["KZ"], next_at=due)
    await add_article(
        session_factory, HEADLINES[8], countries={"KZ": 0.9}, first_seen_at=now - timedelta(hours=1)
    )

    async def poll_feeds() -> None:
        return None

    # Every process of this pool dies as it starts, as one killed while planning would.
    dying = RespawningPool(lambda: spawn_pool(1, os._exit, (1,)), "test worker")
    scheduler = AsyncIOScheduler(timezone=UTC)
    start_clock(
        scheduler=scheduler,
        settings=Settings(digest_check_seconds=0.3, poll_interval_minutes=15),
        session_factory=session_factory,
        bot=None,
        poll_feeds=poll_feeds,
        labels_for=digest_labels,
        sender=None,
        executor=dying,
    )
    caplog.set_level(logging.INFO, logger="delivery.clock")
    scheduler.start()
    try:
        await asyncio.sleep(1.5)
    finally:
        scheduler.shutdown(wait=False)
        dying.shutdown()

    clock_lines = [record for record in caplog.records if record.name == "delivery.clock"]
    died = [r for r in clock_lines if "worker process died while planning" in r.getMessage()]
    assert died and all(record.exc_info is None for record in clock_lines)
    assert sum((await statuses(session_factory)).values()) == 0
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, 43)
    assert chat is not None and chat.next_digest_at == due
