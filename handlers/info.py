"""/help, /countries and /language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import LANGUAGES
from core.settings import Settings
from handlers.common import country_name, edit_or_send
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from handlers.onboarding import PRESET_NAMES, callback_chat, open_chat
from storage.articles import country_article_counts
from storage.chats import get_chat, update_chat
from tagging import countries, presets

ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}
COUNTS_WINDOW_DAYS = 30


class LanguagePick(CallbackData, prefix="lang"):
    code: str


def help_text(is_admin: bool) -> str:
    lines = [
        _("<b>What I can do</b>"),
        "",
        _(
            "Every day at your time I send a digest of the regional press on the countries and "
            "topics you chose. Between digests, ask the archive:"
        ),
        "",
        _("/agreements Uzbekistan: agreements with a country"),
        _("/trade Kazakhstan: trade with a country"),
        _("/news Tajikistan 30: everything about a country for 30 days (7 by default)"),
        _("/topic education Kyrgyzstan: a topic, optionally for one country"),
        _("/search joint venture: search by words, in any word form"),
        _("/digest: the digest right now"),
        _("/stats 12: a chart of articles per country per week, for 12 weeks (8 by default)"),
        _("/countries: the countries I follow"),
        "",
        _("/settings: countries, topics, time and time zone"),
        _("/pause and /resume: stop and restart the daily digest"),
        _("/language: Russian or English"),
        _("/stop: unsubscribe and forget this chat"),
        "",
        _(
            "Countries can be written in Russian or English, in any case: «Узбекистан», "
            "«узбекистане», «Uzbekistan», «uz»."
        ),
        _("In a group, only its administrators change the subscription."),
    ]
    if is_admin:
        lines += [
            "",
            _("<b>For administrators</b>"),
            _("/feeds: feeds and their health"),
            _("/addfeed URL: add a feed (it is checked first)"),
            _("/delfeed ID: remove a feed"),
            _("/export_opml: the feed list as an OPML file; send an .opml file to import one"),
        ]
    return "\n".join(lines)


async def help_command(message: Message, settings: Settings) -> None:
    user = message.from_user
    await message.answer(help_text(user is not None and user.id in settings.admin_ids))


async def countries_command(message: Message, session: AsyncSession, settings: Settings) -> None:
    since = datetime.now(UTC) - timedelta(days=COUNTS_WINDOW_DAYS)
    counts = await country_article_counts(
        session, published_since=since, threshold=settings.tag_threshold
    )
    chat = await get_chat(session, message.chat.id)
    chosen = chat.countries if chat else frozenset()
    lines = [
        _("<b>Countries I follow</b> (articles in the last {days} days)").format(
            days=COUNTS_WINDOW_DAYS
        ),
        "",
    ]
    for item in countries():
        mark = " ✅" if item.code in chosen else ""
        lines.append(
            f"{country_name(item.code)} ({item.code.lower()}) — {counts.get(item.code, 0)}{mark}"
        )
    available = presets()
    groups = [
        f"{_(name)}: " + ", ".join(code.lower() for code in available[preset])
        for preset, name in PRESET_NAMES.items()
        if preset in available
    ]
    if groups:
        lines += ["", _("<b>Groups</b> (in /settings)"), *groups]
    lines += ["", _("✅ marks your countries. Example: /news uz 30")]
    await message.answer("\n".join(lines))


def language_prompt() -> str:
    return _("Choose the language of the bot in this chat:")


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="🇷🇺 Русский", callback_data=LanguagePick(code="ru"))
    builder.button(text="🇬🇧 English", callback_data=LanguagePick(code="en"))
    builder.adjust(2)
    return builder.as_markup()


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
        await callback.answer(_("This button is out of date. Send the command again."))
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
    router = Router(name="info")
    router.message.register(help_command, Command("help"))
    router.channel_post.register(help_command, Command("help"))
    router.message.register(countries_command, Command("countries"))
    router.message.register(language_command, Command("language"), flags=ADMIN_ONLY)
    router.channel_post.register(language_command, Command("language"), flags=ADMIN_ONLY)
    router.callback_query.register(pick_language, LanguagePick.filter(), flags=ADMIN_ONLY)
    return router
