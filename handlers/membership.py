"""The bot's own membership: blocked by a user, added to or removed from a group."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.types import ChatMemberUpdated, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from storage.chats import get_chat, migrate_chat, update_chat

logger = logging.getLogger(__name__)

GONE = {ChatMemberStatus.KICKED, ChatMemberStatus.LEFT}
PRESENT = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR}


async def my_membership_changed(update: ChatMemberUpdated, session: AsyncSession, bot: Bot) -> None:
    old, new = update.old_chat_member.status, update.new_chat_member.status
    chat = await get_chat(session, update.chat.id)
    if new in GONE:
        if chat is not None and chat.active:
            # Settings are kept: /start in this chat brings everything back.
            await update_chat(session, chat.id, active=False)
            logger.info("chat %s removed or blocked the bot", update.chat.id)
        return
    if new in PRESENT and old in GONE:
        if chat is not None and not chat.active:
            await update_chat(session, chat.id, active=True)
        if update.chat.type in {ChatType.GROUP, ChatType.SUPERGROUP}:
            await bot.send_message(
                update.chat.id,
                _(
                    "👋 Thank you for adding me! An administrator of this group can subscribe "
                    "it to the daily digest with /start. Everyone can use /news, /agreements "
                    "and /search; /help lists everything."
                ),
            )


async def _migrated(message: Message) -> bool:
    return message.migrate_to_chat_id is not None


async def group_migrated(message: Message, session: AsyncSession) -> None:
    new_id = message.migrate_to_chat_id
    if new_id is not None and await get_chat(session, message.chat.id) is not None:
        await migrate_chat(session, message.chat.id, new_id)
        logger.info("chat %s became supergroup %s", message.chat.id, new_id)


def create_router() -> Router:
    router = Router(name="membership")
    router.my_chat_member.register(my_membership_changed)
    router.message.register(group_migrated, _migrated)
    return router
