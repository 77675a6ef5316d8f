"""What the subscription steps and the settings screen share: callback data, keyboards,
texts, and opening the chat's record.

The step keyboards serve two flows: onboarding (/start walks through the four steps) and
settings (each step opened from the menu returns to it). Callback data prefixes are part
of the keyboards already sent to chats, so they stay as they are.
"""

from __future__ import annotations

from collections.abc import Collection

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import N_
from core.settings import Settings
from handlers.common import (
    country_name,
    current_language,
    edit_or_send,
    format_moment,
    join_names,
    preset_name,
    quote,
    topic_name,
    utc_offset_label,
)
from storage.chats import ChatRecord, ensure_chat, get_chat
from tagging import Preset, countries, preset_list, topics

ONBOARDING = "o"
SETTINGS = "s"
FLOWS = frozenset({ONBOARDING, SETTINGS})

DIGEST_TIMES: tuple[str, ...] = (
    "06:00",
    "07:00",
    "08:00",
    "09:00",
    "10:00",
    "12:00",
    "14:00",
    "18:00",
    "21:00",
)
COMMON_ZONES: tuple[tuple[str, str], ...] = (
    ("Europe/Kaliningrad", N_("Kaliningrad")),
    ("Europe/Moscow", N_("Moscow")),
    ("Europe/Samara", N_("Samara")),
    ("Asia/Yekaterinburg", N_("Yekaterinburg")),
    ("Asia/Omsk", N_("Omsk")),
    ("Asia/Novosibirsk", N_("Novosibirsk")),
    ("Asia/Krasnoyarsk", N_("Krasnoyarsk")),
    ("Asia/Irkutsk", N_("Irkutsk")),
    ("Asia/Vladivostok", N_("Vladivostok")),
    ("Europe/Minsk", N_("Minsk")),
    ("Asia/Tashkent", N_("Tashkent")),
    ("Asia/Dushanbe", N_("Dushanbe")),
    ("Asia/Almaty", N_("Almaty")),
    ("Asia/Bishkek", N_("Bishkek")),
    ("Asia/Ashgabat", N_("Ashgabat")),
    ("Asia/Shanghai", N_("Beijing")),
)


class CountryPick(CallbackData, prefix="oc"):
    action: str  # t: toggle a country, p: toggle a preset, n: clear, d: done
    value: str = ""
    flow: str = ONBOARDING


class TopicPick(CallbackData, prefix="ot"):
    action: str  # t: toggle a topic, a: all topics, d: done
    value: str = ""
    flow: str = ONBOARDING


class TimePick(CallbackData, prefix="oh"):
    action: str  # s: set, i: type another time
    value: str = ""  # "0830": the separator ":" may not appear in callback data
    flow: str = ONBOARDING


class ZonePick(CallbackData, prefix="oz"):
    action: str  # s: set, i: type another zone
    value: str = ""
    flow: str = ONBOARDING


class SettingsMenu(CallbackData, prefix="sm"):
    item: str  # countries, topics, time, zone, language, close


class LanguagePick(CallbackData, prefix="lang"):
    code: str


def offered_presets() -> tuple[Preset, ...]:
    """The country groups that are buttons on the country keyboard, in the data file's order."""
    return tuple(preset for preset in preset_list() if preset.offered)


# Keyboards ----------------------------------------------------------------------------------


def _mark(selected: bool, text: str) -> str:
    return f"✅ {text}" if selected else text


def country_keyboard(selected: Collection[str], flow: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for item in countries():
        builder.button(
            text=_mark(item.code in selected, country_name(item.code)),
            callback_data=CountryPick(action="t", value=item.code, flow=flow),
        )
    builder.adjust(3)
    preset_row = InlineKeyboardBuilder()
    for preset in offered_presets():
        preset_row.button(
            text=_mark(set(preset.codes) <= set(selected), preset_name(preset)),
            callback_data=CountryPick(action="p", value=preset.id, flow=flow),
        )
    builder.attach(preset_row)
    finish = InlineKeyboardBuilder()
    if selected:
        finish.button(text=_("Clear"), callback_data=CountryPick(action="n", flow=flow))
    finish.button(
        text=_("Next ➡️") if flow == ONBOARDING else _("Done ✔️"),
        callback_data=CountryPick(action="d", flow=flow),
    )
    builder.attach(finish)
    return builder.as_markup()


def topic_keyboard(selected: Collection[str], flow: str) -> InlineKeyboardMarkup:
    every_topic = not selected
    builder = InlineKeyboardBuilder()
    for item in topics():
        builder.button(
            text=_mark(every_topic or item.id in selected, topic_name(item.id)),
            callback_data=TopicPick(action="t", value=item.id, flow=flow),
        )
    builder.adjust(2)
    finish = InlineKeyboardBuilder()
    finish.button(
        text=_mark(every_topic, _("All topics")), callback_data=TopicPick(action="a", flow=flow)
    )
    finish.button(
        text=_("Next ➡️") if flow == ONBOARDING else _("Done ✔️"),
        callback_data=TopicPick(action="d", flow=flow),
    )
    builder.attach(finish)
    return builder.as_markup()


def time_keyboard(current: str, flow: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value in DIGEST_TIMES:
        builder.button(
            text=_mark(value == current, value),
            callback_data=TimePick(action="s", value=value.replace(":", ""), flow=flow),
        )
    builder.adjust(3)
    other = InlineKeyboardBuilder()
    other.button(text=_("✏️ Another time"), callback_data=TimePick(action="i", flow=flow))
    builder.attach(other)
    return builder.as_markup()


def zone_keyboard(current: str, flow: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for zone, city in COMMON_ZONES:
        builder.button(
            text=_mark(zone == current, f"{_(city)} · {utc_offset_label(zone)}"),
            callback_data=ZonePick(action="s", value=zone, flow=flow),
        )
    builder.adjust(2)
    other = InlineKeyboardBuilder()
    other.button(text=_("✏️ Another time zone"), callback_data=ZonePick(action="i", flow=flow))
    builder.attach(other)
    return builder.as_markup()


def settings_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🌍 Countries"), callback_data=SettingsMenu(item="countries"))
    builder.button(text=_("🗂 Topics"), callback_data=SettingsMenu(item="topics"))
    builder.button(text=_("⏰ Digest time"), callback_data=SettingsMenu(item="time"))
    builder.button(text=_("🕓 Time zone"), callback_data=SettingsMenu(item="zone"))
    builder.button(text=_("🌐 Language"), callback_data=SettingsMenu(item="language"))
    builder.button(text=_("✖️ Close"), callback_data=SettingsMenu(item="close"))
    builder.adjust(2)
    return builder.as_markup()


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="🇷🇺 Русский", callback_data=LanguagePick(code="ru"))
    builder.button(text="🇬🇧 English", callback_data=LanguagePick(code="en"))
    builder.adjust(2)
    return builder.as_markup()


# Texts --------------------------------------------------------------------------------------


def _step_title(number: int, title: str, flow: str) -> str:
    if flow == ONBOARDING:
        return _("<b>Step {number} of 4. {title}</b>").format(number=number, title=title)
    return f"<b>{title}</b>"


def country_step_text(selected: Collection[str], flow: str) -> str:
    chosen = join_names(
        country_name(item.code) for item in countries() if item.code in selected
    ) or _("nothing yet")
    return "\n".join(
        (
            _step_title(1, _("Countries"), flow),
            _(
                "Tap the countries whose news you want; tap again to remove. "
                "The buttons below the list choose a whole group at once."
            ),
            "",
            _("Selected: {countries}").format(countries=chosen),
        )
    )


def topic_step_text(selected: Collection[str], flow: str) -> str:
    return "\n".join(
        (
            _step_title(2, _("Topics"), flow),
            _(
                "By default the digest has every topic. Untick the ones you do not need, "
                "or keep them all."
            ),
            "",
            _("Selected: {topics}").format(topics=topics_summary(selected)),
        )
    )


def time_step_text(current: str, flow: str) -> str:
    return "\n".join(
        (
            _step_title(3, _("Digest time"), flow),
            _("When should the daily digest arrive? Now: {time}.").format(time=current),
            _("Pick a time or type your own, for example 08:30."),
        )
    )


def zone_step_text(current: str, flow: str) -> str:
    return "\n".join(
        (
            _step_title(4, _("Time zone"), flow),
            _("Now: {zone} ({offset}).").format(
                zone=quote(current), offset=utc_offset_label(current)
            ),
            _("Pick a city or type a zone: Asia/Tashkent, UTC+5 or a city name."),
        )
    )


def topics_summary(selected: Collection[str]) -> str:
    if not selected:
        return _("all topics")
    return join_names(topic_name(item.id) for item in topics() if item.id in selected)


def subscription_summary(chat: ChatRecord) -> str:
    chosen = join_names(
        country_name(item.code) for item in countries() if item.code in chat.countries
    ) or _("none")
    if not chat.subscribed:
        status = _("not subscribed yet")
    elif chat.paused:
        status = _("paused (/resume to continue)")
    else:
        status = _("active")
    lines = [
        _("Countries: {countries}").format(countries=chosen),
        _("Topics: {topics}").format(topics=topics_summary(chat.topics)),
        _("Digest: every day at {time}, {zone} ({offset})").format(
            time=chat.digest_time, zone=quote(chat.timezone), offset=utc_offset_label(chat.timezone)
        ),
        _("Language: {language}").format(
            language=_("English") if chat.language == "en" else _("Russian")
        ),
        _("Status: {status}").format(status=status),
    ]
    if chat.subscribed and not chat.paused and chat.next_digest_at is not None:
        lines.append(
            _("Next digest: {moment}").format(
                moment=format_moment(chat.next_digest_at, chat.timezone)
            )
        )
    return "\n".join(lines)


def settings_text(chat: ChatRecord) -> str:
    return "\n".join(
        (_("<b>Settings</b>"), subscription_summary(chat), "", _("What would you like to change?"))
    )


def language_prompt() -> str:
    return _("Choose the language of the bot in this chat:")


# Helpers ------------------------------------------------------------------------------------


def _chat_title(chat: Chat, user: User | None) -> str | None:
    if chat.title:
        return chat.title
    if user is not None:
        return user.full_name
    return chat.full_name or None


async def open_chat(
    session: AsyncSession, chat: Chat, user: User | None, settings: Settings
) -> tuple[ChatRecord, bool]:
    """The chat's record, created with the defaults (and the current language) if new;
    a chat that blocked the bot earlier becomes active again."""
    return await ensure_chat(
        session,
        chat.id,
        type=chat.type,
        title=_chat_title(chat, user),
        language=current_language(),
        timezone=settings.default_timezone,
        digest_time=settings.default_digest_time,
    )


def callback_chat(callback: CallbackQuery) -> Chat | None:
    return callback.message.chat if callback.message is not None else None


async def answer_stale(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is out of date. Send the command again."))


async def show_settings(
    target: Message | CallbackQuery, session: AsyncSession, chat_id: int
) -> None:
    chat = await get_chat(session, chat_id)
    if chat is None:
        return
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, settings_text(chat), settings_keyboard())
    else:
        await target.answer(settings_text(chat), reply_markup=settings_keyboard())
