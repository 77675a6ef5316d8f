"""The newest matching articles for a chat that has just subscribed: due in the database,
queued in the outbox, sent by the sender.

Subscribing sets `chats.welcome_due_at` in the same transaction; `compose_welcomes` turns
due requests into outbox messages and clears them in one transaction, with the articles
recorded as sent, so that a crash at any moment leaves either the request or the message
and never loses or repeats it. Two composers (bot replicas) may take the same chats: the
request is cleared compare-and-set, and only the one that cleared it queues the message.

Composing them (an archive query, clustering, rendering) costs more than the rest of the
last onboarding step together, and in a surge of new users all of them reach that step at
about the same time: the handler only records the request and wakes `WelcomeComposer`,
which composes outside the update, a batch at a time, so replies to taps come first.
Sending through the outbox puts these messages under the same send budget, flood-control
pauses and retries as digests.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for
from delivery.labels import digest_labels
from delivery.on_demand import LatestCache, latest_for_subscriber
from storage import chats as chat_repo
from storage import outbox
from storage.chats import ChatRecord
from storage.outbox import NewOutboxMessage

logger = logging.getLogger(__name__)

WELCOME_KIND = "welcome"
DEFAULT_BATCH_SIZE = 50
# How often a composer looks for requests nobody woke it for: those of a process that
# stopped between subscribing a chat and composing its message.
SWEEP_SECONDS = 30.0
DRAIN_SECONDS = 10.0
# Subscriptions come in bursts: a pass waits this long for those of the next moment.
GATHER_SECONDS = 0.5
# A request older than this (a long downtime, a chat that fails to compose) is cleared
# without a message: by then the chat's first digest has brought the news.
MAX_AGE = timedelta(hours=24)


async def request_welcome(
    session: AsyncSession, chat_id: int, *, now: datetime | None = None
) -> None:
    """The chat's first articles are due; call in the transaction that subscribes it."""
    await chat_repo.update_chat(session, chat_id, welcome_due_at=now or datetime.now(UTC))


@dataclass
class WelcomeReport:
    chats: int = 0
    messages: int = 0
    articles: int = 0
    skipped: int = 0
    conflicts: int = 0
    errors: int = 0
    seconds: float = 0.0

    def add(self, other: WelcomeReport) -> None:
        for name in ("chats", "messages", "articles", "skipped", "conflicts", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"welcome messages: {self.messages} queued for {self.chats} chats "
            f"({self.articles} articles), {self.skipped} cleared without one (unsubscribed, "
            f"seen already or too old), "
            f"{self.conflicts} taken meanwhile, {self.errors} failed, in {self.seconds:.2f} s"
        )


@dataclass(frozen=True, slots=True)
class _Welcome:
    chat_id: int
    requested_at: datetime
    # None: the request is cleared without a message.
    message: NewOutboxMessage | None

    @property
    def article_ids(self) -> tuple[int, ...]:
        return self.message.article_ids if self.message is not None else ()


def _wants_messages(chat: ChatRecord) -> bool:
    return chat.subscribed and chat.active and not chat.paused


async def _compose(
    session: AsyncSession,
    chat: ChatRecord,
    requested_at: datetime,
    now: datetime,
    threshold: float,
    cache: LatestCache,
) -> _Welcome:
    if not _wants_messages(chat) or now - requested_at > MAX_AGE:
        return _Welcome(chat.id, requested_at, None)
    _ = gettext_for(chat.language)
    latest = await latest_for_subscriber(
        session,
        chat,
        now,
        digest_labels(chat.language),
        header=_("Latest on your countries"),
        threshold=threshold,
        cache=cache,
    )
    if latest is None:
        text = html.escape(
            _(
                "There is nothing on your countries in the archive yet; "
                "the digest will bring new articles as they appear."
            ),
            quote=False,
        )
        article_ids: tuple[int, ...] = ()
    elif not latest.article_ids:
        # The chat got them already (/digest right after subscribing).
        return _Welcome(chat.id, requested_at, None)
    else:
        text, article_ids = latest.text, latest.article_ids
    message = NewOutboxMessage(
        chat_id=chat.id,
        digest_key=f"welcome-{requested_at.strftime('%Y%m%dT%H%M%S%f')}",
        part=0,
        kind=WELCOME_KIND,
        text=text,
        article_ids=article_ids,
        # The person has just subscribed: ahead of a fan-out queued before.
        priority=outbox.INTERACTIVE,
    )
    return _Welcome(chat.id, requested_at, message)


async def _apply(
    session_factory: async_sessionmaker[AsyncSession],
    welcomes: Sequence[_Welcome],
    *,
    now: datetime,
    report: WelcomeReport,
) -> int:
    """Queues the welcomes whose requests are unchanged; returns how many it cleared."""
    async with session_factory() as session:
        current = await chat_repo.lock_welcome_requests(session, [w.chat_id for w in welcomes])
        unchanged = [w for w in welcomes if current.get(w.chat_id) == w.requested_at]
        already = await chat_repo.sent_pairs(
            session,
            [w.chat_id for w in unchanged if w.article_ids],
            {article_id for w in unchanged for article_id in w.article_ids},
        )
        # An article that reached the chat meanwhile (its first digest, /digest) is not
        # shown again: that chat is composed again at the next pass.
        valid = [w for w in unchanged if not any((w.chat_id, a) in already for a in w.article_ids)]
        messages = [w.message for w in valid if w.message is not None]
        await outbox.enqueue(session, messages, now=now)
        await chat_repo.record_sent_pairs(
            session, [(w.chat_id, article_id) for w in valid for article_id in w.article_ids]
        )
        await chat_repo.set_chat_fields_many(
            session, "welcome_due_at", [(w.chat_id, None) for w in valid]
        )
        await session.commit()
    report.conflicts += len(welcomes) - len(valid)
    report.messages += len(messages)
    report.chats += len(valid)
    report.skipped += sum(1 for w in valid if w.message is None)
    report.articles += sum(len(w.article_ids) for w in valid)
    return len(valid)


async def compose_welcomes(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    threshold: float = 0.5,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> WelcomeReport:
    """Queues the first articles of every chat whose request is due at `now`."""
    started = time.perf_counter()
    report = WelcomeReport()
    cache = LatestCache()
    while True:
        async with session_factory() as session:
            due = await chat_repo.welcome_chat_batch(session, now, limit=batch_size)
            await session.commit()
        welcomes: list[_Welcome] = []
        for chat, requested_at in due:
            # A transaction per chat: on SQLite each one holds the write turn, which the
            # updates of a surge are waiting for.
            try:
                async with session_factory() as session:
                    welcomes.append(
                        await _compose(session, chat, requested_at, now, threshold, cache)
                    )
                    await session.commit()
            except Exception:
                logger.exception("could not compose the first articles of chat %s", chat.id)
                report.errors += 1
        if not welcomes:
            break
        try:
            cleared = await _apply(session_factory, welcomes, now=now, report=report)
        except Exception:
            logger.exception("storing %d welcome messages failed", len(welcomes))
            report.errors += len(welcomes)
            break
        # What is left in a full batch is read again; requests that stayed due (composing
        # failed, an article was sent meanwhile) wait for the next pass.
        if len(due) < batch_size or not cleared:
            break
    report.seconds = time.perf_counter() - started
    return report


class WelcomeComposer:
    """Composes due welcome messages in a task of its own: at once when woken (a chat
    subscribed in this process), and every SWEEP_SECONDS for requests left by a process
    that stopped. `on_queued` is called when messages were queued (the in-process
    sender's notify)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        threshold: float,
        on_queued: Callable[[], object] | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._threshold = threshold
        self.on_queued = on_queued
        self._sweep_seconds = sweep_seconds
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.report = WelcomeReport()

    def start(self) -> None:
        """Starts the task, which first composes whatever is due already."""
        if self._task is None or self._task.done():
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._wake.set()
            self._task = asyncio.create_task(self._run(), name="welcome messages")

    def wake(self) -> None:
        """A chat subscribed (its request is committed): compose now."""
        self.start()
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()

    async def join(self) -> None:
        """Returns once every request made before the call is composed (or failed)."""
        if self._idle is not None:
            await self._idle.wait()

    async def close(self) -> None:
        """Composes what this process was woken for (for up to DRAIN_SECONDS), then
        stops; what is left stays due in the database for the next process."""
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await self.join()
        except TimeoutError:
            logger.warning("stopping before every welcome message was composed; it stays due")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sweep_seconds):
                    await self._wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            try:
                report = await compose_welcomes(
                    self._session_factory, now=datetime.now(UTC), threshold=self._threshold
                )
            except Exception:
                logger.exception("composing welcome messages failed; next try at the next pass")
                report = WelcomeReport(errors=1)
            self.report.add(report)
            if report.chats or report.errors:
                logger.debug("%s", report)
            if report.messages and self.on_queued is not None:
                self.on_queued()
            if not self._wake.is_set():
                self._idle.set()
