"""/digest: the digest right now, and the "more" buttons under digest messages."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from delivery.callbacks import MoreNews, more_keyboard
from delivery.on_demand import build_digest_now, record_digest_sent
from handlers.archive import DEFAULT_NEWS_DAYS, NEWS, ArchiveRequest, build_page
from handlers.common import labels
from storage.chats import get_chat
from tagging import countries


async def digest_now(message: Message, session: AsyncSession, settings: Settings) -> None:
    chat = await get_chat(session, message.chat.id)
    if chat is None or not chat.countries:
        await message.answer(_("Choose countries first: /start"))
        return
    rendered = await build_digest_now(
        session, chat.id, datetime.now(UTC), labels(), threshold=settings.tag_threshold
    )
    if not rendered:
        await message.answer(
            _(
                "Nothing new on your countries this week that you have not seen. "
                "The archive is always there: /news, /agreements, /search."
            )
        )
        return
    sent: list[int] = []
    for part in rendered:
        await message.answer(part.html, reply_markup=more_keyboard(part.more_buttons, labels()))
        sent.extend(part.article_ids)
    await record_digest_sent(session, chat.id, sent)


async def more_of_country(
    callback: CallbackQuery, callback_data: MoreNews, session: AsyncSession, settings: Settings
) -> None:
    code = callback_data.country.upper()
    if callback.message is None or code not in {item.code for item in countries()}:
        await callback.answer(_("This button is out of date. Send the command again."))
        return
    request = ArchiveRequest(kind=NEWS, country=code, days=DEFAULT_NEWS_DAYS)
    text, keyboard = await build_page(session, settings, callback.message.chat.id, request)
    await callback.answer()
    # The digest message stays as it is; the country's news comes as a new message.
    await callback.bot.send_message(  # type: ignore[union-attr]
        callback.message.chat.id, text, reply_markup=keyboard
    )


def create_router() -> Router:
    router = Router(name="digest")
    router.message.register(digest_now, Command("digest"))
    router.channel_post.register(digest_now, Command("digest"))
    router.callback_query.register(more_of_country, MoreNews.filter())
    return router
