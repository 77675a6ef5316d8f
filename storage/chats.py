"""Chat repository: subscribers, their preferences and what they have been sent."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.articles import insert_ignoring_conflicts
from storage.models import Chat, ChatCountry, ChatTopic, SentArticle

UPDATABLE_FIELDS = frozenset(
    {
        "type",
        "title",
        "language",
        "timezone",
        "digest_time",
        "next_digest_at",
        "last_digest_at",
        "notify_empty",
        "subscribed",
        "active",
        "paused",
    }
)


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: int
    type: str
    title: str | None
    language: str
    timezone: str
    digest_time: str
    next_digest_at: datetime | None
    last_digest_at: datetime | None
    notify_empty: bool
    subscribed: bool
    active: bool
    paused: bool
    countries: frozenset[str]
    topics: frozenset[str]


async def _record(session: AsyncSession, chat: Chat) -> ChatRecord:
    countries = await session.scalars(
        select(ChatCountry.country).where(ChatCountry.chat_id == chat.id)
    )
    topics = await session.scalars(select(ChatTopic.topic).where(ChatTopic.chat_id == chat.id))
    return ChatRecord(
        id=chat.id,
        type=chat.type,
        title=chat.title,
        language=chat.language,
        timezone=chat.timezone,
        digest_time=chat.digest_time,
        next_digest_at=chat.next_digest_at,
        last_digest_at=chat.last_digest_at,
        notify_empty=chat.notify_empty,
        subscribed=chat.subscribed,
        active=chat.active,
        paused=chat.paused,
        countries=frozenset(countries),
        topics=frozenset(topics),
    )


async def get_chat(session: AsyncSession, chat_id: int) -> ChatRecord | None:
    chat = await session.get(Chat, chat_id, populate_existing=True)
    return await _record(session, chat) if chat else None


async def ensure_chat(
    session: AsyncSession,
    chat_id: int,
    *,
    type: str,
    title: str | None,
    language: str,
    timezone: str,
    digest_time: str,
) -> tuple[ChatRecord, bool]:
    """Returns the chat, creating it with the given defaults; reactivates an inactive one."""
    chat = await session.get(Chat, chat_id, populate_existing=True)
    created = chat is None
    if chat is None:
        chat = Chat(
            id=chat_id,
            type=type,
            title=title,
            language=language,
            timezone=timezone,
            digest_time=digest_time,
            notify_empty=False,
            subscribed=False,
            active=True,
            paused=False,
        )
        session.add(chat)
    else:
        chat.active = True
        if title:
            chat.title = title
    await session.flush()
    return await _record(session, chat), created


async def update_chat(session: AsyncSession, chat_id: int, **fields: Any) -> None:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"unknown chat fields: {sorted(unknown)}")
    await session.execute(update(Chat).where(Chat.id == chat_id).values(**fields))


async def set_countries(session: AsyncSession, chat_id: int, codes: Iterable[str]) -> None:
    await session.execute(delete(ChatCountry).where(ChatCountry.chat_id == chat_id))
    rows = [{"chat_id": chat_id, "country": code} for code in sorted(set(codes))]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, ChatCountry), rows)


async def set_topics(session: AsyncSession, chat_id: int, topics: Iterable[str]) -> None:
    await session.execute(delete(ChatTopic).where(ChatTopic.chat_id == chat_id))
    rows = [{"chat_id": chat_id, "topic": topic} for topic in sorted(set(topics))]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, ChatTopic), rows)


async def delete_chat(session: AsyncSession, chat_id: int) -> bool:
    result = await session.execute(delete(Chat).where(Chat.id == chat_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def migrate_chat(session: AsyncSession, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its settings and history move to the new id."""
    if await session.get(Chat, new_id) is not None:
        await session.execute(delete(Chat).where(Chat.id == old_id))
        return
    await session.execute(
        update(Chat).where(Chat.id == old_id).values(id=new_id, type="supergroup")
    )


async def due_chats(session: AsyncSession, now: datetime, *, limit: int = 1000) -> list[ChatRecord]:
    query = (
        select(Chat)
        .where(Chat.subscribed.is_(True), Chat.active.is_(True), Chat.paused.is_(False))
        .where(Chat.next_digest_at.is_not(None), Chat.next_digest_at <= now)
        .order_by(Chat.next_digest_at, Chat.id)
        .limit(limit)
    )
    return [await _record(session, chat) for chat in await session.scalars(query)]


async def list_chats(session: AsyncSession, *, subscribed_only: bool = True) -> list[ChatRecord]:
    query = select(Chat).order_by(Chat.id)
    if subscribed_only:
        query = query.where(Chat.subscribed.is_(True))
    return [await _record(session, chat) for chat in await session.scalars(query)]


async def record_sent(session: AsyncSession, chat_id: int, article_ids: Iterable[int]) -> None:
    rows = [{"chat_id": chat_id, "article_id": article_id} for article_id in set(article_ids)]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, SentArticle), rows)


async def sent_article_ids(
    session: AsyncSession, chat_id: int, candidates: Collection[int] | None = None
) -> set[int]:
    query = select(SentArticle.article_id).where(SentArticle.chat_id == chat_id)
    if candidates is not None:
        if not candidates:
            return set()
        query = query.where(SentArticle.article_id.in_(list(candidates)))
    return set(await session.scalars(query))
