"""Daily digests: which chats are due, what each gets, and queueing it in the outbox.

The clock calls `compose_due_digests` every few seconds. For each due chat it decides
whether the digest is still worth sending (a digest missed during downtime is sent once if
it is not too late, otherwise skipped to the next day), composes it from the articles first
seen since the chat's last digest, and writes in one transaction the chat's messages, the
articles as sent and its next digest time, so that a crash leaves either all of it or none
(chats are handled in batches that share a transaction; a failing batch is retried chat by
chat). The delivery engine (delivery.sender) then drains the outbox.

Composition is pure and CPU-bound: it runs in a worker thread, and subscribers whose
digests would be identical (same articles, countries, topics, zone and language, as with
the presets) share one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for
from delivery.schedule import (
    is_valid_timezone,
    local_digest_date,
    next_digest_at,
    plan_after_downtime,
    previous_digest_at,
)
from digests.compose import Digest, compose_digest
from digests.model import DigestArticle, Labels, Subscription
from digests.render import RenderedMessage, render_digest, render_plain
from digests.select import select_articles
from storage import chats as chat_repo
from storage import outbox
from storage.articles import StoredArticle, find_articles
from storage.chats import ChatRecord
from storage.models import Article, SentArticle

logger = logging.getLogger(__name__)

DEFAULT_CATCHUP = timedelta(hours=6)
# The first digest of a new subscriber covers the last day; the onboarding answer showed
# the latest articles already, and those are recorded as sent.
FIRST_DIGEST_WINDOW = timedelta(days=1)
# A chat back from a long pause gets at most this much.
MAX_DIGEST_WINDOW = timedelta(days=7)
ON_DEMAND_WINDOW = timedelta(days=7)
# An article stored by a transaction that committed just after a digest was composed has a
# first-seen time slightly before the digest's: windows reach back this far, and the
# sent-articles table keeps anything from coming twice.
WINDOW_OVERLAP = timedelta(minutes=15)
RETRY_AFTER_ERROR = timedelta(minutes=10)
DEFAULT_BATCH_SIZE = 500
MAX_WINDOW_ARTICLES = 50_000
MAX_CACHED_DIGESTS = 20_000
MORE_CALLBACK_PREFIX = "more:"
DIGEST_KIND = "digest"
EMPTY_KIND = "empty"


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
class _Plan:
    chat: ChatRecord
    scheduled_at: datetime
    action: Literal["send", "skip"]
    digest_date: date
    next_at: datetime
    since: datetime
    timezone: str


@dataclass
class _Composed:
    plan: _Plan
    digest: Digest
    messages: list[outbox.NewOutboxMessage] = field(default_factory=list)
    error: str | None = None


def to_digest_article(stored: StoredArticle) -> DigestArticle:
    return DigestArticle(
        id=stored.id,
        title=stored.title,
        url=stored.url,
        source=stored.source,
        published_at=stored.published_at,
        first_seen_at=stored.fetched_at,
        countries=stored.countries,
        topics=stored.topics,
        summary=stored.summary,
    )


def subscription_for(chat: ChatRecord, *, threshold: float) -> Subscription:
    return Subscription(
        countries=frozenset(chat.countries),
        topics=frozenset(chat.topics),
        threshold=threshold,
        language=chat.language,
        timezone=_usable_timezone(chat.timezone),
    )


def _usable_timezone(name: str) -> str:
    return name if is_valid_timezone(name) else "UTC"


def digest_window_start(chat: ChatRecord, now: datetime) -> datetime:
    """Articles first seen after this moment are candidates for the chat's next digest."""
    if chat.last_digest_at is None:
        return now - FIRST_DIGEST_WINDOW
    return max(chat.last_digest_at - WINDOW_OVERLAP, now - MAX_DIGEST_WINDOW)


def more_keyboard_json(more_buttons: Sequence[tuple[str, int]], labels: Labels) -> str | None:
    """The "ещё N" buttons of a digest message as Bot API reply_markup JSON; callback data
    `more:<ISO2>` (the handlers page the country's news from there)."""
    if not more_buttons:
        return None
    rows = [
        [
            {
                "text": f"{labels.country_names.get(country, country)}: "
                f"{labels.more.format(n=count)}",
                "callback_data": f"{MORE_CALLBACK_PREFIX}{country.upper()}",
            }
        ]
        for country, count in more_buttons
    ]
    return json.dumps({"inline_keyboard": rows}, ensure_ascii=False)


def empty_digest_text(language: str) -> str:
    _ = gettext_for(language)
    return _("No new articles on your countries since the last digest.")


def _plan(chat: ChatRecord, now: datetime, catchup: timedelta) -> _Plan:
    timezone = _usable_timezone(chat.timezone)
    scheduled = chat.next_digest_at or now
    # After a long downtime the slot that matters is the latest one, not the first missed.
    slot = max(scheduled, previous_digest_at(chat.digest_time, timezone, now))
    return _Plan(
        chat=chat,
        scheduled_at=scheduled,
        action=plan_after_downtime(slot, now, catchup),
        digest_date=local_digest_date(slot, timezone),
        next_at=next_digest_at(chat.digest_time, timezone, now),
        since=digest_window_start(chat, now),
        timezone=timezone,
    )


DigestKey = tuple[object, ...]
ComposedDigest = tuple[Digest, list[RenderedMessage]]


@dataclass(frozen=True, slots=True)
class _Selection:
    """A chat's share of the window and the key of its digest: the articles it gets, its
    subscription and how it is rendered. Subscribers who follow the same countries (the
    presets) and were served at the same time share one composition."""

    plan: _Plan
    sub: Subscription
    articles: tuple[DigestArticle, ...]
    key: DigestKey


class _CountryIndex:
    """The window's articles by subscribed country, so that a chat looks only at the
    articles that can match it."""

    def __init__(self, articles: Sequence[DigestArticle], threshold: float) -> None:
        self._by_country: dict[str, list[DigestArticle]] = defaultdict(list)
        for article in articles:
            for code, score in article.countries.items():
                if score >= threshold:
                    self._by_country[code.upper()].append(article)

    def candidates(self, countries: Collection[str]) -> list[DigestArticle]:
        if len(countries) == 1:
            return self._by_country.get(next(iter(countries)).upper(), [])
        seen: dict[int, DigestArticle] = {}
        for code in countries:
            for article in self._by_country.get(code.upper(), ()):
                seen.setdefault(article.id, article)
        return list(seen.values())


def _select(
    plan: _Plan, index: _CountryIndex, already_sent: Collection[int], threshold: float
) -> _Selection:
    sub = subscription_for(plan.chat, threshold=threshold)
    chosen = select_articles(index.candidates(sub.countries), sub, plan.since, already_sent)
    # Composition does not look at the zone or the language (rendering does), so both are
    # left out of what it is given and keyed by: one composition serves every zone.
    neutral = replace(sub, timezone="UTC", language="")
    key = (
        neutral,
        tuple(article.id for article in chosen),
        plan.chat.language,
        plan.timezone,
        plan.digest_date,
    )
    return _Selection(plan=plan, sub=neutral, articles=tuple(chosen), key=key)


def _select_batch(
    plans: Sequence[_Plan],
    articles: Sequence[DigestArticle],
    sent: Mapping[int, set[int]],
    threshold: float,
) -> list[_Selection]:
    index = _CountryIndex(articles, threshold)
    return [_select(plan, index, sent.get(plan.chat.id, set()), threshold) for plan in plans]


@dataclass(frozen=True, slots=True)
class _CompositionJob:
    key: DigestKey
    sub: Subscription
    articles: tuple[DigestArticle, ...]
    language: str
    timezone: str
    digest_date: date


def _compose_jobs(
    jobs: Sequence[_CompositionJob],
    labels: Mapping[str, Labels],
    digests: dict[DigestKey, Digest] | None = None,
) -> list[tuple[DigestKey, ComposedDigest | None, str | None]]:
    """Pure (`digests` caches compositions by articles and subscription): runs in the
    worker thread."""
    digests = {} if digests is None else digests
    results: list[tuple[DigestKey, ComposedDigest | None, str | None]] = []
    for job in jobs:
        try:
            composition_key = job.key[:2]
            digest = digests.get(composition_key)
            if digest is None:
                digest = digests[composition_key] = compose_digest(job.articles, job.sub, None, ())
            rendered = (
                []
                if digest.is_empty
                else render_digest(
                    digest, labels[job.language], tz=job.timezone, date=job.digest_date
                )
            )
            results.append((job.key, (digest, rendered), None))
        except Exception as error:  # one bad digest must not hold back everyone else's
            logger.exception("could not compose a digest")
            results.append((job.key, None, repr(error)))
    return results


def _job(selection: _Selection) -> _CompositionJob:
    plan = selection.plan
    return _CompositionJob(
        key=selection.key,
        sub=selection.sub,
        articles=selection.articles,
        language=plan.chat.language,
        timezone=plan.timezone,
        digest_date=plan.digest_date,
    )


def _assemble(plan: _Plan, composed: ComposedDigest, labels: Labels) -> _Composed:
    """The chat's outbox messages from a (possibly shared) composition."""
    digest, rendered = composed
    chat = plan.chat
    key = plan.digest_date.isoformat()
    result = _Composed(plan=plan, digest=digest)
    if digest.is_empty:
        if chat.notify_empty:
            result.messages.append(
                outbox.NewOutboxMessage(
                    chat_id=chat.id,
                    digest_key=key,
                    digest_date=plan.digest_date,
                    part=0,
                    kind=EMPTY_KIND,
                    text=empty_digest_text(chat.language),
                )
            )
        return result
    for part, message in enumerate(rendered):
        result.messages.append(
            outbox.NewOutboxMessage(
                chat_id=chat.id,
                digest_key=key,
                digest_date=plan.digest_date,
                part=part,
                kind=DIGEST_KIND,
                text=message.html,
                reply_markup=more_keyboard_json(message.more_buttons, labels),
                article_ids=message.article_ids,
            )
        )
    return result


def _compose_one(
    plan: _Plan,
    articles: Sequence[DigestArticle],
    already_sent: Collection[int],
    labels: Labels,
    threshold: float,
) -> _Composed:
    selection = _select(plan, _CountryIndex(articles, threshold), already_sent, threshold)
    ((_, composed, error),) = _compose_jobs([_job(selection)], {plan.chat.language: labels})
    if composed is None:
        raise RuntimeError(error)
    return _assemble(plan, composed, labels)


class _Composer:
    """Composes the digests of one pass in a worker thread, so that the event loop keeps
    serving updates; identical digests (same articles, subscription and rendering) are
    composed once."""

    def __init__(self, labels_for: Callable[[str], Labels]) -> None:
        self._labels_for = labels_for
        self._done: dict[DigestKey, ComposedDigest | None] = {}
        self._digests: dict[DigestKey, Digest] = {}
        self._errors: dict[DigestKey, str] = {}

    def labels(self, language: str) -> Labels:
        return self._labels_for(language)

    async def compose(
        self,
        plans: Sequence[_Plan],
        articles: Sequence[DigestArticle],
        sent: Mapping[int, set[int]],
        threshold: float,
    ) -> list[_Composed]:
        labels = {plan.chat.language: self.labels(plan.chat.language) for plan in plans}
        return await asyncio.to_thread(self._compose, plans, articles, sent, threshold, labels)

    def _compose(
        self,
        plans: Sequence[_Plan],
        articles: Sequence[DigestArticle],
        sent: Mapping[int, set[int]],
        threshold: float,
        labels: Mapping[str, Labels],
    ) -> list[_Composed]:
        selections = _select_batch(plans, articles, sent, threshold)
        missing: dict[DigestKey, _CompositionJob] = {}
        for selection in selections:
            if selection.key not in self._done and selection.key not in missing:
                missing[selection.key] = _job(selection)
        if len(self._done) + len(missing) > MAX_CACHED_DIGESTS:
            self._done.clear()
            self._digests.clear()
        for key, composed, error in _compose_jobs(list(missing.values()), labels, self._digests):
            self._done[key] = composed
            if error is not None:
                self._errors[key] = error
        results = []
        for selection in selections:
            plan = selection.plan
            composed = self._done.get(selection.key)
            if composed is None:
                error = self._errors.get(selection.key, "not composed")
                results.append(_Composed(plan, Digest((), frozenset()), error=error))
            else:
                results.append(_assemble(plan, composed, labels[plan.chat.language]))
        return results


async def _load_window(
    session: AsyncSession, plans: Sequence[_Plan], threshold: float
) -> list[DigestArticle]:
    if not plans:
        return []
    countries = set().union(*(plan.chat.countries for plan in plans))
    if not countries:
        return []
    since = min(plan.since for plan in plans)
    stored = await find_articles(
        session,
        countries=countries,
        fetched_since=since,
        threshold=threshold,
        limit=MAX_WINDOW_ARTICLES,
    )
    if len(stored) >= MAX_WINDOW_ARTICLES:
        logger.warning("digest window holds over %d articles; the oldest are left out", len(stored))
    return [to_digest_article(article) for article in stored]


async def _sent_in_window(
    session: AsyncSession, chat_ids: Collection[int], since: datetime
) -> dict[int, set[int]]:
    """Per chat, the articles of the window already sent to it, in one query."""
    sent: dict[int, set[int]] = defaultdict(set)
    ids = list(chat_ids)
    window = select(Article.id).where(Article.fetched_at > since)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(SentArticle.chat_id, SentArticle.article_id).where(
                SentArticle.chat_id.in_(ids[start : start + 500]),
                SentArticle.article_id.in_(window),
            )
        )
        for chat_id, article_id in rows:
            sent[chat_id].add(article_id)
    return sent


@dataclass(frozen=True, slots=True)
class _Change:
    """What one chat's transaction writes: its new schedule, and for a digest its
    messages and sent articles."""

    chat_id: int
    expected_next_at: datetime
    next_at: datetime
    delivered_at: datetime | None = None
    composed: _Composed | None = None


async def _apply(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[_Change],
    *,
    now: datetime,
    articles: Sequence[DigestArticle],
    labels: Mapping[int, Labels],
    threshold: float,
    report: ComposeReport,
) -> None:
    """Writes the changes of a batch of chats in one transaction: for each chat, its
    messages, its sent articles and its new schedule together, and only if its schedule
    is still the one it was composed for (no other clock got there first, the subscriber
    did not change the time or pause meanwhile). If the batch fails, each chat is retried
    in a transaction of its own, so that one bad chat cannot hold back the others."""
    if not changes:
        return
    try:
        await _apply_in_one_transaction(
            session_factory,
            changes,
            now=now,
            articles=articles,
            labels=labels,
            threshold=threshold,
            report=report,
        )
        return
    except Exception:
        if len(changes) == 1:
            raise
        logger.exception("storing %d digests at once failed; storing them one by one", len(changes))
    for change in changes:
        try:
            await _apply_in_one_transaction(
                session_factory,
                [change],
                now=now,
                articles=articles,
                labels=labels,
                threshold=threshold,
                report=report,
            )
        except Exception:
            logger.exception("could not store the digest of chat %s", change.chat_id)
            report.errors += 1


async def _apply_in_one_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[_Change],
    *,
    now: datetime,
    articles: Sequence[DigestArticle],
    labels: Mapping[int, Labels],
    threshold: float,
    report: ComposeReport,
) -> None:
    tally = ComposeReport()
    async with session_factory() as session:
        current = await chat_repo.lock_digest_schedules(session, [c.chat_id for c in changes])
        valid = [
            c for c in changes if c.chat_id in current and current[c.chat_id] == c.expected_next_at
        ]
        tally.conflicts = len(changes) - len(valid)
        digests = [c for c in valid if c.composed is not None]
        already = await chat_repo.sent_pairs(
            session,
            [c.chat_id for c in digests],
            {i for c in digests if c.composed for i in c.composed.digest.article_ids},
        )
        messages: list[outbox.NewOutboxMessage] = []
        sent: list[tuple[int, int]] = []
        for change in digests:
            composed = change.composed
            assert composed is not None
            if any((change.chat_id, i) in already for i in composed.digest.article_ids):
                # Something else (/digest, the onboarding answer) sent some of them meanwhile.
                known = await chat_repo.sent_article_ids(
                    session, change.chat_id, [article.id for article in articles]
                )
                composed = _compose_one(
                    composed.plan, articles, known, labels[change.chat_id], threshold
                )
            messages.extend(composed.messages)
            sent.extend((change.chat_id, i) for i in composed.digest.article_ids)
            if composed.digest.is_empty:
                tally.empty += 1
                tally.empty_notices += bool(composed.messages)
            else:
                tally.digests += 1
                tally.articles += len(composed.digest.article_ids)
        await outbox.enqueue(session, messages, now=now)
        await chat_repo.record_sent_pairs(session, sent)
        await chat_repo.set_digest_schedules(
            session, [(c.chat_id, c.next_at, c.delivered_at) for c in valid]
        )
        await session.commit()
    tally.messages = len(messages)
    report.add(tally)


async def compose_due_digests(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
    catchup: timedelta = DEFAULT_CATCHUP,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ComposeReport:
    """Queues the digest of every chat due at `now` (see the module docstring)."""
    started = time.perf_counter()
    report = ComposeReport()
    after: tuple[datetime, int] | None = None
    composer = _Composer(labels_for)
    while True:
        async with session_factory() as session:
            chats = await chat_repo.due_chat_batch(session, now, limit=batch_size, after=after)
            if not chats:
                break
            last = chats[-1]
            assert last.next_digest_at is not None
            after = (last.next_digest_at, last.id)
            report.due += len(chats)
            plans: list[_Plan] = []
            postponed: list[_Change] = []
            for chat in chats:
                assert chat.next_digest_at is not None
                try:
                    plans.append(_plan(chat, now, catchup))
                except ValueError as error:
                    logger.warning("chat %s has an unusable schedule: %s", chat.id, error)
                    report.errors += 1
                    postponed.append(_Change(chat.id, chat.next_digest_at, now + timedelta(days=1)))
            to_send = [plan for plan in plans if plan.action == "send"]
            articles = await _load_window(session, to_send, threshold)
            sent = (
                await _sent_in_window(
                    session, [plan.chat.id for plan in to_send], min(p.since for p in to_send)
                )
                if to_send and articles
                else {}
            )
            await session.commit()
        for plan in plans:
            if plan.action == "skip":
                logger.debug(
                    "digest of chat %s due %s skipped: too late",
                    plan.chat.id,
                    plan.scheduled_at,
                )
                report.skipped_late += 1
                postponed.append(_Change(plan.chat.id, plan.scheduled_at, plan.next_at))
        labels = {plan.chat.id: labels_for(plan.chat.language) for plan in to_send}
        composed_list = await composer.compose(to_send, articles, sent, threshold)
        changes = list(postponed)
        for composed in composed_list:
            plan = composed.plan
            if composed.error is not None:
                report.errors += 1
                changes.append(_Change(plan.chat.id, plan.scheduled_at, now + RETRY_AFTER_ERROR))
            else:
                changes.append(
                    _Change(plan.chat.id, plan.scheduled_at, plan.next_at, now, composed)
                )
        await _apply(
            session_factory,
            changes,
            now=now,
            articles=articles,
            labels=labels,
            threshold=threshold,
            report=report,
        )
    report.seconds = time.perf_counter() - started
    return report


async def build_digest_now(
    session: AsyncSession,
    chat_id: int,
    now: datetime,
    labels: Labels,
    *,
    threshold: float = 0.5,
) -> list[RenderedMessage]:
    """The /digest answer: articles of the last week not yet sent to the chat, composed
    like the daily digest. Writes nothing: the caller sends the messages, then calls
    `record_digest_sent` with their article ids."""
    chat = await chat_repo.get_chat(session, chat_id)
    if chat is None or not chat.countries:
        return []
    since = now - ON_DEMAND_WINDOW
    stored = await find_articles(
        session,
        countries=chat.countries,
        fetched_since=since,
        threshold=threshold,
        limit=MAX_WINDOW_ARTICLES,
    )
    articles = [to_digest_article(article) for article in stored]
    already_sent = await chat_repo.sent_article_ids(session, chat_id, [a.id for a in articles])
    digest = compose_digest(
        articles, subscription_for(chat, threshold=threshold), since, already_sent
    )
    if digest.is_empty:
        return []
    timezone = _usable_timezone(chat.timezone)
    return render_digest(digest, labels, tz=timezone, date=local_digest_date(now, timezone))


async def record_digest_sent(
    session: AsyncSession, chat_id: int, article_ids: Iterable[int]
) -> None:
    """Marks articles as delivered to a chat, so that no digest brings them again."""
    await chat_repo.record_sent(session, chat_id, article_ids)


async def preview_digest(
    session_factory: async_sessionmaker[AsyncSession],
    chat_id: int,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
) -> str:
    """The chat's next digest as plain text, as it would be composed `now`; writes nothing."""
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, chat_id)
        if chat is None:
            return f"no chat with id {chat_id}"
        timezone = _usable_timezone(chat.timezone)
        since = digest_window_start(chat, now)
        stored = await find_articles(
            session,
            countries=chat.countries,
            fetched_since=since,
            threshold=threshold,
            limit=MAX_WINDOW_ARTICLES,
        )
        articles = [to_digest_article(article) for article in stored]
        already_sent = await chat_repo.sent_article_ids(session, chat_id, [a.id for a in articles])
    labels = labels_for(chat.language)
    digest = compose_digest(
        articles, subscription_for(chat, threshold=threshold), since, already_sent
    )
    due = chat.next_digest_at or next_digest_at(chat.digest_time, timezone, now)
    digest_day = local_digest_date(max(due, now), timezone)
    state = _chat_state(chat)
    header = (
        f"chat {chat.id} ({chat.type}{state}), next digest {due:%Y-%m-%d %H:%M} UTC "
        f"({chat.digest_time} {timezone}); articles first seen since {since:%Y-%m-%d %H:%M} UTC"
    )
    if digest.is_empty:
        body = (
            empty_digest_text(chat.language)
            if chat.notify_empty
            else "(nothing new: no message would be sent)"
        )
        return f"{header}\n\n{body}\n"
    return f"{header}\n\n" + render_plain(digest, labels, tz=timezone, date=digest_day)


def _chat_state(chat: ChatRecord) -> str:
    flags = [
        name
        for name, on in (
            ("not subscribed", not chat.subscribed),
            ("inactive", not chat.active),
            ("paused", chat.paused),
        )
        if on
    ]
    return ", " + ", ".join(flags) if flags else ""
