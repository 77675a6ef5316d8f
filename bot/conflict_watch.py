"""409 Conflict on getUpdates: another process polls with the same token."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.health import CONFLICT_RETRY_SECONDS, CONFLICT_WARN_EVERY_SECONDS, ProcessHealth

logger = logging.getLogger(__name__)


class PollingConflictWatch(BaseRequestMiddleware):
    """Telegram answers getUpdates with 409 Conflict when another process polls with the
    same token (or a webhook is set). aiogram would log an error and a retry line for every
    attempt, every second or two; this logs one warning a minute at most, counts the
    conflicts and asks again after `retry_after` seconds, as if no update had come."""

    def __init__(
        self,
        health: ProcessHealth,
        *,
        retry_after: float = CONFLICT_RETRY_SECONDS,
        warn_every: float = CONFLICT_WARN_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.retry_after = retry_after
        self.warn_every = warn_every
        self._clock = clock
        self._warned_at: float | None = None

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        polling = isinstance(method, GetUpdates)
        try:
            return await make_request(bot, method)
        except TelegramConflictError as error:
            if not polling:
                raise
            self.health.telegram_conflicts += 1
            now = self._clock()
            if self._warned_at is None or now - self._warned_at >= self.warn_every:
                self._warned_at = now
                logger.warning(
                    "Telegram refused getUpdates with 409 (%s): another process "
                    "receives this bot's updates, and each update reaches only one of them; "
                    "stop the other process (conflicts so far: %d)",
                    error.message,
                    self.health.telegram_conflicts,
                )
            await asyncio.sleep(self.retry_after)
            # The session hands a method's result, not the Response, back to its caller.
            return cast("Response[TelegramType]", [])
