from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import chats as chat_repo
from storage import outbox
from storage.db import create_engine, create_session_factory
from storage.models import Chat, OutboxMessage
from tests.delivery.helpers import SessionFactory, add_chat, outbox_rows, queue_digest, statuses

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def claim(
    session_factory: SessionFactory, owner: str, now: datetime = NOW, limit: int = 100
) -> list[outbox.OutboxItem]:
    async with session_factory() as session:
        items = await outbox.claim_batch(session, owner=owner, now=now, lease=LEASE, limit=limit)
        await session.commit()
    return items


async def test_claim_leases_rows_once_until_the_lease_ends(session_factory: SessionFactory) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(session_factory, chat_id, now=NOW)
        await queue_digest(session_factory, chat_id, [f"<b>Дайджест</b> для {chat_id}"], now=NOW)

    first = await claim(session_factory, "worker-a")
    assert sorted(item.chat_id for item in first) == [1, 2, 3]
    assert all(item.attempts == 1 for item in first)
    assert all(item.lease_until == NOW + LEASE for item in first)
    assert await claim(session_factory, "worker-b", NOW + timedelta(seconds=29)) == []
    assert (await statuses(session_factory))["sending"] == 3

    async with session_factory() as session:
        await outbox.mark_sent(session, first[0].id, telegram_message_id=77, now=NOW)
        await session.commit()
    again = await claim(session_factory, "worker-b", NOW + timedelta(seconds=31))
    assert sorted(item.id for item in again) == sorted(item.id for item in first[1:])
    assert all(item.attempts == 2 for item in again)
    rows = {row.id: row for row in await outbox_rows(session_factory)}
    assert rows[first[0].id].status == "sent"
    assert rows[first[0].id].telegram_message_id == 77
    assert {rows[item.id].lease_owner for item in again} == {"worker-b"}


async def test_parts_of_a_chat_are_claimed_one_after_another(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 5, now=NOW)
    await add_chat(session_factory, 6, now=NOW)
    await queue_digest(session_factory, 5, ["часть 1", "часть 2", "часть 3"], now=NOW)
    await queue_digest(session_factory, 6, ["единственная часть"], now=NOW)

    items = await claim(session_factory, "w")
    assert [(item.chat_id, item.part) for item in items] == [(5, 0), (6, 0)]
    assert await claim(session_factory, "w") == []
    async with session_factory() as session:
        for item in items:
            await outbox.mark_sent(session, item.id, telegram_message_id=1, now=NOW)
        await session.commit()
    second = await claim(session_factory, "w")
    assert [(item.chat_id, item.part, item.text) for item in second] == [(5, 1, "часть 2")]
    # A failed part does not hold back the rest; a part waiting for a retry does.
    async with session_factory() as session:
        await outbox.mark_retry(
            session, second[0].id, available_at=NOW + timedelta(minutes=1), error="сеть"
        )
        await session.commit()
    assert await claim(session_factory, "w") == []
    retried = await claim(session_factory, "w", NOW + timedelta(minutes=1))
    assert [(item.part, item.attempts) for item in retried] == [(1, 2)]
    async with session_factory() as session:
        await outbox.mark_failed(session, retried[0].id, "Bad Request: message is too long")
        await session.commit()
    third = await claim(session_factory, "w", NOW + timedelta(minutes=1))
    assert [(item.chat_id, item.part) for item in third] == [(5, 2)]


async def test_a_batch_of_deliveries_is_recorded_in_one_go_and_claims_come_in_order(
    session_factory: SessionFactory,
) -> None:
    for chat_id in (11, 12, 13, 14):
        await add_chat(session_factory, chat_id, now=NOW)
    # Queued at one moment (one available_at), except the last one, due earlier.
    for chat_id in (11, 12, 13):
        await queue_digest(session_factory, chat_id, [f"выпуск для {chat_id}"], now=NOW)
    await queue_digest(session_factory, 14, ["выпуск пораньше"], now=NOW - timedelta(minutes=5))

    items = await claim(session_factory, "w", limit=3)
    assert [item.chat_id for item in items] == [14, 11, 12]
    async with session_factory() as session:
        await outbox.mark_sent_many(
            session, [(items[0].id, 501), (items[2].id, 503)], now=NOW + timedelta(seconds=1)
        )
        await session.commit()
    rows = {row.chat_id: row for row in await outbox_rows(session_factory)}
    assert [(rows[c].status, rows[c].telegram_message_id) for c in (14, 11, 12, 13)] == [
        ("sent", 501),
        ("sending", None),
        ("sent", 503),
        ("pending", None),
    ]
    assert rows[14].lease_owner is None and rows[14].sent_at == NOW + timedelta(seconds=1)
    assert [item.chat_id for item in await claim(session_factory, "w")] == [13]


async def test_a_message_a_person_waits_for_goes_ahead_of_a_fan_out_queued_before(
    session_factory: SessionFactory,
) -> None:
    fan_out = list(range(21, 61))
    for chat_id in [*fan_out, 70, 71]:
        await add_chat(session_factory, chat_id, now=NOW)
    for chat_id in fan_out:
        await queue_digest(session_factory, chat_id, [f"выпуск для {chat_id}"], now=NOW)
    async with session_factory() as session:
        welcomes = [
            outbox.NewOutboxMessage(
                chat_id=chat_id,
                digest_key=f"welcome-{chat_id}",
                part=0,
                text="Свежее по вашим странам",
                kind="welcome",
                available_at=NOW + timedelta(seconds=seconds),
                priority=outbox.INTERACTIVE,
            )
            # 71's is due later (as a retry would be): not claimable at the first claim.
            for chat_id, seconds in ((70, 30), (71, 80))
        ]
        await outbox.enqueue(session, welcomes, now=NOW)
        await session.commit()

    first = await claim(session_factory, "w", now=NOW + timedelta(seconds=60), limit=3)
    # Before the first claim's leases end (at +90 s).
    later = await claim(session_factory, "w", now=NOW + timedelta(seconds=85), limit=2)

    assert [item.chat_id for item in first] == [70, 21, 22]
    assert [item.chat_id for item in later] == [71, 23]


async def test_retry_without_counting_the_attempt(session_factory: SessionFactory) -> None:
    await add_chat(session_factory, 9, now=NOW)
    await queue_digest(session_factory, 9, ["текст"], now=NOW)
    (item,) = await claim(session_factory, "w")
    async with session_factory() as session:
        await outbox.mark_retry(
            session, item.id, available_at=NOW, error="retry after 3", count_attempt=False
        )
        await session.commit()
    (again,) = await claim(session_factory, "w")
    assert again.attempts == 1
    async with session_factory() as session:
        assert await outbox.release_claims(session, "someone-else", [again.id], now=NOW) == 0
        assert await outbox.release_claims(session, "w", [again.id], now=NOW) == 1
        await session.commit()
    (third,) = await claim(session_factory, "w")
    assert third.attempts == 1


async def test_enqueue_keeps_the_first_copy_of_a_digest_part(
    session_factory: SessionFactory,
) -> None:
    await add_chat(session_factory, 3, now=NOW)
    first = [outbox.NewOutboxMessage(3, "2026-11-20", 0, "первый", article_ids=(1, 2))]
    second = [
        outbox.NewOutboxMessage(3, "2026-11-20", 0, "второй"),
        outbox.NewOutboxMessage(3, "2026-11-20", 1, "продолжение"),
    ]
    async with session_factory() as session:
        assert await outbox.enqueue(session, first, now=NOW) == 1
        assert await outbox.enqueue(session, second, now=NOW) == 1
        await session.commit()
    rows = await outbox_rows(session_factory)
    assert [(row.part, row.text, row.article_ids) for row in rows] == [
        (0, "первый", "1,2"),
        (1, "продолжение", ""),
    ]


async def test_skip_and_counts(session_factory: SessionFactory) -> None:
    await add_chat(session_factory, 1, now=NOW)
    await add_chat(session_factory, 2, now=NOW)
    await queue_digest(session_factory, 1, ["а", "б"], now=NOW)
    await queue_digest(session_factory, 2, ["в"], now=NOW)
    async with session_factory() as session:
        assert (
            await outbox.skip_chat_rows(session, 1, "Forbidden: bot was blocked by the user") == 2
        )
        await session.commit()
        counts = await outbox.outbox_counts(session)
    assert counts == {"pending": 1, "sending": 0, "sent": 0, "failed": 0, "skipped": 2}
    assert [item.chat_id for item in await claim(session_factory, "w")] == [2]


async def test_rows_follow_a_migrated_group(session_factory: SessionFactory) -> None:
    await add_chat(session_factory, -100, now=NOW)
    await queue_digest(session_factory, -100, ["раз", "два"], now=NOW)
    async with session_factory() as session:
        await chat_repo.migrate_chat(session, -100, -1001234567890)
        await outbox.move_chat_rows(session, -100, -1001234567890)
        await session.commit()
    rows = await outbox_rows(session_factory)
    assert {row.chat_id for row in rows} == {-1001234567890}
    # The new chat already exists and already has part 0 of the same digest.
    await add_chat(session_factory, -200, now=NOW)
    await add_chat(session_factory, -1009, now=NOW)
    await queue_digest(session_factory, -200, ["старый 0", "старый 1"], now=NOW)
    await queue_digest(session_factory, -1009, ["новый 0"], now=NOW)
    async with session_factory() as session:
        assert await outbox.move_chat_rows(session, -200, -1009) == 1
        await chat_repo.migrate_chat(session, -200, -1009)
        await session.commit()
        texts = list(
            await session.scalars(
                select(OutboxMessage.text)
                .where(OutboxMessage.chat_id == -1009)
                .order_by(OutboxMessage.part)
            )
        )
        assert await session.get(Chat, -200) is None
    assert texts == ["новый 0", "старый 1"]


async def test_concurrent_claimers_never_share_a_row(
    session_factory: SessionFactory, database_url: str
) -> None:
    for chat_id in range(1, 301):
        await add_chat(session_factory, chat_id, now=NOW)
    async with session_factory() as session:
        await outbox.enqueue(
            session,
            [outbox.NewOutboxMessage(c, "2026-11-20", 0, f"т{c}") for c in range(1, 301)],
            now=NOW,
        )
        await session.commit()
    engines = [create_engine(database_url) for _ in range(4)]

    async def worker(index: int) -> list[int]:
        factory = create_session_factory(engines[index])
        claimed: list[int] = []
        while True:
            items = await claim(factory, f"w{index}", limit=7)
            if not items:
                return claimed
            claimed.extend(item.id for item in items)
            await asyncio.sleep(0)

    try:
        results = await asyncio.gather(*(worker(i) for i in range(4)))
    finally:
        for engine in engines:
            await engine.dispose()
    everything = [item_id for result in results for item_id in result]
    assert len(everything) == len(set(everything)) == 300
    assert sum(1 for result in results if result) >= 2
