"""Admins hear when a feed starts failing, goes silent or is switched off, and when it
recovers: once per change, through the outbox, in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram import Bot
from sqlalchemy import select, update

from core.settings import Settings
from delivery.feed_alerts import ALERT_KIND, queue_feed_alerts
from delivery.sender import Sender
from digests.render import MAX_MESSAGE_LENGTH, visible_length
from ingest.config import IngestConfig
from ingest.pipeline import IngestPipeline
from storage import chats as chat_repo
from storage import feeds as feed_repo
from storage.models import Feed, OutboxMessage
from tagging import Tagger
from testing.telegram import BotApiEmulator
from tests.delivery.helpers import SessionFactory
from tests.ingest.feed_server import FeedServer

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
SETTINGS = Settings(admin_ids=frozenset({7, 8}), feed_failing_after=3, feed_silent_hours=48)


async def add_feed(session_factory: SessionFactory, url: str, title: str) -> int:
    async with session_factory() as session:
        feed, _ = await feed_repo.add_feed(session, url, title=title)
        await session.execute(
            update(Feed)
            .where(Feed.id == feed.id)
            .values(created_at=NOW - timedelta(days=30), last_new_item_at=NOW)
        )
        await session.commit()
    return feed.id


async def fail(session_factory: SessionFactory, feed_id: int, times: int, error: str) -> None:
    async with session_factory() as session:
        for _ in range(times):
            await feed_repo.record_failure(
                session, feed_id, now=NOW, error=error, next_check_at=NOW, deactivate=False
            )
        await session.commit()


async def succeed(session_factory: SessionFactory, feed_id: int, *, new_items: int) -> None:
    async with session_factory() as session:
        await feed_repo.record_success(
            session,
            feed_id,
            now=NOW,
            next_check_at=NOW,
            new_items=new_items,
            etag=None,
            last_modified=None,
            body_hash=None,
        )
        await session.commit()


async def english_admin(session_factory: SessionFactory, chat_id: int) -> None:
    async with session_factory() as session:
        await chat_repo.ensure_chat(
            session,
            chat_id,
            type="private",
            title=None,
            language="en",
            timezone="Asia/Omsk",
            digest_time="09:00",
        )
        await session.commit()


async def alerts(session_factory: SessionFactory) -> dict[int, list[str]]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == ALERT_KIND).order_by(OutboxMessage.id)
        )
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(row.chat_id, []).append(row.text)
        return found


async def test_each_change_reaches_every_admin_once_in_their_language(
    session_factory: SessionFactory,
) -> None:
    await english_admin(session_factory, 8)
    healthy = await add_feed(session_factory, "https://bk55.ru/rss", "БК55")
    broken = await add_feed(session_factory, "https://broken.example/rss", "Сломанная")
    quiet = await add_feed(session_factory, "https://quiet.example/rss", "Тихая <лента>")
    await fail(session_factory, broken, 3, "HTTP 503 Service Unavailable\nmore detail")
    async with session_factory() as session:
        await session.execute(
            update(Feed)
            .where(Feed.id == quiet)
            .values(last_new_item_at=NOW - timedelta(days=5, hours=2))
        )
        await session.commit()

    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW) == 2

    found = await alerts(session_factory)
    (russian,) = found[7]
    (english,) = found[8]
    assert russian.startswith("<b>Состояние источников</b>")
    assert f"❌ <b>#{broken}</b> Сломанная: источник не отвечает" in russian
    assert "3 неудачные проверки подряд" in russian
    assert "последняя ошибка: HTTP 503 Service Unavailable\n" in russian
    assert "more detail" not in russian
    assert f"⚠️ <b>#{quiet}</b> Тихая &lt;лента&gt;: источник молчит" in russian
    assert "новых материалов нет уже 5 дней" in russian
    assert f"#{healthy}<" not in russian and "БК55" not in russian
    assert f"❌ <b>#{broken}</b> Сломанная is failing" in english
    assert "3 failed checks in a row" in english and "nothing new for 5 days" in english

    # Nothing changed: nothing more to say.
    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW + timedelta(minutes=15)) == 0

    await succeed(session_factory, broken, new_items=0)
    await succeed(session_factory, quiet, new_items=4)
    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW + timedelta(minutes=30)) == 2
    recovery = (await alerts(session_factory))[7][1]
    assert f"✅ <b>#{broken}</b> Сломанная: источник снова работает" in recovery
    assert f"✅ <b>#{quiet}</b> Тихая &lt;лента&gt;: источник снова публикует новое" in recovery
    async with session_factory() as session:
        states = dict((await session.execute(select(Feed.id, Feed.alert_state))).all())
    assert states == {healthy: None, broken: None, quiet: None}


async def test_switched_off_feed_says_how_to_turn_it_back_on(
    session_factory: SessionFactory,
) -> None:
    feed_id = await add_feed(session_factory, "https://gone.example/rss", "Ушедшая")
    await fail(session_factory, feed_id, 3, "DNS lookup failed")
    await queue_feed_alerts(session_factory, SETTINGS, now=NOW, admin_ids={7})
    async with session_factory() as session:
        await feed_repo.record_failure(
            session, feed_id, now=NOW, error="DNS lookup failed", next_check_at=NOW, deactivate=True
        )
        await session.commit()

    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW, admin_ids={7}) == 1
    switched_off = (await alerts(session_factory))[7][1]
    assert f"⏸ <b>#{feed_id}</b> Ушедшая: источник отключён" in switched_off
    assert "4 неудачные проверки подряд" in switched_off
    assert "Включить снова: /addfeed https://gone.example/rss" in switched_off

    # An admin turning it back on needs no news of it.
    async with session_factory() as session:
        await feed_repo.add_feed(session, "https://gone.example/rss")
        await session.commit()
    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW, admin_ids={7}) == 0
    async with session_factory() as session:
        assert await session.scalar(select(Feed.alert_state).where(Feed.id == feed_id)) is None


async def test_an_admin_who_blocked_the_bot_is_skipped_and_the_change_still_recorded(
    session_factory: SessionFactory,
) -> None:
    await english_admin(session_factory, 8)
    async with session_factory() as session:
        await chat_repo.update_chat(session, 8, active=False)
        await session.commit()
    feed_id = await add_feed(session_factory, "https://broken.example/rss", "Сломанная")
    await fail(session_factory, feed_id, 5, "timed out after 20 s")

    assert await queue_feed_alerts(session_factory, SETTINGS, now=NOW) == 1
    assert set(await alerts(session_factory)) == {7}
    async with session_factory() as session:
        assert await session.scalar(select(Feed.alert_state).where(Feed.id == feed_id)) == (
            "failing"
        )
        admin = await chat_repo.get_chat(session, 8)
    assert admin is not None and not admin.active


async def test_a_mass_failure_is_split_between_feeds_within_telegram_limits(
    session_factory: SessionFactory,
) -> None:
    ids = [
        await add_feed(session_factory, f"https://outlet{n}.example/rss", f"Издание {n} " * 8)
        for n in range(150)
    ]
    for feed_id in ids:
        await fail(session_factory, feed_id, 3, "connection refused " * 30)

    queued = await queue_feed_alerts(session_factory, SETTINGS, now=NOW, admin_ids={7})

    messages = (await alerts(session_factory))[7]
    assert queued == len(messages) > 1
    assert all(visible_length(message) <= MAX_MESSAGE_LENGTH for message in messages)
    told = "".join(messages)
    assert all(f"<b>#{feed_id}</b>" in told for feed_id in ids)
    assert sum(message.count("❌") for message in messages) == len(ids)


async def test_a_failing_feed_reaches_the_admin_through_the_real_pipeline_and_sender(
    session_factory: SessionFactory, emulator: BotApiEmulator, bot: Bot
) -> None:
    async with FeedServer() as server:
        server.status("/rss.xml", 503)
        async with session_factory() as session:
            await feed_repo.add_feed(session, server.url("/rss.xml"), title="Омская <правда>")
            await session.commit()
        pipeline = IngestPipeline(
            session_factory, Tagger(0.5), IngestConfig(allow_private_addresses=True, timeout=5)
        )
        settings = Settings(admin_ids=frozenset({7}), feed_failing_after=3)
        for attempt in range(3):
            (outcome,) = await pipeline.run_once(due_only=False)
            assert outcome.status == "failed"
            queued = await queue_feed_alerts(session_factory, settings, now=datetime.now(UTC))
            assert queued == (1 if attempt == 2 else 0)

    report = await Sender(bot, session_factory, rate=28.0).run_until_empty()

    assert report.sent == 1 and report.failed == 0
    (message,) = emulator.messages_for(7)
    assert message.plain_text is not None
    assert "Омская <правда>: источник не отвечает" in message.plain_text
    assert "3 неудачные проверки подряд" in message.plain_text
    assert "503" in message.plain_text
