"""What the subscription steps and the settings screen share: callback data, keyboards,
texts, and opening the chat's record.

The step keyboards serve two flows: onboarding (/start walks through the four steps) and
settings (each step opened from the menu returns to it). Callback data prefixes are part
of the keyboards already sent to chats, so they stay as they are.
"""

from __future__ import annotations

import html
from collections.abc import Collection
from datetime import UTC, datetime
from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.i18n import gettext as _
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
from tagging import Preset, countries, preset_list, region, topics

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
    item: str  # countries, topics, time, zone, modes, filter, regions, language, close


class LanguagePick(CallbackData, prefix="lang"):
    code: str


def offered_presets() -> tuple[Preset, ...]:
    """The country groups that are buttons on the country keyboard, in the data file's order."""
    return tuple(preset for preset in preset_list() if preset.offered)


# Keyboards ----------------------------------------------------------------------------------


def _mark(selected: bool, text: str) -> str:
    return f"✅ {text}" if selected else text


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[start : start + width] for start in range(0, len(buttons), width)]


# Keyboards are built as plain markup: aiogram's builder deep-copies every button on
# export, a measurable share of each tap's cost during a surge of new users. A keyboard
# depends only on the language and what it shows, so each is built once and kept (the
# markup is never changed after it is built): a tap no longer makes and validates a
# pydantic model for each of its dozens of buttons and their callback data.
KEYBOARD_CACHE_SIZE = 512


def country_keyboard(selected: Collection[str], flow: str) -> InlineKeyboardMarkup:
    return _country_keyboard(current_language(), frozenset(selected), flow, offered_presets())


@lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _country_keyboard(
    _language: str, chosen: frozenset[str], flow: str, presets: tuple[Preset, ...]
) -> InlineKeyboardMarkup:
    country_buttons = [
        _button(
            _mark(item.code in chosen, country_name(item.code)),
            CountryPick(action="t", value=item.code, flow=flow),
        )
        for item in countries()
    ]
    preset_row = [
        _button(
            _mark(set(preset.codes) <= chosen, preset_name(preset)),
            CountryPick(action="p", value=preset.id, flow=flow),
        )
        for preset in presets
    ]
    finish_row = [
        _button(
            _("Next ➡️") if flow == ONBOARDING else _("Done ✔️"), CountryPick(action="d", flow=flow)
        )
    ]
    if chosen:
        finish_row.insert(0, _button(_("Clear"), CountryPick(action="n", flow=flow)))
    rows = _rows(country_buttons, 3)
    if preset_row:
        rows.append(preset_row)
    rows.append(finish_row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def topic_keyboard(selected: Collection[str], flow: str) -> InlineKeyboardMarkup:
    return _topic_keyboard(current_language(), frozenset(selected), flow)


@lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _topic_keyboard(_language: str, selected: frozenset[str], flow: str) -> InlineKeyboardMarkup:
    every_topic = not selected
    topic_buttons = [
        _button(
            _mark(every_topic or item.id in selected, topic_name(item.id)),
            TopicPick(action="t", value=item.id, flow=flow),
        )
        for item in topics()
    ]
    finish_row = [
        _button(_mark(every_topic, _("All topics")), TopicPick(action="a", flow=flow)),
        _button(
            _("Next ➡️") if flow == ONBOARDING else _("Done ✔️"), TopicPick(action="d", flow=flow)
        ),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(topic_buttons, 2), finish_row])


def time_keyboard(current: str, flow: str) -> InlineKeyboardMarkup:
    return _time_keyboard(current_language(), current, flow)


@lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _time_keyboard(_language: str, current: str, flow: str) -> InlineKeyboardMarkup:
    time_buttons = [
        _button(
            _mark(value == current, value),
            TimePick(action="s", value=value.replace(":", ""), flow=flow),
        )
        for value in DIGEST_TIMES
    ]
    other = [_button(_("✏️ Another time"), TimePick(action="i", flow=flow))]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(time_buttons, 3), other])


def zone_keyboard(current: str, flow: str) -> InlineKeyboardMarkup:
    # The buttons show UTC offsets, which change with daylight saving time: the hour is
    # part of the key.
    hour = datetime.now(UTC).strftime("%Y%m%d%H")
    return _zone_keyboard(current_language(), current, flow, hour)


@lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _zone_keyboard(_language: str, current: str, flow: str, _hour: str) -> InlineKeyboardMarkup:
    zone_buttons = [
        _button(
            _mark(zone == current, f"{_(city)} · {utc_offset_label(zone)}"),
            ZonePick(action="s", value=zone, flow=flow),
        )
        for zone, city in COMMON_ZONES
    ]
    other = [_button(_("✏️ Another time zone"), ZonePick(action="i", flow=flow))]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(zone_buttons, 2), other])


def settings_keyboard() -> InlineKeyboardMarkup:
    return _settings_keyboard(current_language())


@lru_cache(maxsize=8)
def _settings_keyboard(_language: str) -> InlineKeyboardMarkup:
    items = [
        (_("🌍 Countries"), "countries"),
        (_("🗂 Topics"), "topics"),
        (_("⏰ Digest time"), "time"),
        (_("🕓 Time zone"), "zone"),
        (_("📬 Delivery"), "modes"),
        (_("🔎 Filter"), "filter"),
        (_("📍 Regions"), "regions"),
        (_("🌐 Language"), "language"),
        (_("✖️ Close"), "close"),
    ]
    buttons = [_button(text, SettingsMenu(item=item)) for text, item in items]
    return InlineKeyboardMarkup(inline_keyboard=_rows(buttons, 2))


def language_keyboard() -> InlineKeyboardMarkup:
    buttons = [
        _button("🇷🇺 Русский", LanguagePick(code="ru")),
        _button("🇬🇧 English", LanguagePick(code="en")),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


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
        (
            _("Digest: every day at {time}, {zone} ({offset})")
            if chat.daily
            else _("Digest time: {time}, {zone} ({offset})")
        ).format(
            time=chat.digest_time, zone=quote(chat.timezone), offset=utc_offset_label(chat.timezone)
        ),
        *(
            [_("Delivery: {modes}").format(modes=modes_summary(chat))]
            if chat.weekly or chat.instant_topics or not chat.daily
            else []
        ),
        *filters_summary(chat),
        _("Language: {language}").format(
            language=_("English") if chat.language == "en" else _("Russian")
        ),
        _("Status: {status}").format(status=status),
    ]
    if chat.subscribed and not chat.paused and chat.daily and chat.next_digest_at is not None:
        lines.append(
            _("Next digest: {moment}").format(
                moment=format_moment(chat.next_digest_at, chat.timezone)
            )
        )
    return "\n".join(lines)


def modes_summary(chat: ChatRecord) -> str:
    parts = []
    if chat.daily:
        parts.append(_("daily"))
    if chat.weekly:
        parts.append(_("weekly on Mondays"))
    if chat.instant_topics:
        parts.append(
            _("instant: {topics}").format(
                topics=join_names(topic_name(t.id) for t in topics() if t.id in chat.instant_topics)
            )
        )
    return ", ".join(parts) or _("nothing (turn a mode on in Delivery)")


def filters_summary(chat: ChatRecord) -> list[str]:
    lines = []
    if chat.keywords:
        words = ", ".join(("+" if k.include else "-") + k.word for k in chat.keywords)
        lines.append(_("Filter: {words}").format(words=html.escape(words)))
    if chat.regions:
        names = []
        for code in sorted(chat.regions):
            found = region(code)
            if found is not None:
                names.append(found.name_en if current_language() == "en" else found.name_ru)
        lines.append(_("Regions: {regions}").format(regions=html.escape(join_names(names))))
    return lines


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
