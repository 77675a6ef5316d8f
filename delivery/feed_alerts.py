"""Warnings to the bot's admins when a feed goes silent, starts failing or is switched off,
and a word when it recovers.

After each poll the feeds' conditions are compared with what the admins were last told
(feeds.alert_state). The changes go to every admin as one message through the outbox, in
the same transaction that records them as told: a crash can neither lose a warning nor
repeat one, and the sender's rate limits and error handling apply as to any digest.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for, ngettext_for
from core.settings import Settings
from digests.render import split_html_items
from ingest.health import FeedCondition, HealthChange, HealthPolicy, health_changes, silent_since
from storage import chats as chat_repo
from storage import feeds as feed_repo
from storage import outbox

logger = logging.getLogger(__name__)

ALERT_KIND = "feed_alert"
MAX_ERROR_LENGTH = 200


def health_policy(settings: Settings) -> HealthPolicy:
    return HealthPolicy(
        failing_after=settings.feed_failing_after,
        silent_after=timedelta(hours=settings.feed_silent_hours),
    )


def _duration(span: timedelta, language: str) -> str:
    ngettext = ngettext_for(language)
    hours = int(span.total_seconds() // 3600)
    if hours < 48:
        return ngettext("{n} hour", "{n} hours", hours).format(n=hours)
    days = hours // 24
    return ngettext("{n} day", "{n} days", days).format(n=days)


def _last_error(change: HealthChange) -> str:
    error = (change.feed.last_error or "").strip()
    return html.escape(error.splitlines()[0][:MAX_ERROR_LENGTH] if error else "")


def alert_block(change: HealthChange, *, language: str, now: datetime) -> str:
    """One feed's change, in Telegram HTML, in the admin's language."""
    _ = gettext_for(language)
    ngettext = ngettext_for(language)
    feed = change.feed
    title = html.escape(feed.title or feed.url)
    failures = feed.consecutive_failures
    lines: list[str]
    if change.current is FeedCondition.FAILING:
        lines = [
            _("❌ <b>#{id}</b> {title} is failing").format(id=feed.id, title=title),
            ngettext("{n} failed check in a row", "{n} failed checks in a row", failures).format(
                n=failures
            ),
            _("last error: {error}").format(error=_last_error(change)),
        ]
    elif change.current is FeedCondition.SWITCHED_OFF:
        lines = [
            _("⏸ <b>#{id}</b> {title} is switched off").format(id=feed.id, title=title),
            ngettext("{n} failed check in a row", "{n} failed checks in a row", failures).format(
                n=failures
            ),
            _("last error: {error}").format(error=_last_error(change)),
            _("To turn it back on: /addfeed {url}").format(url=html.escape(feed.url)),
        ]
    elif change.current is FeedCondition.SILENT:
        lines = [
            _("⚠️ <b>#{id}</b> {title} has gone silent").format(id=feed.id, title=title),
            _("nothing new for {duration}").format(
                duration=_duration(now - silent_since(feed), language)
            ),
        ]
    elif change.previous is FeedCondition.FAILING:
        lines = [_("✅ <b>#{id}</b> {title} works again").format(id=feed.id, title=title)]
    else:
        lines = [_("✅ <b>#{id}</b> {title} publishes again").format(id=feed.id, title=title)]
    if change.current is not FeedCondition.SWITCHED_OFF:
        lines.append(f"<code>{html.escape(feed.url)}</code>")
    return "\n".join(lines) + "\n"


def alert_messages(changes: Sequence[HealthChange], *, language: str, now: datetime) -> list[str]:
    """All the changes of one poll for one admin, in as few messages as fit."""
    _ = gettext_for(language)
    told = [change for change in changes if change.worth_telling]
    if not told:
        return []
    header = _("<b>Feed health</b>")
    blocks = [alert_block(change, language=language, now=now) for change in told]
    return split_html_items(header + "\n", blocks)


def _alert_key(changes: Sequence[HealthChange], now: datetime) -> str:
    """Unique per poll and set of changes: the outbox keeps one row per chat and key."""
    told = ",".join(sorted(f"{change.feed.id}:{change.current.value}" for change in changes))
    digest = hashlib.sha1(told.encode(), usedforsecurity=False).hexdigest()[:16]
    return f"feeds:{now:%Y%m%dT%H%M%S}:{digest}"


async def _admin_language(session: AsyncSession, admin_id: int, settings: Settings) -> str | None:
    """The admin's chat language; None when the admin has blocked the bot. An admin who
    never wrote to the bot gets a chat row, so that the warning can wait in the outbox."""
    chat = await chat_repo.get_chat(session, admin_id)
    if chat is None:
        chat, _created = await chat_repo.ensure_chat(
            session,
            admin_id,
            type="private",
            title=None,
            language="ru",
            timezone=settings.default_timezone,
            digest_time=settings.default_digest_time,
        )
    return chat.language if chat.active else None


async def queue_feed_alerts(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    admin_ids: Collection[int] | None = None,
) -> int:
    """Queues the admins' messages about feeds whose condition changed; returns how many."""
    admins = settings.admin_ids if admin_ids is None else admin_ids
    async with session_factory() as session:
        changes = health_changes(await feed_repo.list_feeds(session), now, health_policy(settings))
        if not changes:
            return 0
        key = _alert_key(changes, now)
        queued: list[outbox.NewOutboxMessage] = []
        for admin_id in sorted(admins):
            language = await _admin_language(session, admin_id, settings)
            if language is None:
                continue
            for part, text in enumerate(alert_messages(changes, language=language, now=now)):
                queued.append(
                    outbox.NewOutboxMessage(
                        chat_id=admin_id,
                        digest_key=key,
                        part=part,
                        kind=ALERT_KIND,
                        text=text,
                    )
                )
        added = await outbox.enqueue(session, queued, now=now)
        await feed_repo.set_alert_states(
            session,
            {
                change.feed.id: None if change.current is FeedCondition.FINE else change.current
                for change in changes
            },
            now=now,
        )
        await session.commit()
    for change in changes:
        logger.info(
            "feed %s: %s -> %s", change.feed.id, change.previous.value, change.current.value
        )
    return added
