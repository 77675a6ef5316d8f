"""The last resort: an error is logged and the user hears about it instead of silence."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

from handlers.middlewares import callback_answered
from storage.guard import StoreUnavailable

logger = logging.getLogger(__name__)


def _store_unavailable(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, StoreUnavailable):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
    update = event.update
    if _store_unavailable(event.exception):
        # The store's watch already reports the loss in the log, every few minutes.
        logger.debug("update %s refused: %s", update.update_id, event.exception)
    else:
        logger.error(
            "update %s failed: %s", update.update_id, event.exception, exc_info=event.exception
        )
    text = _("Something went wrong on my side. Please try again in a minute.")
    chat_id: int | None = None
    if update.message is not None:
        chat_id = update.message.chat.id
    elif update.channel_post is not None:
        chat_id = update.channel_post.chat.id
    elif update.callback_query is not None:
        query = update.callback_query
        if not callback_answered(query.id):
            try:
                await query.answer(text, show_alert=True)
                return True
            except TelegramAPIError as error:
                logger.info("could not answer callback %s: %s", query.id, error)
        # Already answered before the failure (a second answer is refused): say it in the chat.
        chat_id = query.message.chat.id if query.message is not None else None
    if chat_id is not None:
        try:
            await bot.send_message(chat_id, text)
        except TelegramAPIError as error:
            logger.warning("could not report the error to chat %s: %s", chat_id, error)
    return True


def create_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
