"""The settings screen: /settings and its menu, /language and the language buttons.

Each step the menu opens is answered by the onboarding step handlers in the settings
flow, which come back to this menu when done.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import LANGUAGES
from core.settings import Settings
from handlers.common import edit_or_send
from handlers.delivery_settings import (
    filter_keyboard,
    filter_text,
    modes_keyboard,
    modes_text,
    show_regions,
)
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from handlers.screens import (
    ONBOARDING,
    SETTINGS,
    LanguagePick,
    SettingsMenu,
    answer_stale,
    callback_chat,
    country_keyboard,
    country_step_text,
    language_keyboard,
    language_prompt,
    open_chat,
    settings_keyboard,
    settings_text,
    subscription_summary,
    time_keyboard,
    time_step_text,
    topic_keyboard,
    topic_step_text,
    zone_keyboard,
    zone_step_text,
)
from storage.chats import update_chat

ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}


async def settings_command(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext | None = None,
) -> None:
    # Channel posts have no sender, hence no conversation state.
    if state is not None:
        await state.clear()
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if not chat.subscribed:
        await message.answer(
            country_step_text(chat.countries, ONBOARDING),
            reply_markup=country_keyboard(chat.countries, ONBOARDING),
        )
        return
    await message.answer(settings_text(chat), reply_markup=settings_keyboard())


async def settings_menu(
    callback: CallbackQuery,
    callback_data: SettingsMenu,
    session: AsyncSession,
    settings: Settings,
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None:
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    item = callback_data.item
    if item == "countries":
        await edit_or_send(
            callback,
            country_step_text(chat.countries, SETTINGS),
            country_keyboard(chat.countries, SETTINGS),
        )
    elif item == "topics":
        await edit_or_send(
            callback, topic_step_text(chat.topics, SETTINGS), topic_keyboard(chat.topics, SETTINGS)
        )
    elif item == "time":
        await edit_or_send(
            callback,
            time_step_text(chat.digest_time, SETTINGS),
            time_keyboard(chat.digest_time, SETTINGS),
        )
    elif item == "zone":
        await edit_or_send(
            callback,
            zone_step_text(chat.timezone, SETTINGS),
            zone_keyboard(chat.timezone, SETTINGS),
        )
    elif item == "modes":
        await edit_or_send(callback, modes_text(chat), modes_keyboard(chat))
    elif item == "filter":
        await edit_or_send(callback, filter_text(chat), filter_keyboard(chat, in_settings=True))
    elif item == "regions":
        await show_regions(callback, session, chat, settings)
    elif item == "language":
        await edit_or_send(callback, language_prompt(), language_keyboard())
    elif item == "close":
        await edit_or_send(callback, "\n".join((_("<b>Settings</b>"), subscription_summary(chat))))
    else:
        await answer_stale(callback)
        return
    await callback.answer()


async def language_command(message: Message) -> None:
    await message.answer(language_prompt(), reply_markup=language_keyboard())


async def pick_language(
    callback: CallbackQuery,
    callback_data: LanguagePick,
    session: AsyncSession,
    settings: Settings,
    i18n: I18n,
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None or callback_data.code not in LANGUAGES:
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    await update_chat(session, chat.id, language=callback_data.code)
    with i18n.use_locale(callback_data.code):
        await callback.answer()
        await edit_or_send(
            callback,
            _("Done: I speak English in this chat now. /help lists the commands."),
        )


def create_router() -> Router:
    router = Router(name="chat_settings")
    router.message.register(settings_command, Command("settings"), flags=ADMIN_ONLY)
    router.channel_post.register(settings_command, Command("settings"), flags=ADMIN_ONLY)
    router.callback_query.register(settings_menu, SettingsMenu.filter(), flags=ADMIN_ONLY)
    router.message.register(language_command, Command("language"), flags=ADMIN_ONLY)
    router.channel_post.register(language_command, Command("language"), flags=ADMIN_ONLY)
    router.callback_query.register(pick_language, LanguagePick.filter(), flags=ADMIN_ONLY)
    return router
