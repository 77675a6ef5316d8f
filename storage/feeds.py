"""Feed repository: the feed list and each feed's health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Feed

# A feed's title is shown as one line of /feeds and as the source of its articles.
MAX_FEED_TITLE_LENGTH = 200
# The width of the url column, and more than any real feed address needs.
MAX_FEED_URL_LENGTH = 2048
ELLIPSIS = "…"


class FeedUrlTooLong(ValueError):
    """A feed address longer than MAX_FEED_URL_LENGTH; the message is one line."""

    def __init__(self, url: str) -> None:
        self.length = len(url)
        super().__init__(
            f"feed URL is too long: {self.length} characters, at most {MAX_FEED_URL_LENGTH}"
        )


def check_feed_url(url: str) -> str:
    """`url` when it is short enough to be a feed's address; otherwise FeedUrlTooLong."""
    if len(url) > MAX_FEED_URL_LENGTH:
        raise FeedUrlTooLong(url)
    return url


def feed_title(title: str | None) -> str | None:
    """A feed title as it is stored: one line, at most MAX_FEED_TITLE_LENGTH characters,
    cut at a word boundary with "…" when longer; None when nothing is left."""
    text = " ".join((title or "").split())
    if not text:
        return None
    if len(text) <= MAX_FEED_TITLE_LENGTH:
        return text
    room = MAX_FEED_TITLE_LENGTH - len(ELLIPSIS)
    # One character more than fits shows whether a word ends right at the limit.
    space = text.rfind(" ", 0, room + 1)
    # A title of one endless word, or of a few very long ones, is cut where it must be.
    cut = text[:space] if space >= room // 2 else text[:room]
    return (cut.rstrip(" ,.;:-–—") or cut) + ELLIPSIS


@dataclass(frozen=True, slots=True)
class FeedRecord:
    id: int
    url: str
    title: str | None
    active: bool
    fetch_full_text: bool
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    total_items: int
    next_check_at: datetime | None
    created_at: datetime
    alert_state: str | None = None
    alert_changed_at: datetime | None = None


def _record(feed: Feed) -> FeedRecord:
    return FeedRecord(
        id=feed.id,
        url=feed.url,
        title=feed.title,
        active=feed.active,
        fetch_full_text=feed.fetch_full_text,
        etag=feed.etag,
        last_modified=feed.last_modified,
        body_hash=feed.body_hash,
        last_checked_at=feed.last_checked_at,
        last_success_at=feed.last_success_at,
        last_new_item_at=feed.last_new_item_at,
        last_error=feed.last_error,
        last_error_at=feed.last_error_at,
        consecutive_failures=feed.consecutive_failures,
        total_items=feed.total_items,
        next_check_at=feed.next_check_at,
        created_at=feed.created_at,
        alert_state=feed.alert_state,
        alert_changed_at=feed.alert_changed_at,
    )


async def add_feed(
    session: AsyncSession, url: str, *, title: str | None = None, fetch_full_text: bool = True
) -> tuple[FeedRecord, bool]:
    """Adds a feed, or reactivates the existing one; returns it and whether it was new.

    The title is capped (feed_title); an over-long URL raises FeedUrlTooLong."""
    check_feed_url(url)
    title = feed_title(title)
    existing = await session.scalar(select(Feed).where(Feed.url == url))
    if existing is not None:
        if not existing.active:
            existing.active = True
            existing.consecutive_failures = 0
            existing.next_check_at = None
        if title and not existing.title:
            existing.title = title
        await session.flush()
        return _record(existing), False
    feed = Feed(
        url=url,
        title=title,
        fetch_full_text=fetch_full_text,
        active=True,
        consecutive_failures=0,
        total_items=0,
    )
    session.add(feed)
    await session.flush()
    return _record(feed), True


async def get_feed(session: AsyncSession, feed_id: int) -> FeedRecord | None:
    feed = await session.get(Feed, feed_id)
    return _record(feed) if feed else None


async def list_feeds(session: AsyncSession, *, active_only: bool = False) -> list[FeedRecord]:
    query = select(Feed).order_by(Feed.id)
    if active_only:
        query = query.where(Feed.active.is_(True))
    return [_record(feed) for feed in await session.scalars(query)]


async def remove_feed(session: AsyncSession, feed_id: int) -> bool:
    result = await session.execute(delete(Feed).where(Feed.id == feed_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due_feeds(session: AsyncSession, now: datetime) -> list[FeedRecord]:
    query = (
        select(Feed)
        .where(Feed.active.is_(True))
        .where(or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
        .order_by(Feed.next_check_at.is_not(None), Feed.next_check_at, Feed.id)
    )
    return [_record(feed) for feed in await session.scalars(query)]


async def claim_due_feeds(
    session: AsyncSession, now: datetime, *, owner: str, lease: timedelta, limit: int
) -> list[FeedRecord]:
    """Claims up to `limit` due feeds for `owner` until `now + lease` and returns them.

    For several ingest workers on PostgreSQL: FOR UPDATE SKIP LOCKED hands concurrent
    claims different rows, and a claimed feed is not claimable again until its poll is
    recorded (record_* clears the claim and moves next_check_at) or its lease ends (the
    worker died). Call inside a transaction and commit right after."""
    query = (
        select(Feed.id)
        .where(Feed.active.is_(True))
        .where(or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
        .where(or_(Feed.claimed_until.is_(None), Feed.claimed_until < now))
        .order_by(Feed.next_check_at.is_not(None), Feed.next_check_at, Feed.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(await session.scalars(query))
    if not ids:
        return []
    await session.execute(
        update(Feed)
        .where(Feed.id.in_(ids))
        .values(claimed_until=now + lease, claimed_by=owner[:64])
        .execution_options(synchronize_session=False)
    )
    feeds = await session.scalars(select(Feed).where(Feed.id.in_(ids)).order_by(Feed.id))
    return [_record(feed) for feed in feeds]


async def record_success(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    new_items: int,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    title: str | None = None,
) -> None:
    values: dict[str, object] = {
        "last_checked_at": now,
        "last_success_at": now,
        "next_check_at": next_check_at,
        "consecutive_failures": 0,
        "etag": etag,
        "last_modified": last_modified,
        "body_hash": body_hash,
        "total_items": Feed.total_items + new_items,
        "claimed_until": None,
        "claimed_by": None,
    }
    if new_items:
        values["last_new_item_at"] = now
    title = feed_title(title)
    if title:
        # A title set by an admin or an earlier poll wins over the feed's own.
        values["title"] = func.coalesce(Feed.title, title)
    await session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


async def record_unchanged(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """A poll that found nothing new (304, or the same body); fresh validators are kept."""
    values: dict[str, object] = {
        "last_checked_at": now,
        "last_success_at": now,
        "next_check_at": next_check_at,
        "consecutive_failures": 0,
        "claimed_until": None,
        "claimed_by": None,
    }
    if etag is not None:
        values["etag"] = etag
    if last_modified is not None:
        values["last_modified"] = last_modified
    await session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


async def record_failure(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    error: str,
    next_check_at: datetime,
    deactivate: bool,
) -> None:
    values: dict[str, object] = {
        "last_checked_at": now,
        "last_error": error[:2000],
        "last_error_at": now,
        "next_check_at": next_check_at,
        "consecutive_failures": Feed.consecutive_failures + 1,
        "claimed_until": None,
        "claimed_by": None,
    }
    if deactivate:
        values["active"] = False
    await session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


async def set_alert_states(
    session: AsyncSession, states: Mapping[int, str | None], *, now: datetime
) -> None:
    """Records, per feed id, the condition the admins have now been told about."""
    for feed_id, state in states.items():
        await session.execute(
            update(Feed).where(Feed.id == feed_id).values(alert_state=state, alert_changed_at=now)
        )
