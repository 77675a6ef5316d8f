"""What no other router took: unknown commands, stray text, stale or forged buttons."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.common import in_private_chat, is_command


async def _addressed_to_me(message: Message, bot: Bot) -> bool:
    """In a group a bare "/command" may be meant for another bot; answer only mentions."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    first_word = (message.text or message.caption or "").split(maxsplit=1)[0]
    _command, _at, mention = first_word.partition("@")
    if not mention:
        return False
    me = await bot.me()
    return bool(me.username) and mention.lower() == (me.username or "").lower()


async def unknown_command(message: Message, bot: Bot) -> None:
    if await _addressed_to_me(message, bot):
        await message.answer(_("I do not know this command. /help lists what I can do."))


async def anything_else(message: Message) -> None:
    await message.answer(
        _("I answer commands. Try /news Uzbekistan or /search agreement; /help lists everything.")
    )


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is out of date. Send the command again."))


def create_router() -> Router:
    router = Router(name="fallback")
    router.message.register(unknown_command, is_command)
    router.message.register(anything_else, in_private_chat)
    router.callback_query.register(stale_button)
    return router
