"""Exactly one clock: the advisory lock, the standby's takeover, one digest per chat a day."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from delivery.daily import compose_due_digests
from delivery.labels import digest_labels
from storage.db import create_engine, create_session_factory, upgrade_database
from tests.scale.conftest import Database, RoleFactory, wait_until
from tests.scale.seed import subscribed_chats

FIRST = range(5_000_001, 5_000_041)
SECOND = range(5_000_101, 5_000_141)


async def digests_per_chat(database: Database, chat_ids: range) -> dict[int, int]:
    """Outbox rows per chat: every chat gets one message a day (its empty-day notice)."""
    rows = await database.fetch(
        "SELECT chat_id, count(*) FROM outbox WHERE chat_id = ANY($1::bigint[]) GROUP BY chat_id",
        list(chat_ids),
    )
    return {row[0]: row[1] for row in rows}


async def test_standby_clock_takes_over_after_kill_9_and_no_chat_gets_two_digests(
    pg_url: str, database: Database, role_process: RoleFactory
) -> None:
    now = datetime.now(UTC)
    await subscribed_chats(pg_url, FIRST, due_at=now - timedelta(minutes=1))
    active = role_process("clock", DIGEST_CHECK_SECONDS="1").start()
    await active.wait_for_log("is the active clock")
    standby = role_process("clock", DIGEST_CHECK_SECONDS="1").start()
    await standby.wait_for_log("stands by")

    async def first_queued() -> bool:
        return len(await digests_per_chat(database, FIRST)) == len(FIRST)

    await wait_until(first_queued, 60, "the first chats' digests")
    assert "is the active clock" not in standby.log

    active.kill()
    killed_at = time.monotonic()
    # New subscribers fall due, and half of the first ones are made due again, as if their
    # schedule had not moved: the new clock must not queue their day twice.
    later = datetime.now(UTC) - timedelta(seconds=30)
    await subscribed_chats(pg_url, SECOND, due_at=later)
    await database.fetch(
        "UPDATE chats SET next_digest_at = $1 WHERE id = ANY($2::bigint[])",
        later,
        list(FIRST)[::2],
    )

    async def second_queued() -> bool:
        return len(await digests_per_chat(database, SECOND)) == len(SECOND)

    await wait_until(second_queued, 40, "the standby to queue the new chats' digests")
    took_over = time.monotonic() - killed_at
    assert took_over < 30, took_over
    print(f"the standby queued the new chats {took_over:.1f} s after the kill")
    assert "is the active clock" in standby.log
    await asyncio.sleep(2)  # a few more ticks of the new clock

    for chats in (FIRST, SECOND):
        per_chat = await digests_per_chat(database, chats)
        assert sorted(per_chat) == list(chats)
        assert set(per_chat.values()) == {1}, per_chat
    assert await standby.stop() == 0


async def test_two_clocks_composing_at_once_queue_each_chat_once(
    pg_url: str, database: Database
) -> None:
    """What the lock protects against, should two clocks ever run: the planning is
    idempotent (one row per chat, digest and part)."""
    now = datetime.now(UTC)
    chats = range(5_001_001, 5_001_121)
    await subscribed_chats(pg_url, chats, due_at=now - timedelta(minutes=1))
    engines = [create_engine(pg_url) for _ in range(2)]
    try:
        reports = await asyncio.gather(
            *(
                compose_due_digests(
                    create_session_factory(engine), now=now, labels_for=digest_labels
                )
                for engine in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(report.messages for report in reports) >= len(chats)
    per_chat = await digests_per_chat(database, chats)
    assert sorted(per_chat) == list(chats)
    assert set(per_chat.values()) == {1}


async def test_the_active_clock_brings_stored_articles_facts_up_to_date(
    pg_url: str, database: Database, role_process: RoleFactory
) -> None:
    await upgrade_database(pg_url)
    for number in range(30):
        rows = await database.fetch(
            "INSERT INTO articles (guid, url, title, summary, full_text, source, published_at, "
            "fetched_at, content_hash, search_lemmas) VALUES ($1, $2, 'Омск и Бухара', '', "
            "$3, 'Архив', now(), now(), $4, '') RETURNING id",
            f"old{number}",
            f"https://archive.example/{number}",
            "Омская область и Бухарская область подписали соглашение о сотрудничестве. "
            f"Экспорт области в Узбекистан вырос на {number + 1} %.",
            f"old-hash-{number}",
        )
        await database.fetch(
            "INSERT INTO article_tags (article_id, kind, value, score) "
            "VALUES ($1, 'country', 'UZ', 0.9)",
            rows[0][0],
        )
    active = role_process("clock").start()
    await active.wait_for_log("is the active clock")
    standby = role_process("clock").start()
    await standby.wait_for_log("stands by")

    async def backfilled() -> bool:
        return (
            await database.value("SELECT count(*) FROM articles WHERE facts_version IS NULL") == 0
        )

    await wait_until(backfilled, 60, "the stored articles' facts")
    assert await database.value("SELECT count(*) FROM facts WHERE kind = 'figure'") == 30
    assert "facts extracted for 30 stored articles" in active.log
    assert "facts extracted" not in standby.log
    for process in (active, standby):
        assert await process.stop() == 0
