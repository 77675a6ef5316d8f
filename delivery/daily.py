"""The daily pass: which chats are due, what each gets, and queueing it in the outbox.

The clock calls `compose_due_digests` every few seconds. Due chats are handled in
batches, each in three steps:

1. load: the batch of due chats, the articles of their window and what each already got,
   in one read; the window is loaded once for the batches it covers (delivery.window
   .PassWindow);
2. plan: `delivery.planner.plan_digests` decides, off the event loop (in a worker process
   when the pass is given some, several batches at once with several; else in a thread,
   one batch at a time), whether each digest is still worth
   sending (one missed during downtime is sent once if it is not too late, otherwise
   skipped to the next day), composes it and renders its outbox messages;
   subscribers whose digests would be identical (same articles, countries, topics, zone and
   language, as with the presets) share one composition;
3. apply: one transaction writes each chat's messages, the articles as sent and its next
   digest time, so that a crash leaves all of it or none; a transaction takes a chunk of
   chats, and a failing one is retried chat by chat (delivery.writes). A chat whose
   schedule moved meanwhile (another clock, the subscriber changed the time) or that got
   some of the same articles meanwhile (/digest, the onboarding answer) is left as it is
   and planned again at the next tick.

The delivery engine (`delivery.sender`) then drains the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.metrics import SendReport
from core.settings import Settings
from delivery.planner import (
    DEFAULT_CATCHUP,
    ChatChange,
    DigestComposer,
    DigestPlan,
    plan_digests,
    plan_digests_in_worker,
    window_for,
)
from delivery.window import PassWindow
from delivery.writes import write_by_chunks
from digests.model import DigestArticle, Labels
from storage import chats as chat_repo
from storage import outbox
from storage.chats import ChatRecord

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500


@dataclass
class ComposeReport:
    """What one pass over the due chats did."""

    due: int = 0
    digests: int = 0
    messages: int = 0
    empty: int = 0
    empty_notices: int = 0
    skipped_late: int = 0
    conflicts: int = 0
    errors: int = 0
    articles: int = 0
    seconds: float = 0.0

    def add(self, other: ComposeReport) -> None:
        for name in ("digests", "messages", "empty", "empty_notices", "conflicts", "articles"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"due chats {self.due}: digests {self.digests} ({self.messages} messages), "
            f"empty {self.empty} ({self.empty_notices} notices), "
            f"skipped as too late {self.skipped_late}, errors {self.errors}, "
            f"{self.seconds:.2f} s"
        )


@dataclass(frozen=True, slots=True)
class _Batch:
    chats: list[ChatRecord]
    articles: list[DigestArticle]
    sent: dict[int, set[int]]


async def _load_batch(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    catchup: timedelta,
    window: PassWindow,
    batch_size: int,
    after: tuple[datetime, int] | None,
) -> _Batch:
    async with session_factory() as session:
        chats = await chat_repo.due_chat_batch(session, now, limit=batch_size, after=after)
        request = window_for(chats, now=now, catchup=catchup)
        articles: list[DigestArticle] = []
        sent: dict[int, set[int]] = {}
        if request is not None:
            articles = await window.articles(
                session, countries=request.countries, since=request.since
            )
            if articles:
                sent = await chat_repo.sent_in_window(session, request.chat_ids, request.since)
        await session.commit()
    return _Batch(chats, articles, sent)


async def _apply(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[ChatChange],
    *,
    now: datetime,
    report: ComposeReport,
) -> None:
    """Writes a batch's changes (delivery.writes: a chunk of chats per transaction)."""

    async def write(chunk: Sequence[ChatChange]) -> None:
        report.add(await _apply_in_one_transaction(session_factory, chunk, now=now))

    report.errors += await write_by_chunks(changes, write, what="digest")


async def _apply_in_one_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[ChatChange],
    *,
    now: datetime,
) -> ComposeReport:
    tally = ComposeReport()
    async with session_factory() as session:
        current = await chat_repo.lock_digest_schedules(session, [c.chat_id for c in changes])
        on_schedule = [
            c for c in changes if c.chat_id in current and current[c.chat_id] == c.expected_next_at
        ]
        already = await chat_repo.sent_pairs(
            session,
            [c.chat_id for c in on_schedule if c.article_ids],
            {article_id for c in on_schedule for article_id in c.article_ids},
        )
        # A chat that got some of these articles meanwhile keeps its schedule: the next
        # tick plans it again with what it has now.
        valid = [
            c
            for c in on_schedule
            if not any((c.chat_id, article_id) in already for article_id in c.article_ids)
        ]
        tally.conflicts = len(changes) - len(valid)
        messages = [message for change in valid for message in change.messages]
        await outbox.enqueue(session, messages, now=now)
        await chat_repo.record_sent_pairs(
            session, [(c.chat_id, article_id) for c in valid for article_id in c.article_ids]
        )
        await chat_repo.set_digest_schedules(
            session, [(c.chat_id, c.next_at, c.delivered_at) for c in valid]
        )
        await session.commit()
    for change in valid:
        if change.outcome == "digest":
            tally.digests += 1
            tally.articles += len(change.article_ids)
        elif change.outcome == "empty":
            tally.empty += 1
            tally.empty_notices += bool(change.messages)
    tally.messages = len(messages)
    return tally


async def compose_due_digests(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
    catchup: timedelta = DEFAULT_CATCHUP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    executor: Executor | None = None,
    planners: int = 1,
) -> ComposeReport:
    """Queues the digest of every chat due at `now` (see the module docstring).

    With `executor` (worker processes) the batches are planned there: a thread of this
    process would share the interpreter with the event loop, and every reply the loop
    serves meanwhile would wait for it (on SQLite, at every row it reads). Up to `planners`
    batches are planned at once (as many as the executor has processes): batches hold
    different chats, and each is written once its plan is back, in the order loaded."""
    started = time.perf_counter()
    report = ComposeReport()
    after: tuple[datetime, int] | None = None
    composer = DigestComposer(labels_for)
    window = PassWindow(threshold)
    at_once = max(1, planners) if executor is not None else 1
    planning: deque[asyncio.Future[DigestPlan]] = deque()
    try:
        while True:
            batch = await _load_batch(
                session_factory,
                now=now,
                catchup=catchup,
                window=window,
                batch_size=batch_size,
                after=after,
            )
            if batch.chats:
                last = batch.chats[-1]
                assert last.next_digest_at is not None
                after = (last.next_digest_at, last.id)
                report.due += len(batch.chats)
                planning.append(
                    asyncio.ensure_future(
                        _plan(batch, now, catchup, threshold, composer, labels_for, executor)
                    )
                )
            while planning and (len(planning) >= at_once or not batch.chats):
                plan = await planning.popleft()
                report.skipped_late += plan.skipped_late
                report.errors += plan.errors
                await _apply(session_factory, plan.changes, now=now, report=report)
            if not batch.chats:
                break
    finally:
        for unfinished in planning:
            unfinished.cancel()
        await asyncio.gather(*planning, return_exceptions=True)
    report.seconds = time.perf_counter() - started
    return report


async def _plan(
    batch: _Batch,
    now: datetime,
    catchup: timedelta,
    threshold: float,
    composer: DigestComposer,
    labels_for: Callable[[str], Labels],
    executor: Executor | None,
) -> DigestPlan:
    if executor is None:
        return await asyncio.to_thread(
            plan_digests,
            batch.chats,
            batch.articles,
            batch.sent,
            now=now,
            catchup=catchup,
            threshold=threshold,
            composer=composer,
        )
    return await asyncio.get_running_loop().run_in_executor(
        executor,
        partial(
            plan_digests_in_worker,
            batch.chats,
            batch.articles,
            batch.sent,
            now=now,
            catchup=catchup,
            threshold=threshold,
            labels_for=labels_for,
        ),
    )


@dataclass
class SendDueReport:
    """`digestbot digest --send-due`: what was composed, then what was sent."""

    composed: ComposeReport
    sent: SendReport
    counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        counts = ", ".join(f"{status} {count}" for status, count in self.counts.items())
        return f"composed: {self.composed}\ndelivered: {self.sent}\noutbox: {counts}"


async def send_due_now(
    open_bot: Callable[[], Bot],
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    labels_for: Callable[[str], Labels],
) -> SendDueReport:
    """Composes every due digest, then sends until the outbox is drained. The bot is
    opened (and closed) only when the outbox holds something to send: Telegram's library
    takes seconds to import, which a cron run with nothing due need not pay."""
    composed = await compose_due_digests(
        session_factory,
        now=datetime.now(UTC),
        labels_for=labels_for,
        threshold=settings.tag_threshold,
        catchup=timedelta(hours=settings.digest_catchup_hours),
    )
    async with session_factory() as session:
        counts = await outbox.outbox_counts(session)
    sent = SendReport()
    if counts.get(outbox.PENDING, 0) or counts.get(outbox.SENDING, 0):
        from delivery.sender import Sender

        bot = open_bot()
        try:
            sent = await Sender(bot, session_factory, rate=settings.send_rate).run_until_empty()
        finally:
            await bot.session.close()
        async with session_factory() as session:
            counts = await outbox.outbox_counts(session)
    return SendDueReport(composed=composed, sent=sent, counts=counts)
