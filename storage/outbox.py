"""The delivery outbox: messages due to chats, claimed with a lease by delivery workers.

This is the one place that claims rows. A row is `pending` until a worker claims it
(`sending`, with `lease_until` and `lease_owner`), then `sent`, `failed` or `skipped`; a
retry puts it back to `pending` with a later `available_at`. A worker that dies leaves its
rows `sending`: once their lease has ended, any worker claims them again.

Parts of one chat go out in order: a row is claimable only when no earlier row of the same
chat (by id) is still pending or being sent. Across chats, claims go by priority, then
available_at, then id: a message a person is waiting for (INTERACTIVE, the first articles
after subscribing) goes ahead of a fan-out queued before it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, any_, bindparam, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import ARRAY

from storage.articles import insert_ignoring_conflicts
from storage.models import OutboxMessage
from storage.types import UTCDateTime

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES: tuple[str, ...] = (PENDING, SENDING, SENT, FAILED, SKIPPED)
UNFINISHED: tuple[str, ...] = (PENDING, SENDING)
FINISHED: tuple[str, ...] = tuple(status for status in STATUSES if status not in UNFINISHED)
MAX_ERROR_LENGTH = 1000
INTERACTIVE = 0
BULK = 1


@dataclass(frozen=True, slots=True)
class NewOutboxMessage:
    chat_id: int
    digest_key: str
    part: int
    text: str
    kind: str = "digest"
    digest_date: date | None = None
    reply_markup: str | None = None
    article_ids: tuple[int, ...] = ()
    available_at: datetime | None = None
    thread_id: int | None = None
    media_id: int | None = None
    priority: int = BULK


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    digest_key: str
    part: int
    kind: str
    text: str
    reply_markup: str | None
    article_ids: tuple[int, ...]
    attempts: int
    lease_until: datetime | None
    thread_id: int | None = None
    media_id: int | None = None


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def _update_rows() -> Any:
    # Plain UPDATE statements: no ORM objects of these rows live in the session.
    return update(OutboxMessage).execution_options(synchronize_session=False)


def _join_ids(ids: Iterable[int]) -> str:
    return ",".join(str(article_id) for article_id in ids)


def _split_ids(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR_LENGTH else error[: MAX_ERROR_LENGTH - 1] + "…"


async def enqueue(
    session: AsyncSession, messages: Sequence[NewOutboxMessage], *, now: datetime
) -> int:
    """Adds messages; one already queued for the same chat, digest key and part is kept
    as it is. Returns how many rows were added."""
    if not messages:
        return 0
    rows = [
        {
            "chat_id": message.chat_id,
            "digest_key": message.digest_key,
            "digest_date": message.digest_date,
            "part": message.part,
            "kind": message.kind,
            "text": message.text,
            "reply_markup": message.reply_markup,
            "article_ids": _join_ids(message.article_ids),
            "status": PENDING,
            "attempts": 0,
            "available_at": message.available_at or now,
            "created_at": now,
            "thread_id": message.thread_id,
            "media_id": message.media_id,
            "priority": message.priority,
        }
        for message in messages
    ]
    table: Any = OutboxMessage.__table__
    # The table, not the mapped class: a plain executemany without the ORM's bookkeeping.
    statement = insert_ignoring_conflicts(session, table).returning(table.c.id)
    result = await session.execute(statement, rows)
    return len(result.all())


_OUTBOX: Any = OutboxMessage.__table__
_EARLIER: Any = _OUTBOX.alias("earlier")
_NO_EARLIER_UNFINISHED_ROW = ~exists().where(
    _EARLIER.c.chat_id == _OUTBOX.c.chat_id,
    _EARLIER.c.id < _OUTBOX.c.id,
    # "Not finished" rather than "pending or sending": the same rows, but a condition
    # no index can serve, so that PostgreSQL looks the earlier rows up by chat alone.
    # Otherwise, on a table not analysed yet (a broadcast queued a moment ago), it
    # combined the chat index with the status index for every due row: seconds per
    # claim at 10,000 rows.
    _EARLIER.c.status.not_in(FINISHED),
)

# For the claim's transaction only (set_config's `true`). plan_cache_mode: a prepared
# statement run often gets a generic plan, made once for any values and any table
# contents; one made while the outbox was empty (an idle sender polls) took a quarter to
# half a second per claim at 10,000 due rows. No bitmap scans: the due rows are to be read
# from the claim index in its order, stopping at the limit. A queue's statistics mislead
# the planner when it matters most: on a table not analysed yet (the first broadcast),
# PostgreSQL collected every due row in a bitmap and sorted them, 40 ms per claim at
# 10,000 rows instead of 2. (Sorts stay on: with them off, the expired-lease query, which
# has to sort, took 200 ms.)
_CLAIM_PLANNER_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('enable_bitmapscan', 'off', true)"
)

_CLAIMED_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.chat_id,
    _OUTBOX.c.digest_key,
    _OUTBOX.c.part,
    _OUTBOX.c.kind,
    _OUTBOX.c.text,
    _OUTBOX.c.reply_markup,
    _OUTBOX.c.article_ids,
    _OUTBOX.c.attempts,
    _OUTBOX.c.lease_until,
    _OUTBOX.c.thread_id,
    _OUTBOX.c.media_id,
    _OUTBOX.c.available_at,
    _OUTBOX.c.priority,
)


@dataclass(frozen=True, slots=True)
class _ClaimStatements:
    """The statements of a claim, built once per dialect (a sender claims a batch every
    few dozen messages; building them each time cost more than running them)."""

    expired: Any
    lease_expired: Any
    lease_due: Any


@functools.cache
def _claim_statements(dialect: str) -> _ClaimStatements:
    def claimable(query: Any) -> Any:
        if dialect == "postgresql":
            return query.with_for_update(skip_locked=True, of=_OUTBOX)
        return query

    expired = claimable(
        select(_OUTBOX.c.id)
        .where(_OUTBOX.c.status == SENDING, _OUTBOX.c.lease_until < bindparam("now"))
        .where(_NO_EARLIER_UNFINISHED_ROW)
        .order_by(_OUTBOX.c.lease_until, _OUTBOX.c.id)
        .limit(bindparam("limit"))
    )
    due = claimable(
        select(_OUTBOX.c.id)
        .where(_OUTBOX.c.status == PENDING, _OUTBOX.c.available_at <= bindparam("now"))
        .where(_NO_EARLIER_UNFINISHED_ROW)
        .order_by(_OUTBOX.c.priority, _OUTBOX.c.available_at, _OUTBOX.c.id)
        .limit(bindparam("limit"))
    )

    def lease(chosen: Any) -> Any:
        """Leases the rows whose ids are `chosen` in one UPDATE … RETURNING."""
        return (
            update(_OUTBOX)
            .where(chosen)
            .values(
                status=SENDING,
                lease_until=bindparam("lease_end", type_=_OUTBOX.c.lease_until.type),
                lease_owner=bindparam("lease_holder", type_=_OUTBOX.c.lease_owner.type),
                attempts=_OUTBOX.c.attempts + 1,
            )
            .returning(*_CLAIMED_COLUMNS)
        )

    if dialect == "postgresql":
        # `id = ANY(ARRAY(subquery))`: PostgreSQL runs the subquery once, first (an
        # InitPlan), then finds those few rows by primary key. With `id IN (subquery)` it
        # chose the join by its estimates, and could hash the subquery's rows and scan
        # the whole outbox against them.
        due_ids = _OUTBOX.c.id == any_(func.array(due.scalar_subquery(), type_=ARRAY(Integer)))
    else:
        due_ids = _OUTBOX.c.id.in_(due.scalar_subquery())
    return _ClaimStatements(
        expired=expired,
        lease_expired=lease(_OUTBOX.c.id.in_(bindparam("ids", expanding=True))),
        lease_due=lease(due_ids),
    )


async def claim_batch(
    session: AsyncSession, *, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[OutboxItem]:
    """Claims up to `limit` due rows for `owner` until `now + lease`: rows whose lease has
    ended first (their worker died), then pending rows, by priority, then oldest first (by
    available_at, then id); returned in the order (priority, available_at, id).

    SQLite serialises writers (every transaction starts with BEGIN IMMEDIATE), so the
    select and the update below cannot interleave with another claim. PostgreSQL lets
    claims run side by side: FOR UPDATE SKIP LOCKED hands each worker different rows.
    Pending rows are taken by one UPDATE whose subquery walks the (status, priority,
    available_at, id) index in order and stops at `limit`. Call inside a transaction and
    commit right after.
    """
    dialect = _dialect(session)
    statements = _claim_statements(dialect)
    if dialect == "postgresql":
        await session.execute(_CLAIM_PLANNER_SETTINGS)
    leasing = {"lease_end": now + lease, "lease_holder": owner[:64]}
    expired_ids = list(await session.scalars(statements.expired, {"now": now, "limit": limit}))
    rows: list[Any] = []
    if expired_ids:
        rows += await session.execute(statements.lease_expired, {"ids": expired_ids, **leasing})
    if len(expired_ids) < limit:
        rows += await session.execute(
            statements.lease_due, {"now": now, "limit": limit - len(expired_ids), **leasing}
        )
    rows.sort(key=lambda row: (row.priority, _aware(row.available_at), row.id))
    return [
        OutboxItem(
            id=row.id,
            chat_id=row.chat_id,
            digest_key=row.digest_key,
            part=row.part,
            kind=row.kind,
            text=row.text,
            reply_markup=row.reply_markup,
            article_ids=_split_ids(row.article_ids),
            attempts=row.attempts,
            lease_until=row.lease_until,
            thread_id=row.thread_id,
            media_id=row.media_id,
        )
        for row in rows
    ]


_MARK_SENT_FROM_ARRAYS = text(
    f"""
    UPDATE outbox
    SET status = '{SENT}', telegram_message_id = sent.message_id, sent_at = :now,
        lease_until = NULL, lease_owner = NULL, last_error = NULL
    FROM unnest(CAST(:row_ids AS bigint[]), CAST(:message_ids AS bigint[]))
        AS sent(row_id, message_id)
    WHERE outbox.id = sent.row_id
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


async def mark_sent(
    session: AsyncSession, item_id: int, *, telegram_message_id: int | None, now: datetime
) -> None:
    await mark_sent_many(session, [(item_id, telegram_message_id)], now=now)


_LOCK_IN_ID_ORDER = text(
    "SELECT id FROM outbox WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
)


async def _lock_in_id_order(session: AsyncSession, ids: Collection[int]) -> None:
    """On PostgreSQL, locks the rows a multi-row update is about to change in id order.

    A sender records a batch of sends while it renews the leases of the rows it holds, on
    two connections, and the two sets can share rows: each UPDATE locked them in the order
    of its own plan, and PostgreSQL aborted one of the two as a deadlock (seen in a test
    run). Taken in one order, the second waits for the first instead."""
    if len(ids) > 1 and _dialect(session) == "postgresql":
        await session.execute(_LOCK_IN_ID_ORDER, {"ids": sorted(ids)})


async def mark_sent_many(
    session: AsyncSession, sent: Sequence[tuple[int, int | None]], *, now: datetime
) -> None:
    """Marks rows sent, each with the id Telegram gave its message: one statement run for
    every row (an executemany), meant for one transaction per batch of sends."""
    if not sent:
        return
    if _dialect(session) == "postgresql":
        await _lock_in_id_order(session, [row_id for row_id, _ in sent])
        # One statement over two arrays: an executemany is a statement run per row for
        # PostgreSQL to plan and the driver to bind.
        await session.execute(
            _MARK_SENT_FROM_ARRAYS,
            {
                "row_ids": [row_id for row_id, _ in sent],
                "message_ids": [message_id for _, message_id in sent],
                "now": now,
            },
        )
        return
    table: Any = OutboxMessage.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            status=SENT,
            telegram_message_id=bindparam("message_id"),
            sent_at=now,
            lease_until=None,
            lease_owner=None,
            last_error=None,
        )
    )
    await session.execute(
        statement, [{"row_id": row_id, "message_id": message_id} for row_id, message_id in sent]
    )


async def mark_failed(session: AsyncSession, item_id: int, error: str) -> None:
    """Gives up on a row; it is never claimed again."""
    await session.execute(
        _update_rows()
        .where(OutboxMessage.id == item_id)
        .values(status=FAILED, last_error=_clip(error), lease_until=None, lease_owner=None)
    )


async def mark_retry(
    session: AsyncSession,
    item_id: int,
    *,
    available_at: datetime,
    error: str,
    count_attempt: bool = True,
) -> None:
    """Puts a row back to pending until `available_at`. With `count_attempt=False` the
    claim that led here does not count (the row was held back, not tried and failed)."""
    values: dict[str, Any] = {
        "status": PENDING,
        "available_at": available_at,
        "last_error": _clip(error) if error else None,
        "lease_until": None,
        "lease_owner": None,
    }
    if not count_attempt:
        values["attempts"] = _one_attempt_less(session)
    await session.execute(_update_rows().where(OutboxMessage.id == item_id).values(**values))


def _one_attempt_less(session: AsyncSession) -> Any:
    greatest = func.greatest if _dialect(session) == "postgresql" else func.max
    return greatest(OutboxMessage.attempts - 1, 0)


async def release_claims(
    session: AsyncSession, owner: str, item_ids: Iterable[int], *, now: datetime
) -> int:
    """Hands rows claimed by `owner` but never sent back to the queue at once, without
    counting the attempt (a worker stopping cleanly)."""
    ids = list(item_ids)
    if not ids:
        return 0
    attempts = _one_attempt_less(session)
    await _lock_in_id_order(session, ids)
    result = await session.execute(
        _update_rows()
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == SENDING,
            OutboxMessage.lease_owner == owner[:64],
        )
        .values(
            status=PENDING, available_at=now, lease_until=None, lease_owner=None, attempts=attempts
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def extend_leases(
    session: AsyncSession, owner: str, item_ids: Iterable[int], *, until: datetime
) -> int:
    """Keeps rows that `owner` still holds (waiting out a pause) from being claimed again."""
    ids = list(item_ids)
    if not ids:
        return 0
    await _lock_in_id_order(session, ids)
    result = await session.execute(
        _update_rows()
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == SENDING,
            OutboxMessage.lease_owner == owner[:64],
        )
        .values(lease_until=until)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def clear_thread(session: AsyncSession, chat_id: int, thread_id: int) -> int:
    """Unsent rows of a chat addressed to a forum topic go to the general topic instead
    (the topic was deleted)."""
    result = await session.execute(
        _update_rows()
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.thread_id == thread_id,
            OutboxMessage.status.in_(UNFINISHED),
        )
        .values(thread_id=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def skip_chat_rows(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Every unsent row of a chat becomes `skipped` (the chat blocked the bot, left…)."""
    result = await session.execute(
        _update_rows()
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status.in_(UNFINISHED))
        .values(status=SKIPPED, last_error=_clip(reason), lease_until=None, lease_owner=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def move_chat_rows(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Re-addresses a chat's rows to its new id (a group that became a supergroup).

    The new chat must already exist. A row whose digest and part the new chat already has
    stays behind (and goes when the old chat is deleted)."""
    taken = aliased(OutboxMessage)
    clash = exists().where(
        taken.chat_id == new_chat_id,
        taken.digest_key == OutboxMessage.digest_key,
        taken.part == OutboxMessage.part,
    )
    result = await session.execute(
        _update_rows()
        .where(OutboxMessage.chat_id == old_chat_id, ~clash)
        .values(chat_id=new_chat_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def outbox_counts(session: AsyncSession) -> dict[str, int]:
    """Rows per status; every status is present, zero when there are none."""
    counts = dict.fromkeys(STATUSES, 0)
    rows = await session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status)
    )
    for status, count in rows:
        counts[status] = int(count)
    return counts


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """What is left to do: rows due now, the earliest later retry, rows leased out."""

    due: int
    next_available_at: datetime | None
    leased: int
    next_lease_end: datetime | None

    @property
    def empty(self) -> bool:
        return self.due == 0 and self.next_available_at is None and self.leased == 0


async def backlog(session: AsyncSession, *, now: datetime) -> OutboxBacklog:
    """Whether a worker draining the outbox has anything left to wait for."""
    pending_due = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.status == PENDING, OutboxMessage.available_at <= now
        )
    )
    next_available = await session.scalar(
        select(func.min(OutboxMessage.available_at)).where(
            OutboxMessage.status == PENDING, OutboxMessage.available_at > now
        )
    )
    leased, lease_end = (
        await session.execute(
            select(func.count(OutboxMessage.id), func.min(OutboxMessage.lease_until)).where(
                OutboxMessage.status == SENDING
            )
        )
    ).one()
    return OutboxBacklog(
        due=int(pending_due or 0),
        next_available_at=_aware(next_available),
        leased=int(leased or 0),
        next_lease_end=_aware(lease_end),
    )


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
