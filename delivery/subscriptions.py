"""A chat's subscription and its schedule: the one place that sets `next_digest_at`
outside the daily pass.

Handlers call these instead of writing the schedule themselves, so that subscribing,
resuming and changing the time or the zone all agree on when the next digest comes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from delivery.schedule import is_valid_timezone, next_digest_at
from storage.chats import ChatRecord, get_chat, update_chat


def usable_timezone(name: str) -> str:
    """The chat's zone, or UTC for a name the zone database does not know (any more)."""
    return name if is_valid_timezone(name) else "UTC"


def next_digest_for(chat: ChatRecord, now: datetime) -> datetime:
    """When the chat's next daily digest is due, counted from `now`."""
    return next_digest_at(chat.digest_time, usable_timezone(chat.timezone), now)


async def subscribe(
    session: AsyncSession, chat: ChatRecord, *, now: datetime | None = None
) -> ChatRecord:
    """Marks the chat subscribed and active (also after a pause) and schedules its next
    digest; returns the saved record."""
    when = next_digest_for(chat, now or datetime.now(UTC))
    await update_chat(
        session, chat.id, subscribed=True, paused=False, active=True, next_digest_at=when
    )
    return await _reloaded(session, chat.id)


async def resume(
    session: AsyncSession, chat: ChatRecord, *, now: datetime | None = None
) -> ChatRecord:
    """Turns a paused (or blocked and back) chat's digest on again from its next slot."""
    when = next_digest_for(chat, now or datetime.now(UTC))
    await update_chat(session, chat.id, paused=False, active=True, next_digest_at=when)
    return await _reloaded(session, chat.id)


async def pause(session: AsyncSession, chat: ChatRecord) -> ChatRecord:
    """No daily digest until `resume`; the schedule stays, the daily pass skips the chat."""
    await update_chat(session, chat.id, paused=True)
    return await _reloaded(session, chat.id)


async def change_schedule(
    session: AsyncSession,
    chat: ChatRecord,
    *,
    digest_time: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> ChatRecord:
    """A new digest time or zone; a subscribed chat's next digest moves with it."""
    fields: dict[str, str] = {}
    if digest_time is not None:
        fields["digest_time"] = digest_time
    if timezone is not None:
        fields["timezone"] = timezone
    if fields:
        await update_chat(session, chat.id, **fields)
    updated = await _reloaded(session, chat.id)
    if updated.subscribed:
        when = next_digest_for(updated, now or datetime.now(UTC))
        await update_chat(session, chat.id, next_digest_at=when)
        updated = await _reloaded(session, chat.id)
    return updated


async def _reloaded(session: AsyncSession, chat_id: int) -> ChatRecord:
    chat = await get_chat(session, chat_id)
    if chat is None:
        raise LookupError(f"no chat with id {chat_id}")
    return chat
