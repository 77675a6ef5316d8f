"""A chat's subscription and its schedule: the one place that sets `next_digest_at` (and
the weekly brief's `next_weekly_at`) outside the delivery passes.

Handlers call these instead of writing the schedule themselves, so that subscribing,
resuming and changing the time or the zone all agree on when the next digest comes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from delivery.schedule import is_valid_timezone, local_digest_date, next_digest_at
from storage.chats import ChatRecord, get_chat, save_chat, set_instant_topics, update_chat

# The weekly brief comes on Mondays (weekday 0) at the chat's digest time.
WEEKLY_WEEKDAY = 0


def usable_timezone(name: str) -> str:
    """The chat's zone, or UTC for a name the zone database does not know (any more)."""
    return name if is_valid_timezone(name) else "UTC"


def next_digest_for(chat: ChatRecord, now: datetime) -> datetime:
    """When the chat's next daily digest is due, counted from `now`."""
    return next_digest_at(chat.digest_time, usable_timezone(chat.timezone), now)


def next_weekly_for(chat: ChatRecord, now: datetime) -> datetime:
    """The chat's next Monday at its digest time, in its zone, after `now`."""
    zone = usable_timezone(chat.timezone)
    moment = next_digest_at(chat.digest_time, zone, now)
    while local_digest_date(moment, zone).weekday() != WEEKLY_WEEKDAY:
        moment = next_digest_at(chat.digest_time, zone, moment + timedelta(minutes=1))
    return moment


def _weekly_fields(chat: ChatRecord, now: datetime) -> dict[str, datetime | None]:
    return {"next_weekly_at": next_weekly_for(chat, now) if chat.weekly else None}


async def subscribe(
    session: AsyncSession,
    chat: ChatRecord,
    *,
    timezone: str | None = None,
    now: datetime | None = None,
) -> ChatRecord:
    """Marks the chat subscribed and active (also after a pause), in `timezone` if given,
    and schedules its next digest; returns the saved record. `chat` was read in this
    transaction."""
    moment = now or datetime.now(UTC)
    fields: dict[str, Any] = {}
    if timezone is not None:
        chat = replace(chat, timezone=timezone)
        fields["timezone"] = timezone
    return await save_chat(
        session,
        chat,
        **fields,
        subscribed=True,
        paused=False,
        active=True,
        next_digest_at=next_digest_for(chat, moment),
        **_weekly_fields(chat, moment),
    )


async def resume(
    session: AsyncSession, chat: ChatRecord, *, now: datetime | None = None
) -> ChatRecord:
    """Turns a paused (or blocked and back) chat's digest on again from its next slot."""
    moment = now or datetime.now(UTC)
    return await save_chat(
        session,
        chat,
        paused=False,
        active=True,
        next_digest_at=next_digest_for(chat, moment),
        # Instant messages start from what is new from now on, not the pause's backlog.
        instant_seen_until=moment,
        **_weekly_fields(chat, moment),
    )


async def pause(session: AsyncSession, chat: ChatRecord) -> ChatRecord:
    """No daily digest until `resume`; the schedule stays, the daily pass skips the chat."""
    return await save_chat(session, chat, paused=True)


async def change_schedule(
    session: AsyncSession,
    chat: ChatRecord,
    *,
    digest_time: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> ChatRecord:
    """A new digest time or zone; a subscribed chat's next digest moves with it. `chat`
    was read in this transaction."""
    fields: dict[str, Any] = {}
    if digest_time is not None:
        fields["digest_time"] = digest_time
    if timezone is not None:
        fields["timezone"] = timezone
    if chat.subscribed:
        moment = now or datetime.now(UTC)
        moved = replace(
            chat,
            digest_time=digest_time or chat.digest_time,
            timezone=timezone or chat.timezone,
        )
        fields["next_digest_at"] = next_digest_for(moved, moment)
        fields.update(_weekly_fields(moved, moment))
    if not fields:
        return chat
    return await save_chat(session, chat, **fields)


async def change_modes(
    session: AsyncSession,
    chat: ChatRecord,
    *,
    daily: bool | None = None,
    weekly: bool | None = None,
    instant_topics: Collection[str] | None = None,
    now: datetime | None = None,
) -> ChatRecord:
    """Turns delivery modes on or off. Turning weekly on schedules the next Monday brief;
    turning instant on starts from the articles stored from now on."""
    moment = now or datetime.now(UTC)
    fields: dict[str, Any] = {}
    if daily is not None:
        fields["daily"] = daily
    if weekly is not None and weekly != chat.weekly:
        fields["weekly"] = weekly
        fields["next_weekly_at"] = next_weekly_for(chat, moment) if weekly else None
    if instant_topics is not None:
        if instant_topics and not chat.instant_topics:
            fields["instant_seen_until"] = moment
            fields["next_instant_at"] = None
        await set_instant_topics(session, chat.id, instant_topics)
    if fields:
        await update_chat(session, chat.id, **fields)
    return await _reloaded(session, chat.id)


async def _reloaded(session: AsyncSession, chat_id: int) -> ChatRecord:
    chat = await get_chat(session, chat_id)
    if chat is None:
        raise LookupError(f"no chat with id {chat_id}")
    return chat
