"""The daily pass's decisions, without I/O: given due chats and the articles of their window,
what each chat gets and when it is due next.

`plan_digests` is the decider: it reads nothing and writes nothing, so it runs in a worker
process (`plan_digests_in_worker`) or thread and is tested with plain values.
`delivery.daily` loads its inputs and applies what it returns.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Literal

from core.i18n import gettext_for
from delivery.more_buttons import more_keyboard_json
from delivery.routing import split_by_topic
from delivery.schedule import local_digest_date, plan_after_downtime, previous_digest_at
from delivery.subscriptions import next_digest_for, usable_timezone
from digests.cluster import StoryCache
from digests.compose import Digest, compose_digest
from digests.model import DigestArticle, Labels, Subscription
from digests.render import RenderedMessage, render_digest
from digests.select import select_articles
from storage.chats import ChatRecord
from storage.outbox import NewOutboxMessage
from tagging import topics

logger = logging.getLogger(__name__)

DEFAULT_CATCHUP = timedelta(hours=6)
# The first digest of a new subscriber covers the last day; the onboarding answer showed
# the latest articles already, and those are recorded as sent.
FIRST_DIGEST_WINDOW = timedelta(days=1)
# A chat back from a long pause gets at most this much.
MAX_DIGEST_WINDOW = timedelta(days=7)
# An article stored by a transaction that committed just after a digest was composed has a
# first-seen time slightly before the digest's: windows reach back this far, and the
# sent-articles table keeps anything from coming twice.
WINDOW_OVERLAP = timedelta(minutes=15)
RETRY_AFTER_ERROR = timedelta(minutes=10)
# A chat whose schedule is unusable (a time that cannot be read) is looked at again a day on.
RETRY_UNUSABLE_SCHEDULE = timedelta(days=1)
MAX_CACHED_DIGESTS = 20_000
DIGEST_KIND = "digest"
EMPTY_KIND = "empty"


@cache
def topic_order() -> tuple[str, ...]:
    """Topics in the order of the topic data file: the order of a digest's sections."""
    return tuple(topic.id for topic in topics())


def subscription_for(chat: ChatRecord, *, threshold: float) -> Subscription:
    return Subscription(
        countries=frozenset(chat.countries),
        topics=frozenset(chat.topics),
        threshold=threshold,
        language=chat.language,
        timezone=usable_timezone(chat.timezone),
        topic_order=topic_order(),
        include_words=chat.include_lemmas,
        exclude_words=chat.exclude_lemmas,
        regions=chat.regions,
    )


def digest_window_start(chat: ChatRecord, now: datetime) -> datetime:
    """Articles first seen after this moment are candidates for the chat's next digest."""
    if chat.last_digest_at is None:
        return now - FIRST_DIGEST_WINDOW
    return max(chat.last_digest_at - WINDOW_OVERLAP, now - MAX_DIGEST_WINDOW)


def empty_digest_text(language: str) -> str:
    _ = gettext_for(language)
    return _("No new articles on your countries since the last digest.")


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """When a due chat's digest is for, and whether it is still worth sending."""

    chat: ChatRecord
    scheduled_at: datetime
    action: Literal["send", "skip"]
    digest_date: date
    next_at: datetime
    since: datetime
    timezone: str


def plan_chat(chat: ChatRecord, now: datetime, catchup: timedelta) -> ChatPlan:
    """Raises ValueError for a schedule that cannot be read."""
    timezone = usable_timezone(chat.timezone)
    scheduled = chat.next_digest_at or now
    # After a long downtime the slot that matters is the latest one, not the first missed.
    slot = max(scheduled, previous_digest_at(chat.digest_time, timezone, now))
    return ChatPlan(
        chat=chat,
        scheduled_at=scheduled,
        action=plan_after_downtime(slot, now, catchup),
        digest_date=local_digest_date(slot, timezone),
        next_at=next_digest_for(chat, now),
        since=digest_window_start(chat, now),
        timezone=timezone,
    )


@dataclass(frozen=True, slots=True)
class ChatChange:
    """What one chat's transaction writes: its new schedule only if it is still
    `expected_next_at`, and for a digest its messages and the articles it carries."""

    chat_id: int
    expected_next_at: datetime
    next_at: datetime
    delivered_at: datetime | None = None
    messages: tuple[NewOutboxMessage, ...] = ()
    article_ids: tuple[int, ...] = ()
    outcome: Literal["digest", "empty", "skipped", "retry"] = "skipped"


@dataclass
class DigestPlan:
    """The decisions of one batch."""

    changes: list[ChatChange] = field(default_factory=list)
    skipped_late: int = 0
    errors: int = 0


DigestKey = tuple[object, ...]
ComposedDigest = tuple[Digest, list[RenderedMessage]]


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


@dataclass(frozen=True, slots=True)
class _Selection:
    """A chat's share of the window and the key of its digest: the articles it gets, its
    subscription and how it is rendered. Subscribers who follow the same countries (the
    presets) and were served at the same time share one composition."""

    plan: ChatPlan
    sub: Subscription
    articles: tuple[DigestArticle, ...]
    key: DigestKey


def _select(
    plan: ChatPlan, index: _CountryIndex, already_sent: Collection[int], threshold: float
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


class DigestComposer:
    """Composes and renders digests, once for every set of identical ones (same articles,
    subscription and rendering), remembering them across the batches of one pass."""

    def __init__(self, labels_for: Callable[[str], Labels]) -> None:
        self._labels_for = labels_for
        self._rendered: dict[DigestKey, ComposedDigest | None] = {}
        self._compositions: dict[DigestKey, Digest] = {}

    def labels(self, language: str) -> Labels:
        return self._labels_for(language)

    def composed(self, selection: _Selection, stories: StoryCache) -> ComposedDigest | None:
        """None when this digest could not be composed (logged once). `stories` is the
        batch's: the selection's articles come from the batch's window."""
        if selection.key in self._rendered:
            return self._rendered[selection.key]
        if len(self._rendered) >= MAX_CACHED_DIGESTS:
            self._rendered.clear()
            self._compositions.clear()
        plan = selection.plan
        try:
            composition_key = selection.key[:2]
            digest = self._compositions.get(composition_key)
            if digest is None:
                digest = compose_digest(
                    selection.articles, selection.sub, None, (), stories=stories
                )
                self._compositions[composition_key] = digest
            rendered = (
                []
                if digest.is_empty
                else render_digest(
                    digest,
                    self.labels(plan.chat.language),
                    tz=plan.timezone,
                    date=plan.digest_date,
                )
            )
            result: ComposedDigest | None = (digest, rendered)
        except Exception:  # one bad digest must not hold back everyone else's
            logger.exception("could not compose the digest of chat %s", plan.chat.id)
            result = None
        self._rendered[selection.key] = result
        return result


def _outbox_messages(
    plan: ChatPlan, composed: ComposedDigest, labels: Labels
) -> tuple[NewOutboxMessage, ...]:
    digest, rendered = composed
    chat = plan.chat
    key = plan.digest_date.isoformat()
    if digest.is_empty:
        if not chat.notify_empty:
            return ()
        return (
            NewOutboxMessage(
                chat_id=chat.id,
                digest_key=key,
                digest_date=plan.digest_date,
                part=0,
                kind=EMPTY_KIND,
                text=empty_digest_text(chat.language),
            ),
        )
    return tuple(
        NewOutboxMessage(
            chat_id=chat.id,
            digest_key=key,
            digest_date=plan.digest_date,
            part=part,
            kind=DIGEST_KIND,
            text=message.html,
            reply_markup=more_keyboard_json(message.more_buttons, labels),
            article_ids=message.article_ids,
        )
        for part, message in enumerate(rendered)
    )


def _routed_messages(
    plan: ChatPlan, selection: _Selection, labels: Labels, stories: StoryCache
) -> tuple[tuple[NewOutboxMessage, ...], tuple[int, ...]]:
    """A forum chat with bound countries: one digest per topic (see delivery.routing),
    its parts numbered on from the previous topic's. Returns the messages and every
    article they carry."""
    messages: list[NewOutboxMessage] = []
    carried: list[int] = []
    key = plan.digest_date.isoformat()
    for thread_id, articles in split_by_topic(
        selection.articles, selection.sub, plan.chat.bindings
    ):
        digest = compose_digest(articles, selection.sub, None, (), stories=stories)
        if digest.is_empty:
            continue
        carried.extend(digest.article_ids)
        for message in render_digest(digest, labels, tz=plan.timezone, date=plan.digest_date):
            messages.append(
                NewOutboxMessage(
                    chat_id=plan.chat.id,
                    digest_key=key,
                    digest_date=plan.digest_date,
                    part=len(messages),
                    kind=DIGEST_KIND,
                    text=message.html,
                    reply_markup=more_keyboard_json(message.more_buttons, labels),
                    article_ids=message.article_ids,
                    thread_id=thread_id,
                )
            )
    return tuple(messages), tuple(carried)


def plan_digests(
    chats: Sequence[ChatRecord],
    articles: Sequence[DigestArticle],
    sent: Mapping[int, Collection[int]],
    *,
    now: datetime,
    catchup: timedelta,
    threshold: float,
    composer: DigestComposer,
) -> DigestPlan:
    """The decisions for due `chats`: `articles` is the window of those to be sent (see
    `window_for`) and `sent` what each of them already got of it."""
    result = DigestPlan()
    plans: list[ChatPlan] = []
    for chat in chats:
        assert chat.next_digest_at is not None
        try:
            plans.append(plan_chat(chat, now, catchup))
        except ValueError as error:
            logger.warning("chat %s has an unusable schedule: %s", chat.id, error)
            result.errors += 1
            result.changes.append(
                ChatChange(chat.id, chat.next_digest_at, now + RETRY_UNUSABLE_SCHEDULE)
            )
    index = _CountryIndex(articles, threshold)
    # One per batch: the chats' digests cluster subsets of one window, and across batches
    # an article of one id may have been loaded changed.
    stories = StoryCache()
    for plan in plans:
        chat_id = plan.chat.id
        if plan.action == "skip":
            logger.debug("digest of chat %s due %s skipped: too late", chat_id, plan.scheduled_at)
            result.skipped_late += 1
            result.changes.append(ChatChange(chat_id, plan.scheduled_at, plan.next_at))
            continue
        if not plan.chat.daily:
            # Daily mode off (instant or weekly only): the slot passes without a digest.
            result.changes.append(ChatChange(chat_id, plan.scheduled_at, plan.next_at))
            continue
        selection = _select(plan, index, sent.get(chat_id, ()), threshold)
        composed = composer.composed(selection, stories)
        if composed is None:
            result.errors += 1
            result.changes.append(
                ChatChange(chat_id, plan.scheduled_at, now + RETRY_AFTER_ERROR, outcome="retry")
            )
            continue
        digest, _rendered = composed
        labels = composer.labels(plan.chat.language)
        messages = _outbox_messages(plan, composed, labels)
        carried = tuple(digest.article_ids)
        if plan.chat.bindings and not digest.is_empty:
            try:
                messages, carried = _routed_messages(plan, selection, labels, stories)
            except Exception:  # fall back to the whole digest in the general topic
                logger.exception("could not route the digest of chat %s to topics", chat_id)
        result.changes.append(
            ChatChange(
                chat_id,
                plan.scheduled_at,
                plan.next_at,
                delivered_at=now,
                messages=messages,
                article_ids=carried,
                outcome="empty" if digest.is_empty else "digest",
            )
        )
    return result


# The composer of the pass under way in a worker process (plan_digests_in_worker): the
# batches of one pass share its compositions, as they do when planned in a thread.
_worker_composer: tuple[tuple[Callable[[str], Labels], datetime], DigestComposer] | None = None


def plan_digests_in_worker(
    chats: Sequence[ChatRecord],
    articles: Sequence[DigestArticle],
    sent: Mapping[int, Collection[int]],
    *,
    now: datetime,
    catchup: timedelta,
    threshold: float,
    labels_for: Callable[[str], Labels],
) -> DigestPlan:
    """`plan_digests` in a worker process, with the composer of the pass at `now`."""
    global _worker_composer
    key = (labels_for, now)
    if _worker_composer is None or _worker_composer[0] != key:
        _worker_composer = (key, DigestComposer(labels_for))
    return plan_digests(
        chats,
        articles,
        sent,
        now=now,
        catchup=catchup,
        threshold=threshold,
        composer=_worker_composer[1],
    )


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """Which articles to load for a batch: those of any of `countries`, first seen after
    `since`, for the chats in `chat_ids`. None when no chat of the batch is to be sent."""

    chat_ids: tuple[int, ...]
    countries: frozenset[str]
    since: datetime


def window_for(
    chats: Sequence[ChatRecord], *, now: datetime, catchup: timedelta
) -> WindowRequest | None:
    to_send: list[ChatPlan] = []
    for chat in chats:
        try:
            plan = plan_chat(chat, now, catchup)
        except ValueError:
            continue
        if plan.action == "send" and plan.chat.countries and plan.chat.daily:
            to_send.append(plan)
    if not to_send:
        return None
    return WindowRequest(
        chat_ids=tuple(plan.chat.id for plan in to_send),
        countries=frozenset().union(*(plan.chat.countries for plan in to_send)),
        since=min(plan.since for plan in to_send),
    )
