"""Two multi-row updates of one sender's rows on PostgreSQL (renewing leases while a batch
of sends is recorded) wait for each other instead of deadlocking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import outbox
from storage.models import OutboxMessage
from tests.delivery.helpers import SessionFactory, add_chats_bulk
from tests.support.databases import require_postgres

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OWNER = "sender-1"
CHATS = 2000


@pytest.fixture
def database_backend() -> str:
    require_postgres()
    return "postgresql"


async def test_renewing_leases_and_recording_sends_of_the_same_rows_do_not_deadlock(
    session_factory: SessionFactory,
) -> None:
    # A fan-out's worth of rows: on a handful PostgreSQL plans the recording differently.
    chats = range(1, CHATS + 1)
    await add_chats_bulk(session_factory, chats, next_at=NOW)
    async with session_factory() as session:
        await outbox.enqueue(
            session,
            [
                outbox.NewOutboxMessage(
                    chat_id=chat_id, digest_key="2026-11-20", part=0, text=f"выпуск {chat_id}"
                )
                for chat_id in chats
            ],
            now=NOW,
        )
        await session.commit()
    async with session_factory() as session:
        claimed = await outbox.claim_batch(
            session, owner=OWNER, now=NOW, lease=timedelta(seconds=30), limit=2
        )
        await session.commit()
    first, second = sorted(item.id for item in claimed)

    renewing = session_factory()
    try:
        # The renewal has the first row and is about to take the second (as one UPDATE
        # over both rows can, in its plan's order).
        await outbox.extend_leases(renewing, OWNER, [first], until=NOW + timedelta(minutes=1))
        # Recording the sends of both rows, the second one first.
        recording = asyncio.create_task(
            record(session_factory, [(second, 702), (first, 701)], NOW + timedelta(seconds=1))
        )
        await asyncio.sleep(0.5)
        assert not recording.done()
        await outbox.extend_leases(renewing, OWNER, [second], until=NOW + timedelta(minutes=1))
        await renewing.commit()
    finally:
        await renewing.close()

    await asyncio.wait_for(recording, timeout=10)
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.id, OutboxMessage.status, OutboxMessage.telegram_message_id
                ).where(OutboxMessage.id.in_([first, second]))
            )
        ).all()
    assert sorted(rows) == [(first, "sent", 701), (second, "sent", 702)]


async def record(
    session_factory: SessionFactory, sent: list[tuple[int, int | None]], now: datetime
) -> None:
    async with session_factory() as session:
        await outbox.mark_sent_many(session, sent, now=now)
        await session.commit()
