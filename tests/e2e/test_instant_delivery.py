"""Instant delivery from the real `digestbot run` process: articles on an instant topic,
ingested from a local HTTP feed, reach the subscriber as one batched message, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from delivery.subscriptions import change_modes
from storage import chats as chat_repo
from storage.db import create_engine, create_session_factory
from testing.telegram import BotApiEmulator, SentMessage
from tests.e2e.conftest import BotProcess, BotProcessFactory
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import KAZAKH_GRAIN, UZBEK_TEXTILE, Story, rss

pytestmark = pytest.mark.e2e

SUBSCRIBER = 778001
AGREEMENTS = [
    UZBEK_TEXTILE,
    Story(
        "ОмГТУ и Ташкентский государственный технический университет подписали соглашение "
        "о сотрудничестве",
        "Ректоры вузов подписали соглашение о совместных программах подготовки инженеров и "
        "обмене преподавателями. Первые узбекские студенты приедут в Омск в сентябре.",
        "https://omsk-news.example/news/omgtu-tashkent",
    ),
    Story(
        "Омский завод и самаркандская компания заключили соглашение о сборке сельхозтехники",
        "Стороны подписали соглашение о создании совместного предприятия в Самарканде. "
        "Узбекские партнёры вложат в проект около миллиарда рублей.",
        "https://omsk-news.example/news/samarkand-assembly",
    ),
]


@pytest.fixture
async def local_feed() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
        yield server


async def subscribe_instant(process: BotProcess, chat_id: int) -> None:
    engine = create_engine(process.env["DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            chat, _created = await chat_repo.ensure_chat(
                session,
                chat_id,
                type="private",
                title=None,
                language="ru",
                timezone="Asia/Omsk",
                digest_time="09:00",
            )
            await chat_repo.set_countries(session, chat_id, ["UZ"])
            await chat_repo.update_chat(
                session,
                chat_id,
                subscribed=True,
                next_digest_at=datetime.now(UTC) + timedelta(days=1),
            )
            await change_modes(session, chat, daily=False, instant_topics={"agreements"})
            await session.commit()
    finally:
        await engine.dispose()


def is_instant(message: SentMessage) -> bool:
    return (message.plain_text or "").startswith("⚡ Только что")


async def test_agreements_from_a_feed_come_as_one_instant_message(
    emulator: BotApiEmulator,
    bot_process: BotProcessFactory,
    local_feed: FeedServer,
    tmp_path: Path,
) -> None:
    feeds_file = tmp_path / "instant-feeds.txt"
    feeds_file.write_text(f"{local_feed.url('/feed.xml')} Омские новости\n", "utf-8")
    process = bot_process(DIGEST_CHECK_SECONDS="1", FEEDS_FILE=str(feeds_file))
    process.start()
    await process.wait_for_first_poll()
    await subscribe_instant(process, SUBSCRIBER)

    # Three agreements appear in the feed at once; the next poll (a minute) stores them.
    local_feed.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN, *AGREEMENTS]))
    messages = await emulator.wait_for_messages(SUBSCRIBER, 1, timeout=150, predicate=is_instant)
    text = messages[0].plain_text or ""
    for story in AGREEMENTS:
        assert story.title in text
    assert KAZAKH_GRAIN.title not in text
    stored = process.query(
        "SELECT max(fetched_at) FROM articles WHERE url LIKE 'https://omsk-news.example/%'"
    )[0][0]
    ingested = datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)
    # Within a clock tick or two of being stored (no earlier instant message: no gap).
    assert messages[0].date - ingested.timestamp() < 10

    # Nothing comes twice: later polls and ticks add no message.
    await asyncio.sleep(5)
    assert len([m for m in emulator.messages_for(SUBSCRIBER) if is_instant(m)]) == 1
    code, _seconds = await process.stop()
    assert code == 0
