"""Delivery to Telegram: drains the outbox within Telegram's limits and survives crashes.

Limits (about 30 messages per second per bot, 1 per second to one chat, 20 per minute to
one group) are kept by pacing, not discovered through errors: one schedule of send slots
shared by every concurrent request, and a per-chat earliest-next-send time. A few requests
are in flight at once, as many as the measured round trip needs, so that network latency
does not eat into the rate. The limits are per process: several processes sending for one
bot need a shared limiter.

Outcomes: a 429 pauses every send for its retry_after and puts the message back; 403 marks
the chat inactive (its settings stay; /start reactivates it) and skips its other messages;
a group that became a supergroup is moved to its new id and the message goes there; a
forum topic that was deleted (400 "message thread not found") loses its country bindings
and the message goes to the general topic instead; any other 400 is recorded as failed;
network and server errors are retried with exponential backoff up to a number of attempts.

Rows are claimed with a lease (storage.outbox), a batch at a time, and rows Telegram
accepted are marked sent in one transaction per batch (`record_batch` rows or
RECORD_SECONDS, whichever comes first; sends wait while a full batch is unrecorded). A
process that dies leaves its claimed rows to be claimed again when the lease ends, so
nothing due is lost; only the requests that were in flight at that moment and the rows
delivered but not yet recorded (at most `concurrency + record_batch`) can arrive twice.

The cost of a message is kept small, so that one process can send a paid broadcast (up to
1,000 messages a second) on a fraction of a CPU: a plain text message is sent as a JSON
body built from the row and only the message id is read from the answer (aiogram reads
the errors, see `_send_plain`); messages with a picture go through aiogram.

Pictures: a row's picture may be stored as a recipe not drawn yet (the weekly chart). While
it sends, the sender draws the pictures that queued rows show, in the order the rows were
queued, one at a time in a drawing process of its own (a thread would compete with the
sending loop for the interpreter lock; matplotlib takes about 0.2 s of CPU a chart). A row
whose picture is not drawn yet goes back to the outbox for a moment (PICTURE_WAIT_SECONDS)
while other chats' rows take its send slot, so drawing does not hold the send rate back
while there is anything else to send. The picture is stored once drawn, uploaded once, and
later rows reuse Telegram's file id. A row whose picture was not drawn when the process
stopped is drawn by whichever process sends it next.

`python -m delivery.sender --database-url … --api-url …` drains the outbox once and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import concurrent.futures.process
import contextlib
import heapq
import itertools
import json
import logging
import math
import os
import re
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, LinkPreviewOptions, Message
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.metrics import SendReport
from core.processes import spawn_pool
from delivery.pacing import STALE_SLOT_SECONDS, SlotWait
from digests.chart import draw_recipe_timed
from storage import chats as chat_repo
from storage import media as media_repo
from storage import outbox
from storage.media import StoredMedia
from storage.outbox import OutboxItem

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

DEFAULT_RATE = 28.0
DEFAULT_LEASE = timedelta(seconds=60)
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_RETRY_BASE = timedelta(seconds=5)
DEFAULT_RETRY_CAP = timedelta(minutes=10)
REQUEST_TIMEOUT_SECONDS = 30
THREAD_NOT_FOUND = "message thread not found"
# Telegram's retry_after is counted from its side; a little more keeps us clear of the edge.
PAUSE_MARGIN_SECONDS = 0.05
# Group limits are counted on arrival at Telegram, ours on departure: keep some distance.
GROUP_WINDOW_MARGIN_SECONDS = 0.5
GROUP_WINDOW_SECONDS = 60.0
# A message whose chat may not get another one for longer than this goes back to the
# outbox with a later available_at instead of holding its lease in memory.
MAX_HOLD_SECONDS = 3.0
# Requests out at once at most (InFlightLimit keeps it to what the round trip needs).
MAX_CONCURRENCY = 64
# Delivered rows wait at most this long to be recorded as sent (see Sender.record_batch).
RECORD_SECONDS = 0.1
IDLE_POLL_SECONDS = 1.0
# A row whose picture is being drawn is tried again this much later (a chart is ~0.2 s).
PICTURE_WAIT_SECONDS = 0.5
# How many queued pictures the drawing loop looks up at a time.
DRAW_AHEAD = 8
RESTART_DELAY_SECONDS = 5.0

Clock = Callable[[], datetime]

_NO_PREVIEW = {"is_disabled": True}
_JSON_HEADERS = {"Content-Type": "application/json"}
_LEADING_MESSAGE_ID = re.compile(rb'\{"ok":true,"result":\{"message_id":(\d+)[,}]')
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


@dataclass(frozen=True, slots=True)
class _Delivered:
    """What Telegram answered to a send: the message id, the file id of a sent picture,
    and when the request left (time.monotonic)."""

    message_id: int | None
    photo_file_id: str | None
    sent_at: float


def utc_now() -> datetime:
    return datetime.now(UTC)


class SendPacer:
    """One schedule of send slots `1/rate` apart, shared by every concurrent send, and a
    bot-wide pause after a 429.

    Slots lie on a fixed grid: a send that wakes a little late still takes its slot, so
    wake-up jitter does not add up into a lower rate, and a slot more than
    STALE_SLOT_SECONDS past (nothing was sent for a while) starts a new grid instead of a
    burst (delivery.pacing). None goes out during a pause.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._waiting = SlotWait()

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> bool:
        """Pauses every send; True when no pause was under way."""
        now = self._clock()
        fresh = now >= self._paused_until
        until = now + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._next_slot = max(self._next_slot, until)
            self._waiting.wake()
        return fresh

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Waits for the next free slot; False if `stop` was set meanwhile."""
        async with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = self._clock()
                if self._next_slot < now - STALE_SLOT_SECONDS:
                    self._next_slot = max(now, self._paused_until)
                ready_at = max(self._paused_until, self._next_slot)
                if now >= ready_at:
                    self._next_slot = ready_at + self.interval
                    return True
                await self._waiting.wait(ready_at - now, stop)

    async def close(self) -> None:
        await self._waiting.close()


class Pacer(Protocol):
    """What the sender needs of a pacer: SendPacer in one process, a shared one
    (delivery.budget.SharedPacer) across processes."""

    interval: float

    def pause(self, seconds: float) -> bool: ...

    async def acquire(self, stop: asyncio.Event | None = None) -> bool: ...

    async def close(self) -> None: ...


class InFlightLimit:
    """How many requests may be out at once: enough to cover the round trip at the send
    rate, and no more. Requests that pile up at a server that stalls for a moment would all
    land together when it resumes, a burst over its per-second limit; keeping the number
    out close to rate × round trip keeps that pile small."""

    def __init__(self, maximum: int, rate: float, *, initial_round_trip: float = 0.1) -> None:
        self.maximum = maximum
        self.rate = rate
        self.round_trip = initial_round_trip
        self.current = 0
        # Requests waiting for their turn, first come first served; a release hands its
        # place to the first of them (plain futures: one per request that has to wait).
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        needed = math.ceil(self.rate * self.round_trip * 1.5) + 1
        return max(2, min(self.maximum, needed))

    def observe(self, round_trip: float) -> None:
        self.round_trip = 0.8 * self.round_trip + 0.2 * round_trip

    async def acquire(self) -> None:
        if not self._waiters and self.current < self.limit:
            self.current += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Given a place just as it was cancelled: pass it on.
                self.release()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.current -= 1
        # Only as many waiters go as may: waking all of them on every answer would cost
        # a wake-up per waiter per message at hundreds of messages a second.
        limit = self.limit
        while self._waiters and self.current < limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.current += 1
                waiter.set_result(None)


class ChatPacing:
    """Earliest next send per chat: `private_interval` apart, and in groups (negative ids)
    also at most `group_per_minute` within any minute."""

    def __init__(self, private_interval: float, group_per_minute: int) -> None:
        self.private_interval = private_interval
        self.group_per_minute = group_per_minute
        self._last: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}

    def ready_at(self, chat_id: int) -> float:
        ready = self._last.get(chat_id, 0.0) + self.private_interval
        sends = self._group_sends.get(chat_id)
        if sends is not None and len(sends) >= self.group_per_minute:
            ready = max(
                ready,
                sends[-self.group_per_minute] + GROUP_WINDOW_SECONDS + GROUP_WINDOW_MARGIN_SECONDS,
            )
        return ready

    def record(self, chat_id: int, at: float) -> None:
        self._last[chat_id] = at
        if chat_id < 0:
            sends = self._group_sends.setdefault(chat_id, deque(maxlen=self.group_per_minute))
            sends.append(at)

    def forget_older_than(self, moment: float) -> None:
        horizon = moment - GROUP_WINDOW_SECONDS - GROUP_WINDOW_MARGIN_SECONDS
        for chat_id in [c for c, at in self._last.items() if at < horizon]:
            del self._last[chat_id]
            self._group_sends.pop(chat_id, None)


class TokenRejected(Exception):
    """Telegram refused the bot token (401): nothing can be sent until it is fixed."""


class _MissingMedia(Exception):
    """An outbox row's picture is not in the database (any more), or cannot be drawn."""


class _PictureNotReady(Exception):
    """An outbox row's picture is still being drawn."""


_STOP_ITEM = object()


class Sender:
    """Drains the outbox (see the module docstring). One instance per process; several
    processes may drain the same database (their claims never overlap)."""

    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        rate: float = DEFAULT_RATE,
        private_interval: float = 1.0,
        group_per_minute: int = 20,
        lease: timedelta = DEFAULT_LEASE,
        owner: str | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        record_batch: int | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base: timedelta = DEFAULT_RETRY_BASE,
        retry_cap: timedelta = DEFAULT_RETRY_CAP,
        idle_poll: float = IDLE_POLL_SECONDS,
        clock: Clock = utc_now,
        pacer: Pacer | None = None,
        paid_broadcast: bool = False,
    ) -> None:
        self._bot = bot
        self._session_factory = session_factory
        self.rate = rate
        self.lease = lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        # Workers enough to cover a round trip of half a second; how many requests are
        # actually out at once follows the measured round trip (InFlightLimit).
        self.concurrency = concurrency or max(2, min(MAX_CONCURRENCY, math.ceil(rate / 2)))
        self.batch_size = batch_size or max(8, 2 * self.concurrency)
        # Rows Telegram accepted are recorded as sent in one transaction per this many (or
        # per RECORD_SECONDS); sends wait while this many are unrecorded, so a process
        # killed at any moment leaves at most `concurrency + record_batch` rows delivered
        # but not recorded (sent again by whoever claims them after the lease).
        self.record_batch = record_batch or max(8, self.concurrency)
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.idle_poll = idle_poll
        self._clock = clock
        self._pacer: Pacer = pacer or SendPacer(rate)
        # Telegram's paid broadcasts: up to 1,000 messages a second, paid in Stars.
        self.paid_broadcast = paid_broadcast
        self._requests = InFlightLimit(self.concurrency, rate)
        self._chat_pacing = ChatPacing(private_interval, group_per_minute)
        self._report = SendReport()
        self._held: dict[int, OutboxItem] = {}
        self._waiting: list[tuple[float, int, OutboxItem]] = []
        self._sequence = itertools.count()
        self._ready: asyncio.Queue[object] = asyncio.Queue()
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._fatal: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_progress: Callable[[SendReport], object] | None = None
        self._last_lease_renewal = time.monotonic()
        bind = session_factory.kw.get("bind")
        self._serialize_writes = bind is None or bind.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()
        self._media_locks: dict[int, asyncio.Lock] = {}
        self._file_ids: dict[int, str] = {}
        # Pictures being drawn (media id -> the drawing), the ones that failed, and the
        # process that draws (started with the first picture to draw).
        self._drawing: dict[int, asyncio.Task[bytes]] = {}
        self._undrawable: dict[int, str] = {}
        self._drawer: concurrent.futures.ProcessPoolExecutor | None = None
        self._draw_wake = asyncio.Event()
        # Delivered rows not recorded yet: (row id, Telegram's message id).
        self._unrecorded: list[tuple[int, int | None]] = []
        # Delivered rows whose recording transaction is under way: not recorded either.
        self._recording = 0
        self._record_wake = asyncio.Event()
        self._record_room = asyncio.Event()
        self._record_room.set()
        # sendMessage without aiogram's models (see _send_plain), over its HTTP session.
        self._plain_url: str | None = None
        if isinstance(bot.session, AiohttpSession):
            self._plain_url = bot.session.api.api_url(token=bot.token, method="sendMessage")

    @property
    def report(self) -> SendReport:
        return self._report

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A session for one short transaction. On SQLite this process's transactions take
        turns here rather than in SQLite's busy handler, whose sleeps cost far more than
        the transactions themselves."""
        if self._serialize_writes:
            async with self._write_lock, self._session_factory() as session:
                yield session
        else:
            async with self._session_factory() as session:
                yield session

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def notify(self) -> None:
        """New rows were queued: look at the outbox now rather than at the next poll."""
        self._wake.set()

    # ------------------------------------------------------------------ entry points

    async def run_until_empty(
        self, on_progress: Callable[[SendReport], object] | None = None
    ) -> SendReport:
        """Sends until no row is due or waiting for a retry or a lease (for
        `digestbot digest --send-due`, tests and benchmarks)."""
        self._on_progress = on_progress
        await self._run(until_empty=True, stop=asyncio.Event())
        return self._report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sends whatever becomes due until `stop` is set (for `digestbot run`)."""
        while not stop.is_set() and not self._stop.is_set():
            try:
                await self._run(until_empty=False, stop=stop)
                continue
            except TokenRejected:
                logger.error("Telegram refused the bot token; delivery waits a minute")
                delay = 60.0
            except Exception:
                # The database went away for a moment, most likely: rows stay in the
                # outbox, and their leases let any worker pick them up again.
                logger.exception("delivery stopped on an error; restarting it shortly")
                delay = RESTART_DELAY_SECONDS
            self._fatal = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)

    def start(self) -> asyncio.Task[None]:
        """Runs `run_forever` as a background task until `stop()`."""
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(
                self.run_forever(self._stop), name="outbox-sender"
            )
        return self._task

    async def stop(self) -> None:
        """Stops sending: requests in flight finish and are recorded, claimed rows not yet
        sent go back to the outbox at once."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._pacer.close()

    # ------------------------------------------------------------------ the loop

    async def _run(self, *, until_empty: bool, stop: asyncio.Event) -> None:
        started = time.monotonic()
        stopping = asyncio.Event()

        async def watch_stop() -> None:
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._stop.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            stopping.set()
            self._wake.set()

        watcher = asyncio.ensure_future(watch_stop())
        drawing = asyncio.ensure_future(self._draw_queued(stopping))
        recording = asyncio.ensure_future(self._record_sent())
        workers = [asyncio.ensure_future(self._worker(stopping)) for _ in range(self.concurrency)]
        try:
            await self._pump(until_empty=until_empty, stopping=stopping)
        finally:
            stopping.set()
            for _ in workers:
                self._ready.put_nowait(_STOP_ITEM)
            # A worker waiting for room to record goes on (and finds stopping set).
            self._record_room.set()
            await asyncio.gather(*workers, return_exceptions=True)
            recording.cancel()
            await asyncio.gather(recording, return_exceptions=True)
            try:
                await self._flush_sent()
            except Exception as error:
                # Their leases run out and they are sent again: duplicates, nothing lost.
                logger.error(
                    "%d delivered messages could not be recorded as sent: %s",
                    len(self._unrecorded),
                    _one_line(error),
                )
                self._unrecorded.clear()
            watcher.cancel()
            drawing.cancel()
            await asyncio.gather(drawing, return_exceptions=True)
            await self._release_held()
            await self._stop_drawing()
            self._report.seconds += time.monotonic() - started
        if self._fatal is not None:
            raise self._fatal

    async def _pump(self, *, until_empty: bool, stopping: asyncio.Event) -> None:
        """Claims rows, schedules them per chat, and hands them to the workers."""
        while not stopping.is_set() and self._fatal is None:
            self._wake.clear()
            now = time.monotonic()
            self._move_ready(now)
            await self._renew_leases_if_due(now)
            claimed = 0
            if self._room_to_claim():
                room = self.batch_size + self.concurrency - len(self._held)
                claimed = await self._claim(min(room, self.batch_size) or 1, now)
            if claimed:
                continue
            wait = self.idle_poll
            if self._waiting:
                wait = min(wait, max(0.0, self._waiting[0][0] - time.monotonic()))
            if not self._held and until_empty:
                await self._flush_sent()
                async with self._transaction() as session:
                    left = await outbox.backlog(session, now=self._clock())
                if left.empty:
                    return
                wait = min(wait, self._seconds_until(left.next_available_at, left.next_lease_end))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))

    def _room_to_claim(self) -> bool:
        """Whether the pump claims: when half a batch fits (or nothing is held). A sent
        message wakes the pump only then, not for every message."""
        room = self.batch_size + self.concurrency - len(self._held)
        return room >= self.batch_size // 2 or not self._held

    def _seconds_until(self, *moments: datetime | None) -> float:
        now = self._clock()
        pending = [(moment - now).total_seconds() for moment in moments if moment is not None]
        return max(0.01, min(pending)) if pending else 0.05

    async def _claim(self, limit: int, now: float) -> int:
        async with self._transaction() as session:
            items = await outbox.claim_batch(
                session, owner=self.owner, now=self._clock(), lease=self.lease, limit=limit
            )
            await session.commit()
        fresh = [item for item in items if item.id not in self._held]
        held_back: list[tuple[OutboxItem, float]] = []
        for item in fresh:
            ready_at = self._chat_pacing.ready_at(item.chat_id)
            if ready_at - now > MAX_HOLD_SECONDS:
                held_back.append((item, ready_at - now))
                continue
            self._held[item.id] = item
            if ready_at <= now:
                self._ready.put_nowait(item)
            else:
                heapq.heappush(self._waiting, (ready_at, next(self._sequence), item))
        for item, delay in held_back:
            await self._retry_later(item, delay, "chat rate limit", count_attempt=False)
        if any(item.media_id is not None for item in fresh):
            self._draw_wake.set()
        return len(items)

    # ------------------------------------------------------------------ pictures

    async def _draw_queued(self, stopping: asyncio.Event) -> None:
        """Draws, one at a time, the pictures that queued rows show and that are not drawn
        yet; sleeps while there are none (claiming a row with a picture wakes it)."""
        while not stopping.is_set():
            self._draw_wake.clear()
            async with self._transaction() as session:
                queued = await media_repo.recipes_in_queue(
                    session, limit=DRAW_AHEAD, leave_out=set(self._undrawable)
                )
                await session.commit()
            for media_id, recipe in queued:
                if stopping.is_set():
                    return
                with contextlib.suppress(Exception):
                    await self._start_drawing(media_id, recipe)
            if len(queued) < DRAW_AHEAD:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._draw_wake.wait(), timeout=self.idle_poll * 10)

    def _start_drawing(self, media_id: int, recipe: str) -> asyncio.Task[bytes]:
        task = self._drawing.get(media_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._draw(media_id, recipe), name=f"draw-picture-{media_id}"
            )
            # A drawing nobody awaited (the sender stopped) must not warn at exit.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._drawing[media_id] = task
        return task

    async def _draw(self, media_id: int, recipe: str) -> bytes:
        try:
            if self._drawer is None:
                self._drawer = spawn_pool(1)
            loop = asyncio.get_running_loop()
            content, seconds = await loop.run_in_executor(self._drawer, draw_recipe_timed, recipe)
            async with self._transaction() as session:
                await media_repo.store_drawn(session, media_id, content)
                await session.commit()
            self._report.charts_drawn += 1
            self._report.chart_seconds += seconds
            return content
        except concurrent.futures.process.BrokenProcessPool:
            # The drawing process died (killed, out of memory): a new one draws next time.
            logger.exception("the drawing process stopped while drawing picture %s", media_id)
            self._drawer = None
            raise
        except Exception as error:
            logger.exception("could not draw picture %s", media_id)
            self._undrawable[media_id] = f"{type(error).__name__}: {error}"
            raise
        finally:
            self._drawing.pop(media_id, None)

    async def _stop_drawing(self) -> None:
        for task in list(self._drawing.values()):
            task.cancel()
        self._drawing.clear()
        drawer, self._drawer = self._drawer, None
        if drawer is not None:
            await asyncio.to_thread(drawer.shutdown, wait=True, cancel_futures=True)

    def _move_ready(self, now: float) -> None:
        while self._waiting and self._waiting[0][0] <= now:
            _, _, item = heapq.heappop(self._waiting)
            self._ready.put_nowait(item)

    async def _renew_leases_if_due(self, now: float) -> None:
        if now - self._last_lease_renewal < self.lease.total_seconds() / 3:
            return
        self._last_lease_renewal = now
        if not self._held:
            return
        async with self._transaction() as session:
            await outbox.extend_leases(
                session, self.owner, list(self._held), until=self._clock() + self.lease
            )
            await session.commit()

    async def _release_held(self) -> None:
        unsent = list(self._held)
        self._held.clear()
        self._waiting.clear()
        while not self._ready.empty():
            self._ready.get_nowait()
        if not unsent:
            return
        with contextlib.suppress(Exception):
            async with self._transaction() as session:
                await outbox.release_claims(session, self.owner, unsent, now=self._clock())
                await session.commit()

    # ------------------------------------------------------------------ sending

    async def _worker(self, stopping: asyncio.Event) -> None:
        while True:
            entry = await self._ready.get()
            if entry is _STOP_ITEM or not isinstance(entry, OutboxItem):
                return
            if stopping.is_set() or self._fatal is not None:
                continue
            self._in_flight += 1
            tried = True
            try:
                tried = await self._deliver(entry, stopping)
            except TokenRejected as error:
                self._fatal = error
                self._wake.set()
            except Exception:
                logger.exception("delivery of outbox row %s failed unexpectedly", entry.id)
            finally:
                self._in_flight -= 1
                if tried:
                    # An untried row stays held, to be handed back when the sender stops.
                    self._held.pop(entry.id, None)
                if self._room_to_claim():
                    self._wake.set()
                if self._on_progress is not None:
                    self._on_progress(self._report)

    def _markup(self, item: OutboxItem) -> InlineKeyboardMarkup | None:
        if not item.reply_markup:
            return None
        try:
            return InlineKeyboardMarkup.model_validate_json(item.reply_markup)
        except ValidationError:
            logger.warning("outbox row %s has an unreadable keyboard; sent without it", item.id)
            return None

    async def _request(self, item: OutboxItem, stopping: asyncio.Event) -> _Delivered | None:
        """One sendMessage (or sendPhoto for a row with a picture) within the limits; None
        if stopping came first (not sent)."""
        if item.media_id is None:
            return await self._send(item, None, stopping)
        # One send of a picture at a time: the first uploads it, the others reuse the file
        # id Telegram gave it.
        lock = self._media_locks.setdefault(item.media_id, asyncio.Lock())
        async with lock:
            async with self._transaction() as session:
                media = await media_repo.get_media(session, item.media_id)
                await session.commit()
            if media is None:
                raise _MissingMedia(f"picture {item.media_id} is gone")
            known = self._file_ids.get(item.media_id)
            if known is not None and media.telegram_file_id is None:
                media = replace(media, telegram_file_id=known)
            if media.content is None and media.telegram_file_id is None:
                if media.recipe is None:
                    raise _MissingMedia(f"picture {item.media_id} has no content")
                if item.media_id in self._undrawable:
                    reason = self._undrawable[item.media_id]
                    raise _MissingMedia(f"picture {item.media_id} cannot be drawn: {reason}")
                self._start_drawing(media.id, media.recipe)
                raise _PictureNotReady
            answer = await self._send(item, media, stopping)
            if answer is not None and answer.photo_file_id is not None:
                self._file_ids[item.media_id] = answer.photo_file_id
            return answer

    async def _send(
        self, item: OutboxItem, media: StoredMedia | None, stopping: asyncio.Event
    ) -> _Delivered | None:
        await self._requests.acquire()
        try:
            while True:
                while self._recording_lags() and not stopping.is_set():
                    # Recording lags behind: wait rather than add to what a crash would
                    # repeat.
                    self._record_room.clear()
                    self._record_wake.set()
                    await self._record_room.wait()
                # The pause is checked here, right before the request: a 429 seen meanwhile
                # by any request of any process holds this one back.
                if not await self._pacer.acquire(stopping) or stopping.is_set():
                    return None
                if not self._recording_lags():
                    break
                # Deliveries came back while this send waited for its slot, and recording
                # lags again: the slot goes unused.
            sent_at = time.monotonic()
            self._chat_pacing.record(item.chat_id, sent_at)
            try:
                if media is None and self._plain_url is not None:
                    message_id = await self._send_plain(item)
                    return _Delivered(message_id, None, sent_at)
                message = await self._send_with_aiogram(item, media)
            finally:
                self._requests.observe(time.monotonic() - sent_at)
            file_id = message.photo[-1].file_id if message.photo else None
            return _Delivered(message.message_id, file_id, sent_at)
        finally:
            self._requests.release()

    def _recording_lags(self) -> bool:
        """Whether `record_batch` delivered rows are waiting to be recorded, counting those
        being recorded: checked with no wait between it and the request, so a crash repeats
        at most those rows and the requests out (`concurrency`)."""
        return len(self._unrecorded) + self._recording >= self.record_batch

    async def _send_with_aiogram(self, item: OutboxItem, media: StoredMedia | None) -> Message:
        markup = self._markup(item)
        if media is not None:
            return await self._bot.send_photo(
                chat_id=item.chat_id,
                photo=media.telegram_file_id
                or BufferedInputFile(media.content or b"", filename=media.filename),
                caption=item.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                message_thread_id=item.thread_id,
                allow_paid_broadcast=True if self.paid_broadcast else None,
                request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        return await self._bot.send_message(
            chat_id=item.chat_id,
            text=item.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=markup,
            message_thread_id=item.thread_id,
            allow_paid_broadcast=True if self.paid_broadcast else None,
            request_timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def _plain_body(self, item: OutboxItem) -> bytes:
        """The JSON body of the row's sendMessage: the same fields aiogram would send."""
        fields: dict[str, Any] = {
            "chat_id": item.chat_id,
            "text": item.text,
            "parse_mode": "HTML",
            "link_preview_options": _NO_PREVIEW,
        }
        if item.reply_markup and self._markup(item) is not None:
            fields["reply_markup"] = json.loads(item.reply_markup)
        if item.thread_id is not None:
            fields["message_thread_id"] = item.thread_id
        if self.paid_broadcast:
            fields["allow_paid_broadcast"] = True
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()

    async def _send_plain(self, item: OutboxItem) -> int:
        """sendMessage for a row without a picture, over aiogram's own HTTP session but
        without its request and answer models (a tenth of a millisecond instead of a
        millisecond of CPU per message): the body is the row's JSON, and of a successful
        answer only the message id is read. An error answer is read by aiogram, so that it
        raises the same exceptions as every other request. Bypasses the session's request
        middlewares, which let requests made outside an update pass unchanged."""
        assert self._plain_url is not None and isinstance(self._bot.session, AiohttpSession)
        session = await self._bot.session.create_session()
        try:
            async with session.post(
                self._plain_url,
                data=self._plain_body(item),
                headers=_JSON_HEADERS,
                timeout=_REQUEST_TIMEOUT,
            ) as response:
                status = response.status
                content = await response.read()
        except TimeoutError as error:
            raise TelegramNetworkError(
                method=self._plain_method(item), message="Request timeout error"
            ) from error
        except aiohttp.ClientError as error:
            raise TelegramNetworkError(
                method=self._plain_method(item), message=f"{type(error).__name__}: {error}"
            ) from error
        if status == 200:
            # Telegram's answer starts with the message id: the rest (the whole message
            # echoed back) need not be parsed.
            leading = _LEADING_MESSAGE_ID.match(content)
            if leading is not None:
                return int(leading[1])
            with contextlib.suppress(ValueError, KeyError, TypeError):
                answer = json.loads(content)
                if answer["ok"] is True:
                    return int(answer["result"]["message_id"])
        self._bot.session.check_response(
            bot=self._bot,
            method=self._plain_method(item),
            status_code=status,
            content=content.decode("utf-8", "replace"),
        )
        raise TelegramAPIError(
            method=self._plain_method(item), message=f"unreadable answer (HTTP {status})"
        )

    def _plain_method(self, item: OutboxItem) -> SendMessage:
        return SendMessage(chat_id=item.chat_id, text=item.text)

    async def _deliver(self, item: OutboxItem, stopping: asyncio.Event) -> bool:
        """Sends one row and records the outcome; False if it was not tried (stopping)."""
        try:
            answer = await self._request(item, stopping)
            if answer is None:
                return False
        except _MissingMedia as error:
            await self._on_rejected(item, str(error))
        except _PictureNotReady:
            await self._retry_later(
                item, PICTURE_WAIT_SECONDS, "picture being drawn", count_attempt=False
            )
        except TelegramRetryAfter as error:
            await self._on_retry_after(item, error)
        except TelegramMigrateToChat as error:
            await self._on_migrated(item, error.migrate_to_chat_id)
        except TelegramForbiddenError as error:
            await self._on_forbidden(item, error.message)
        except TelegramUnauthorizedError as error:
            await self._retry_later(item, 0.0, error.message, count_attempt=False)
            raise TokenRejected(error.message) from error
        except (TelegramNetworkError, TelegramServerError) as error:
            await self._on_transient(item, f"{type(error).__name__}: {error.message}")
        except TelegramBadRequest as error:
            if item.thread_id is not None and THREAD_NOT_FOUND in error.message.lower():
                await self._on_thread_gone(item)
            else:
                await self._on_rejected(item, error.message)
        except TelegramAPIError as error:
            await self._on_rejected(item, f"{type(error).__name__}: {error.message}")
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            await self._on_transient(item, f"{type(error).__name__}: {error}")
        else:
            await self._on_sent(item, answer)
        return True

    async def _on_sent(self, item: OutboxItem, answer: _Delivered) -> None:
        if item.media_id is not None:
            async with self._transaction() as session:
                await outbox.mark_sent(
                    session, item.id, telegram_message_id=answer.message_id, now=self._clock()
                )
                if answer.photo_file_id is not None:
                    # Later sends of the same picture reuse Telegram's copy.
                    await media_repo.remember_file_id(session, item.media_id, answer.photo_file_id)
                await session.commit()
        else:
            self._unrecorded.append((item.id, answer.message_id))
            if len(self._unrecorded) >= self.record_batch:
                self._record_wake.set()
        report = self._report
        report.sent += 1
        report.first_send_at = report.first_send_at or answer.sent_at
        report.last_send_at = answer.sent_at
        if report.sent % 1000 == 0:
            self._chat_pacing.forget_older_than(time.monotonic())

    async def _record_sent(self) -> None:
        """Records delivered rows as sent, a batch per transaction (see record_batch)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._record_wake.wait(), timeout=RECORD_SECONDS)
            self._record_wake.clear()
            try:
                await self._flush_sent()
            except Exception as error:
                logger.warning("could not record sent messages yet: %s", _one_line(error))
                await asyncio.sleep(RECORD_SECONDS * 5)

    async def _flush_sent(self) -> None:
        if not self._unrecorded:
            return
        batch, self._unrecorded = self._unrecorded, []
        self._recording = len(batch)
        try:
            async with self._transaction() as session:
                await outbox.mark_sent_many(session, batch, now=self._clock())
                await session.commit()
        except BaseException:
            self._unrecorded[:0] = batch
            raise
        finally:
            self._recording = 0
            if not self._recording_lags():
                self._record_room.set()

    async def _on_retry_after(self, item: OutboxItem, error: TelegramRetryAfter) -> None:
        self._report.rate_limited += 1
        pause = float(error.retry_after) + PAUSE_MARGIN_SECONDS
        if self._pacer.pause(pause):
            # The requests already out when Telegram said so get the same answer: one line.
            logger.warning("Telegram asked to wait %s s; every send pauses", error.retry_after)
        await self._retry_later(item, pause, error.message, count_attempt=False)

    async def _on_forbidden(self, item: OutboxItem, reason: str) -> None:
        async with self._transaction() as session:
            await chat_repo.update_chat(session, item.chat_id, active=False)
            skipped = await outbox.skip_chat_rows(session, item.chat_id, reason)
            await session.commit()
        self._report.blocked_chats += 1
        self._report.skipped += skipped
        logger.info("chat %s refused the bot (%s): marked inactive", item.chat_id, reason)

    async def _on_migrated(self, item: OutboxItem, new_chat_id: int) -> None:
        async with self._transaction() as session:
            if await chat_repo.get_chat(session, new_chat_id) is not None:
                await outbox.move_chat_rows(session, item.chat_id, new_chat_id)
                await chat_repo.migrate_chat(session, item.chat_id, new_chat_id)
            else:
                # The id changes in place; the outbox follows by ON UPDATE CASCADE.
                await chat_repo.migrate_chat(session, item.chat_id, new_chat_id)
                await outbox.move_chat_rows(session, item.chat_id, new_chat_id)
            await outbox.mark_retry(
                session,
                item.id,
                available_at=self._clock(),
                error=f"group moved to {new_chat_id}",
                count_attempt=False,
            )
            await session.commit()
        self._report.migrated += 1
        logger.info("group %s became supergroup %s: moved", item.chat_id, new_chat_id)

    async def _on_thread_gone(self, item: OutboxItem) -> None:
        assert item.thread_id is not None
        async with self._transaction() as session:
            countries = await chat_repo.drop_thread_bindings(session, item.chat_id, item.thread_id)
            await outbox.clear_thread(session, item.chat_id, item.thread_id)
            await outbox.mark_retry(
                session,
                item.id,
                available_at=self._clock(),
                error=f"forum topic {item.thread_id} is gone",
                count_attempt=False,
            )
            await session.commit()
        self._held.pop(item.id, None)
        logger.warning(
            "forum topic %s of chat %s is gone: bindings of %s dropped, its messages go to "
            "the general topic",
            item.thread_id,
            item.chat_id,
            ", ".join(countries) or "no country",
        )

    async def _on_rejected(self, item: OutboxItem, reason: str) -> None:
        async with self._transaction() as session:
            await outbox.mark_failed(session, item.id, reason)
            await session.commit()
        self._report.failed += 1
        logger.warning(
            "Telegram refused outbox row %s for chat %s: %s", item.id, item.chat_id, reason
        )

    async def _on_transient(self, item: OutboxItem, reason: str) -> None:
        if item.attempts >= self.max_attempts:
            await self._on_rejected(item, f"gave up after {item.attempts} attempts: {reason}")
            return
        delay = min(
            self.retry_cap.total_seconds(),
            self.retry_base.total_seconds() * 2 ** max(0, item.attempts - 1),
        )
        self._report.retried += 1
        logger.info("outbox row %s: %s; retry in %.1f s", item.id, reason, delay)
        await self._retry_later(item, delay, reason, count_attempt=True)

    async def _retry_later(
        self, item: OutboxItem, delay: float, reason: str, *, count_attempt: bool
    ) -> None:
        async with self._transaction() as session:
            await outbox.mark_retry(
                session,
                item.id,
                available_at=self._clock() + timedelta(seconds=delay),
                error=reason,
                count_attempt=count_attempt,
            )
            await session.commit()
        self._held.pop(item.id, None)


# ---------------------------------------------------------------------- module entry


def _parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.sender", description="Send every due outbox row, then exit."
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--api-url", required=True, help="Bot API server base URL")
    parser.add_argument("--token", default=os.environ.get("BOT_TOKEN", ""))
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--lease-seconds", type=float, default=DEFAULT_LEASE.total_seconds())
    parser.add_argument("--owner", default=None)
    parser.add_argument("--progress", action="store_true", help="print a line per message sent")
    return parser.parse_args(argv)


async def _drain(arguments: argparse.Namespace) -> SendReport:
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from storage.db import create_engine, create_session_factory

    engine = create_engine(arguments.database_url)
    bot = Bot(
        token=arguments.token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(arguments.api_url)),
    )
    sender = Sender(
        bot,
        create_session_factory(engine),
        rate=arguments.rate,
        concurrency=arguments.concurrency,
        lease=timedelta(seconds=arguments.lease_seconds),
        owner=arguments.owner,
    )

    def progress(report: SendReport) -> None:
        print(f"sent {report.sent}", flush=True)

    try:
        return await sender.run_until_empty(progress if arguments.progress else None)
    finally:
        await bot.session.close()
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    arguments = _parse_arguments(argv)
    if not arguments.token:
        print("delivery.sender: BOT_TOKEN: missing; pass --token or set BOT_TOKEN", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = asyncio.run(_drain(arguments))
    print(report, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
