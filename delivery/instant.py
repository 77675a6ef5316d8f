"""Instant messages: new articles on a chat's instant topics, soon after they are stored.

The rule (the state lives in the chats table, so a restart loses nothing):

- A chat with instant topics looks at the articles first seen after its
  `instant_seen_until`; those about its countries, on one of its instant topics and through
  its keyword and region filters, that it has never been sent, go out as ONE message
  (several parts only past Telegram's 4096 characters, and one per forum topic).
- After an instant message the chat gets no other one for `min_gap` (the feed poll
  interval by default): `next_instant_at`. Articles stored meanwhile wait and go together
  when the gap ends. So the first article after a quiet spell goes at the next clock tick,
  a busy hour brings at most 60 / gap messages (4 at a 15-minute poll), however many
  articles it had, and no article waits longer than one gap plus one tick after it was
  stored.
- What an instant message carries is recorded in sent_articles, in the transaction that
  queues it: the daily digest never repeats it (the daily digest holds what did not come
  instantly).

`compose_instant_messages` runs at every clock tick; one read finds the chats that have
unseen articles and may get a message, so a quiet tick costs one query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for
from delivery.planner import WINDOW_OVERLAP, subscription_for
from delivery.routing import split_by_topic
from delivery.schedule import local_digest_date
from delivery.subscriptions import usable_timezone
from delivery.window import load_window
from delivery.writes import write_by_chunks
from digests.cluster import StoryCache
from digests.compose import compose_digest
from digests.model import DigestArticle, Labels, Subscription
from digests.render import render_digest
from digests.select import select_articles
from storage import chats as chat_repo
from storage import outbox
from storage.articles import newest_fetched_at
from storage.chats import ChatRecord
from storage.outbox import NewOutboxMessage

logger = logging.getLogger(__name__)

INSTANT_KIND = "instant"
DEFAULT_MIN_GAP = timedelta(minutes=15)
# A chat whose instant state is unknown (or very old) looks back at most this far.
MAX_INSTANT_WINDOW = timedelta(days=1)
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class InstantChange:
    """One chat's result: its new state only if it is still `expected`, and for a message
    its outbox rows and the articles it carries."""

    chat_id: int
    expected: tuple[datetime | None, datetime | None]
    next_instant_at: datetime | None
    seen_until: datetime
    messages: tuple[NewOutboxMessage, ...] = ()
    article_ids: tuple[int, ...] = ()


@dataclass
class InstantReport:
    chats: int = 0
    messages: int = 0
    chats_sent: int = 0
    articles: int = 0
    conflicts: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"instant: {self.chats} chats looked at, {self.chats_sent} got "
            f"{self.messages} messages ({self.articles} articles), "
            f"conflicts {self.conflicts}, errors {self.errors}, {self.seconds:.2f} s"
        )


def instant_labels(labels: Labels, language: str) -> Labels:
    _ = gettext_for(language)
    return replace(labels, digest_title=_("⚡ Just in, {date}"))


def instant_window_start(chat: ChatRecord, now: datetime) -> datetime:
    seen = chat.instant_seen_until or now - MAX_INSTANT_WINDOW
    return max(seen, now - MAX_INSTANT_WINDOW) - WINDOW_OVERLAP


def plan_instant(
    chats: Sequence[ChatRecord],
    articles: Sequence[DigestArticle],
    sent: Mapping[int, Collection[int]],
    *,
    now: datetime,
    seen_until: datetime,
    threshold: float,
    min_gap: timedelta,
    labels_for: Callable[[str], Labels],
) -> list[InstantChange]:
    """Pure: what each chat gets (see the module docstring)."""
    changes: list[InstantChange] = []
    stamp = now.strftime("%Y%m%dT%H%M%S")
    stories = StoryCache()
    for chat in chats:
        expected = (chat.next_instant_at, chat.instant_seen_until)
        sub = replace(
            subscription_for(chat, threshold=threshold),
            topics=chat.instant_topics,
            per_country_cap=0,
        )
        since = instant_window_start(chat, now)
        chosen = select_articles(articles, sub, since, sent.get(chat.id, ()))
        if not chosen:
            changes.append(InstantChange(chat.id, expected, chat.next_instant_at, seen_until))
            continue
        try:
            messages, carried = _messages(chat, chosen, sub, stamp, now, labels_for, stories)
        except Exception:
            logger.exception("could not compose the instant message of chat %s", chat.id)
            continue
        changes.append(
            InstantChange(
                chat.id,
                expected,
                now + min_gap,
                seen_until,
                messages=messages,
                article_ids=carried,
            )
        )
    return changes


def _messages(
    chat: ChatRecord,
    chosen: Sequence[DigestArticle],
    sub: Subscription,
    stamp: str,
    now: datetime,
    labels_for: Callable[[str], Labels],
    stories: StoryCache,
) -> tuple[tuple[NewOutboxMessage, ...], tuple[int, ...]]:
    zone = usable_timezone(chat.timezone)
    day: date = local_digest_date(now, zone)
    labels = instant_labels(labels_for(chat.language), chat.language)
    messages: list[NewOutboxMessage] = []
    carried: list[int] = []
    for thread_id, articles in split_by_topic(chosen, sub, chat.bindings):
        digest = compose_digest(articles, sub, None, (), stories=stories)
        if digest.is_empty:
            continue
        carried.extend(digest.article_ids)
        for rendered in render_digest(digest, labels, tz=zone, date=day):
            messages.append(
                NewOutboxMessage(
                    chat_id=chat.id,
                    digest_key=f"instant-{stamp}",
                    digest_date=day,
                    part=len(messages),
                    kind=INSTANT_KIND,
                    text=rendered.html,
                    article_ids=rendered.article_ids,
                    thread_id=thread_id,
                )
            )
    return tuple(messages), tuple(carried)


async def _apply(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[InstantChange],
    *,
    now: datetime,
    report: InstantReport,
) -> None:
    """Writes a batch's changes (delivery.writes: a chunk of chats per transaction)."""

    async def write(chunk: Sequence[InstantChange]) -> None:
        await _apply_in_one_transaction(session_factory, chunk, now=now, report=report)

    report.errors += await write_by_chunks(changes, write, what="instant message")


async def _apply_in_one_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[InstantChange],
    *,
    now: datetime,
    report: InstantReport,
) -> None:
    async with session_factory() as session:
        current = await chat_repo.lock_instant_states(session, [c.chat_id for c in changes])
        unchanged = [c for c in changes if current.get(c.chat_id, ("gone",)) == c.expected]
        already = await chat_repo.sent_pairs(
            session,
            [c.chat_id for c in unchanged if c.article_ids],
            {article_id for c in unchanged for article_id in c.article_ids},
        )
        # A chat that got some of these articles meanwhile (its daily digest, /digest) is
        # looked at again at the next tick.
        valid = [c for c in unchanged if not any((c.chat_id, a) in already for a in c.article_ids)]
        messages = [message for change in valid for message in change.messages]
        await outbox.enqueue(session, messages, now=now)
        await chat_repo.record_sent_pairs(
            session, [(c.chat_id, article_id) for c in valid for article_id in c.article_ids]
        )
        await chat_repo.set_chat_fields_many(
            session, "next_instant_at", [(c.chat_id, c.next_instant_at) for c in valid]
        )
        await chat_repo.set_chat_fields_many(
            session, "instant_seen_until", [(c.chat_id, c.seen_until) for c in valid]
        )
        await session.commit()
    report.conflicts += len(changes) - len(valid)
    report.messages += len(messages)
    report.chats_sent += sum(1 for c in valid if c.messages)
    report.articles += sum(len(c.article_ids) for c in valid)


async def compose_instant_messages(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
    min_gap: timedelta = DEFAULT_MIN_GAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    executor: Executor | None = None,
) -> InstantReport:
    """Queues the instant messages due at `now` (see the module docstring); with
    `executor` (worker processes) the batches are planned there, as delivery.daily does."""
    started = time.perf_counter()
    report = InstantReport()
    after: int | None = None
    while True:
        async with session_factory() as session:
            newest = await newest_fetched_at(session)
            if newest is None:
                break
            chats = await chat_repo.instant_chat_batch(
                session, now, newest, limit=batch_size, after=after
            )
            articles: list[DigestArticle] = []
            sent: dict[int, set[int]] = {}
            if chats:
                since = min(instant_window_start(chat, now) for chat in chats)
                countries = frozenset().union(*(chat.countries for chat in chats))
                articles = await load_window(
                    session, countries=countries, since=since, threshold=threshold
                )
                if articles:
                    sent = await chat_repo.sent_in_window(session, [c.id for c in chats], since)
            await session.commit()
        if not chats:
            break
        after = chats[-1].id
        report.chats += len(chats)
        planning = partial(
            plan_instant,
            chats,
            articles,
            sent,
            now=now,
            seen_until=newest,
            threshold=threshold,
            min_gap=min_gap,
            labels_for=labels_for,
        )
        if executor is None:
            changes = await asyncio.to_thread(planning)
        else:
            changes = await asyncio.get_running_loop().run_in_executor(executor, planning)
        report.errors += len(chats) - len(changes)
        await _apply(session_factory, changes, now=now, report=report)
    report.seconds = time.perf_counter() - started
    return report
