"""Rows the scale tests start from, written with the product's repositories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from storage import chats as chat_repo
from storage import outbox
from storage.db import create_engine, create_session_factory

ZONE = "Asia/Omsk"


async def subscribed_chats(url: str, chat_ids: Iterable[int], *, due_at: datetime) -> None:
    """Private chats subscribed to Uzbekistan news, due at `due_at`, told about empty days
    (so that every due chat gets one message a day, articles or not)."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            for chat_id in chat_ids:
                await chat_repo.ensure_chat(
                    session,
                    chat_id,
                    type="private",
                    title=None,
                    language="ru",
                    timezone=ZONE,
                    digest_time="09:00",
                )
                await chat_repo.set_countries(session, chat_id, ["UZ"])
                await chat_repo.update_chat(
                    session, chat_id, subscribed=True, notify_empty=True, next_digest_at=due_at
                )
            await session.commit()
    finally:
        await engine.dispose()


async def queued_messages(url: str, chat_ids: Iterable[int], *, key: str) -> None:
    """One pending outbox message per chat (the chats must exist)."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            await outbox.enqueue(
                session,
                [
                    outbox.NewOutboxMessage(
                        chat_id=chat_id,
                        digest_key=key,
                        part=0,
                        text=f"Дайджест за сегодня: новости сотрудничества, выпуск для {chat_id}",
                    )
                    for chat_id in chat_ids
                ],
                now=datetime.now(UTC),
            )
            await session.commit()
    finally:
        await engine.dispose()
