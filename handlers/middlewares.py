"""Middlewares: a DB session per update, the chat's language, flood control (ours and
Telegram's), access rules."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.flags import get_flag
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from aiogram.utils.i18n import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import normalize_language
from core.metrics import UpdateStats
from storage.chats import chat_language

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

ACCESS_FLAG: Final = "access"
CHAT_ADMIN: Final = "chat_admin"
BOT_ADMIN: Final = "bot_admin"
# Telegram's sender of messages that group admins post anonymously.
GROUP_ANONYMOUS_BOT_ID: Final = 1087968824


# The update's session and the task handling the update, for EndTransactionBeforeRequest.
_UPDATE_SESSION: ContextVar[tuple[AsyncSession, asyncio.Task[Any] | None] | None] = ContextVar(
    "update_session", default=None
)


class DbSessionMiddleware(BaseMiddleware):
    """One session per update, committed when the handler returns without an error, and
    before each call to Telegram (see EndTransactionBeforeRequest)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            token = _UPDATE_SESSION.set((session, asyncio.current_task()))
            try:
                result = await handler(event, data)
            finally:
                _UPDATE_SESSION.reset(token)
            # Most updates ended their transaction before replying: committing no
            # transaction still costs SQLAlchemy a greenlet and a transaction object.
            if session.in_transaction():
                await session.commit()
            return result


class EndTransactionBeforeRequest(BaseRequestMiddleware):
    """Commits the update's open transaction before the bot calls Telegram.

    SQLite has one writer at a time and our transactions begin IMMEDIATE, so a handler
    that read the database and then waited on Telegram would keep every other writer (the
    feed poller, the sender, other updates) waiting for a network round trip. What a
    handler wrote before it replies is committed before the reply; what it does after
    runs in a new transaction. Only the task that owns the session commits: a helper
    task (a typing indicator) must not touch a session in use by the handler.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        owner = _UPDATE_SESSION.get()
        if owner is not None:
            session, task = owner
            if task is asyncio.current_task() and session.in_transaction():
                await session.commit()
        return await make_request(bot, method)


class KeepResponseTypes(BaseRequestMiddleware):
    """Keeps the classes aiogram reads Telegram's answers with, for the life of the process.

    Every answer is validated as `Response[<the method's result type>]`, a generic pydantic
    model that pydantic caches only while something else refers to it: once the garbage
    collector has freed one, the next request builds the class again, schema and
    validator, which was a tenth of the bot's busy time in a surge of users.
    """

    _kept: ClassVar[dict[Any, Any]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


@dataclass(slots=True)
class Replies:
    """What the update being handled has said to Telegram so far."""

    answered_callbacks: set[str] = field(default_factory=set)


_REPLIES: ContextVar[Replies | None] = ContextVar("update_replies", default=None)
EDIT_METHODS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)


def callback_answered(callback_query_id: str) -> bool:
    """Whether the update being handled already answered this callback query (Telegram
    refuses a second answer with "query is too old")."""
    replies = _REPLIES.get()
    return replies is not None and callback_query_id in replies.answered_callbacks


class TrackReplies(BaseMiddleware):
    """Marks the handling of an update, so that the bot's requests know they are replies to
    someone waiting (see RideOutFloodControl) and the error handler knows what was said.

    Registered for updates and for errors: aiogram handles an error outside the update's
    middlewares, with the same data, so the error handler sees the same record."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        replies = data.get("replies")
        if not isinstance(replies, Replies):
            replies = data["replies"] = Replies()
        token = _REPLIES.set(replies)
        try:
            return await handler(event, data)
        finally:
            _REPLIES.reset(token)


class RideOutFloodControl(BaseRequestMiddleware):
    """Replies to a user survive Telegram's flood control instead of being dropped.

    Telegram limits messages and edits per chat (about one a second, short bursts
    allowed) and answers more with 429 and `retry_after`. A reply made while handling an
    update waits that long and is sent again, as long as the wait is short; requests to
    that chat made meanwhile wait too, instead of earning their own 429. An edit of a
    message that a newer edit of the same message replaced while it waited is not sent:
    the newer one carries the last state. Requests outside an update (the digest sender)
    pass through: the sender paces itself and handles 429 for every chat at once.
    """

    def __init__(
        self,
        *,
        max_wait: float = 20.0,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self._clock = clock
        self._sleep = sleep
        self._chat_free_at: dict[int | str, float] = {}
        self._edit_generation: dict[tuple[int | str, int], int] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        replies = _REPLIES.get()
        if replies is None:
            return await make_request(bot, method)
        chat_id: int | str | None = getattr(method, "chat_id", None)
        edit_key = self._edit_key(method, chat_id)
        generation = 0
        if edit_key is not None:
            generation = self._edit_generation.get(edit_key, 0) + 1
            self._edit_generation[edit_key] = generation
        attempt = 0
        try:
            while True:
                attempt += 1
                await self._wait_for_chat(chat_id)
                if edit_key is not None and self._edit_generation.get(edit_key) != generation:
                    logger.debug("edit of message %s replaced by a newer one", edit_key)
                    return Response[TelegramType](ok=True, result=True)
                try:
                    response = await make_request(bot, method)
                except TelegramBadRequest as error:
                    if not isinstance(method, AnswerCallbackQuery) or "query is too old" not in (
                        error.message
                    ):
                        raise
                    # The tap waited too long in a surge; what it asked for is done all the
                    # same (the message was edited), only the button's spinner timed out.
                    logger.info("callback %s answered too late", method.callback_query_id)
                    replies.answered_callbacks.add(method.callback_query_id)
                    return Response[TelegramType](ok=True, result=True)
                except TelegramRetryAfter as error:
                    if error.retry_after > self.max_wait or attempt >= self.max_attempts:
                        raise
                    logger.info(
                        "flood control on %s to chat %s: waiting %s s",
                        type(method).__name__,
                        chat_id,
                        error.retry_after,
                    )
                    if chat_id is None:
                        await self._sleep(error.retry_after)
                    else:
                        self._hold_chat(chat_id, error.retry_after)
                    continue
                if isinstance(method, AnswerCallbackQuery):
                    replies.answered_callbacks.add(method.callback_query_id)
                return response
        finally:
            if edit_key is not None and self._edit_generation.get(edit_key) == generation:
                del self._edit_generation[edit_key]

    @staticmethod
    def _edit_key(
        method: TelegramMethod[Any], chat_id: int | str | None
    ) -> tuple[int | str, int] | None:
        message_id: int | None = getattr(method, "message_id", None)
        if not isinstance(method, EDIT_METHODS) or chat_id is None or message_id is None:
            return None
        return (chat_id, message_id)

    def _hold_chat(self, chat_id: int | str, seconds: float) -> None:
        free_at = self._clock() + seconds
        self._chat_free_at[chat_id] = max(self._chat_free_at.get(chat_id, 0.0), free_at)
        if len(self._chat_free_at) > 10_000:
            now = self._clock()
            self._chat_free_at = {
                chat: moment for chat, moment in self._chat_free_at.items() if moment > now
            }

    async def _wait_for_chat(self, chat_id: int | str | None) -> None:
        if chat_id is None:
            return
        while True:
            wait = self._chat_free_at.get(chat_id, 0.0) - self._clock()
            if wait <= 0:
                return
            await self._sleep(wait)


class CountUpdates(BaseMiddleware):
    def __init__(self, stats: UpdateStats, clock: Callable[[], float] = time.time) -> None:
        self.stats = stats
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        stats = self.stats
        started = self._clock()
        message = getattr(event, "message", None) or getattr(event, "channel_post", None)
        if isinstance(message, Message):
            stats.delayed_messages += 1
            stats.delay_seconds += max(0.0, started - message.date.timestamp())
        stats.in_progress += 1
        try:
            result = await handler(event, data)
        except Exception:
            stats.failed += 1
            raise
        else:
            stats.handled += 1
            return result
        finally:
            stats.in_progress -= 1
            stats.handling_seconds += self._clock() - started


class ChatLanguageMiddleware(I18nMiddleware):
    """The chat's stored language; for a chat the bot does not know yet, the user's client
    language ("en…" is English, anything else Russian)."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        known: str | None = data.get("locale")
        if known:
            return known
        chat: Chat | None = data.get("event_chat")
        session: AsyncSession | None = data.get("session")
        locale: str | None = None
        if chat is not None and session is not None:
            try:
                # Part of the update's one transaction: it ends before the first request to
                # Telegram (EndTransactionBeforeRequest) or with the update, whichever is
                # first, so an update that never writes holds SQLite's lock only briefly.
                locale = await chat_language(session, chat.id)
            except SQLAlchemyError as error:
                # The error handler still has to speak some language when the database fails.
                logger.warning("could not read the language of chat %s: %s", chat.id, error)
                await session.rollback()
                locale = None
        if locale is None:
            user: User | None = data.get("event_from_user")
            locale = normalize_language(user.language_code if user else None)
        locale = normalize_language(locale)
        data["locale"] = locale
        return locale


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float
    warned: bool = False


class TokenBucket:
    """Per-key token buckets: `capacity` events at once, refilled at `rate` per second."""

    def __init__(
        self,
        *,
        capacity: float,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[int, _Bucket] = {}

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated_at) * self.rate)
        bucket.updated_at = now

    def take(self, key: int) -> tuple[bool, bool]:
        """Returns (allowed, warn): warn is true once per flood, on its first refused event.

        A flood is over when the bucket has refilled almost to capacity.
        """
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(tokens=self.capacity, updated_at=now)
        self._refill(bucket, now)
        if bucket.tokens >= 1:
            if bucket.tokens >= self.capacity - 1:
                bucket.warned = False
            bucket.tokens -= 1
            return True, False
        if bucket.warned:
            return False, False
        bucket.warned = True
        return False, True

    def _forget_idle(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.capacity:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


# (capacity, rate per second) of each user's messages and button presses.
MESSAGE_BUCKET: Final = (5.0, 1.0)
CALLBACK_BUCKET: Final = (10.0, 3.0)


class SharedBucket(Protocol):
    """A token bucket several bot processes share (bot.throttling.RedisTokenBucket):
    `take` as TokenBucket's, awaited."""

    async def take(self, key: int) -> tuple[bool, bool]: ...


class ThrottlingMiddleware(BaseMiddleware):
    """Drops a user's messages or button presses beyond the rate; says "slow down" once."""

    def __init__(self, bucket: TokenBucket | SharedBucket) -> None:
        self.bucket = bucket

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        if isinstance(self.bucket, TokenBucket):
            allowed, warn = self.bucket.take(user.id)
        else:
            allowed, warn = await self.bucket.take(user.id)
        if allowed:
            return await handler(event, data)
        logger.debug("throttled user %s", user.id)
        if warn:
            text = _("Too many requests. Please wait a few seconds and try again.")
            if isinstance(event, Message | CallbackQuery):
                await event.answer(text)
        return None


class AccessMiddleware(BaseMiddleware):
    """Enforces a handler's `access` flag with a polite refusal.

    `chat_admin`: in groups and channels only the chat's administrators may act (anyone
    in a private chat). `bot_admin`: only the users listed in ADMIN_IDS.
    """

    def __init__(self, admin_ids: Collection[int], *, cache_seconds: float = 60.0) -> None:
        self.admin_ids = frozenset(admin_ids)
        self.cache_seconds = cache_seconds
        self._member_cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        rule = get_flag(data, ACCESS_FLAG)
        if rule is None:
            return await handler(event, data)
        user: User | None = data.get("event_from_user")
        if rule == BOT_ADMIN:
            if user is not None and user.id in self.admin_ids:
                return await handler(event, data)
            await _refuse(event, _("This command is available only to the bot's administrators."))
            return None
        if rule == CHAT_ADMIN:
            chat: Chat | None = data.get("event_chat")
            bot: Bot | None = data.get("bot")
            if chat is None or await self._is_chat_admin(bot, chat, user, event):
                return await handler(event, data)
            await _refuse(
                event, _("Only the administrators of this chat can change its subscription.")
            )
            return None
        raise ValueError(f"unknown access rule {rule!r}")

    async def _is_chat_admin(
        self, bot: Bot | None, chat: Chat, user: User | None, event: TelegramObject
    ) -> bool:
        if chat.type == ChatType.PRIVATE:
            return True
        if isinstance(event, Message) and event.sender_chat is not None:
            # A channel post, or a group admin writing anonymously on behalf of the group.
            return event.sender_chat.id == chat.id
        if user is None or bot is None:
            return False
        if user.id == GROUP_ANONYMOUS_BOT_ID:
            return True
        key = (chat.id, user.id)
        now = time.monotonic()
        cached = self._member_cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat.id, user.id)
        except TelegramAPIError as error:
            logger.warning("getChatMember failed for chat %s: %s", chat.id, error)
            return False
        is_admin = member.status in {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR}
        if len(self._member_cache) > 10_000:
            self._member_cache.clear()
        self._member_cache[key] = (now, is_admin)
        return is_admin


async def _refuse(event: TelegramObject, text: str) -> None:
    if isinstance(event, CallbackQuery):
        await event.answer(text, show_alert=True)
    elif isinstance(event, Message):
        await event.answer(text)


def register_middlewares(
    router: Any,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    admin_ids: Collection[int],
    message_bucket: TokenBucket | SharedBucket | None = None,
    callback_bucket: TokenBucket | SharedBucket | None = None,
    update_stats: UpdateStats | None = None,
) -> None:
    """Order matters: the session comes first (the language is read from the database),
    then the language (so flood and refusal replies are translated), then flood control."""
    language = ChatLanguageMiddleware(i18n)
    if update_stats is not None:
        router.update.outer_middleware(CountUpdates(update_stats))
    replies = TrackReplies()
    router.update.outer_middleware(replies)
    router.errors.outer_middleware(replies)
    router.update.outer_middleware(DbSessionMiddleware(session_factory))
    router.update.outer_middleware(language)
    router.errors.outer_middleware(language)
    router.message.outer_middleware(
        ThrottlingMiddleware(
            message_bucket or TokenBucket(capacity=MESSAGE_BUCKET[0], rate=MESSAGE_BUCKET[1])
        )
    )
    router.callback_query.outer_middleware(
        ThrottlingMiddleware(
            callback_bucket or TokenBucket(capacity=CALLBACK_BUCKET[0], rate=CALLBACK_BUCKET[1])
        )
    )
    access = AccessMiddleware(admin_ids)
    router.message.middleware(access)
    router.callback_query.middleware(access)
    router.channel_post.middleware(access)
