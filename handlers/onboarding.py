"""Subscribing: /start, /settings and their steps (countries, topics, time, time zone).

The choices live in the database from the first tap, so the keyboards show the chat's
real state, survive a restart and stay consistent when several admins of a group tap.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Collection
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    Chat,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import N_
from core.settings import Settings
from delivery.schedule import next_digest_at, parse_time, parse_timezone
from delivery.window import to_digest_article
from digests.cluster import cluster_stories
from digests.render import local_date, render_article_list
from handlers.common import (
    country_name,
    current_language,
    edit_or_send,
    format_moment,
    join_names,
    labels,
    quote,
    topic_name,
    utc_offset_label,
)
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from storage.articles import find_articles_page
from storage.chats import (
    ChatRecord,
    ensure_chat,
    get_chat,
    record_sent,
    set_countries,
    set_topics,
    update_chat,
)
from tagging import countries, presets, topics

logger = logging.getLogger(__name__)
ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}

ONBOARDING = "o"
SETTINGS = "s"
FLOWS = frozenset({ONBOARDING, SETTINGS})
LATEST_ON_SUBSCRIBE = 5

PRESET_NAMES: dict[str, str] = {
    "central_asia": N_("Central Asia"),
    "eaeu": N_("EAEU"),
    "cis": N_("CIS"),
}
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


class SetupInput(StatesGroup):
    digest_time = State()
    timezone = State()


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
    available = presets()
    for preset_id, name in PRESET_NAMES.items():
        codes = available.get(preset_id)
        if not codes:
            continue
        preset_row.button(
            text=_mark(set(codes) <= set(selected), _(name)),
            callback_data=CountryPick(action="p", value=preset_id, flow=flow),
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


async def _stale(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is out of date. Send the command again."))


async def _reschedule(session: AsyncSession, chat: ChatRecord) -> None:
    if chat.subscribed:
        await update_chat(
            session,
            chat.id,
            next_digest_at=next_digest_at(chat.digest_time, chat.timezone, datetime.now(UTC)),
        )


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


async def _send_latest(
    bot: Bot, session: AsyncSession, chat: ChatRecord, settings: Settings
) -> None:
    """Right after subscribing: the newest matching articles, so the chat is not empty."""
    found, _more = await find_articles_page(
        session,
        countries=chat.countries,
        topics=chat.topics,
        threshold=settings.tag_threshold,
        limit=LATEST_ON_SUBSCRIBE,
    )
    if not found:
        await bot.send_message(
            chat.id,
            _(
                "There is nothing on your countries in the archive yet; "
                "the digest will bring new articles as they appear."
            ),
        )
        return
    stories = cluster_stories([to_digest_article(article) for article in found])
    text = render_article_list(
        stories,
        labels(),
        tz=chat.timezone,
        header=_("Latest on your countries"),
        today=local_date(datetime.now(UTC), chat.timezone),
    )
    await bot.send_message(chat.id, text)
    await record_sent(session, chat.id, [article.id for article in found])


# /start, /settings, /cancel -----------------------------------------------------------------


def _greeting(chat: Chat, user: User | None) -> str:
    if chat.type == "private":
        name = html.escape(user.first_name) if user else ""
        return _(
            "👋 Hello, {name}!\n\n"
            "I read the regional press and send a short daily digest about the region's "
            "cooperation with other countries: agreements, trade, visits, education, culture. "
            "Between digests you can ask the archive: /agreements Uzbekistan, /news Tajikistan, "
            "/search education.\n\n"
            "Let's set up your subscription; it takes half a minute."
        ).format(name=name)
    return _(
        "👋 Hello! I send a short daily digest of the regional press about cooperation with "
        "other countries. Let's set up the subscription of this chat."
    )


async def start(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext | None = None,
) -> None:
    # Channel posts have no sender, hence no conversation state.
    if state is not None:
        await state.clear()
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if chat.subscribed and chat.countries:
        await message.answer(
            _("👋 Welcome back! You are subscribed.") + "\n\n" + settings_text(chat),
            reply_markup=settings_keyboard(),
        )
        return
    await message.answer(_greeting(message.chat, message.from_user))
    await message.answer(
        country_step_text(chat.countries, ONBOARDING),
        reply_markup=country_keyboard(chat.countries, ONBOARDING),
    )


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


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("There is nothing to cancel."))
        return
    await state.clear()
    await message.answer(_("Cancelled."))


async def settings_menu(
    callback: CallbackQuery,
    callback_data: SettingsMenu,
    session: AsyncSession,
    settings: Settings,
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None:
        await _stale(callback)
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
    elif item == "language":
        from handlers.info import language_keyboard, language_prompt

        await edit_or_send(callback, language_prompt(), language_keyboard())
    elif item == "close":
        await edit_or_send(callback, "\n".join((_("<b>Settings</b>"), subscription_summary(chat))))
    else:
        await _stale(callback)
        return
    await callback.answer()


# Step 1: countries --------------------------------------------------------------------------


async def pick_country(
    callback: CallbackQuery,
    callback_data: CountryPick,
    session: AsyncSession,
    settings: Settings,
    bot: Bot,
) -> None:
    telegram_chat = callback_chat(callback)
    known = {item.code for item in countries()}
    flow = callback_data.flow
    if telegram_chat is None or flow not in FLOWS:
        await _stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    selected = set(chat.countries)
    action, value = callback_data.action, callback_data.value
    if action == "t" and value in known:
        selected ^= {value}
    elif action == "p" and value in presets() and value in PRESET_NAMES:
        codes = set(presets()[value]) & known
        selected = selected - codes if codes <= selected else selected | codes
    elif action == "n":
        selected.clear()
    elif action == "d":
        if not selected:
            await callback.answer(_("Choose at least one country."), show_alert=True)
            return
        await callback.answer()
        if flow == ONBOARDING:
            await edit_or_send(
                callback, topic_step_text(chat.topics, flow), topic_keyboard(chat.topics, flow)
            )
        else:
            await show_settings(callback, session, chat.id)
        return
    else:
        await _stale(callback)
        return
    await set_countries(session, chat.id, selected)
    await callback.answer()
    await edit_or_send(
        callback, country_step_text(selected, flow), country_keyboard(selected, flow)
    )


# Step 2: topics -----------------------------------------------------------------------------


async def pick_topic(
    callback: CallbackQuery,
    callback_data: TopicPick,
    session: AsyncSession,
    settings: Settings,
) -> None:
    telegram_chat = callback_chat(callback)
    every = [item.id for item in topics()]
    flow = callback_data.flow
    if telegram_chat is None or flow not in FLOWS:
        await _stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    # An empty selection means every topic.
    selected = set(chat.topics) or set(every)
    action, value = callback_data.action, callback_data.value
    if action == "t" and value in every:
        if selected == {value}:
            await callback.answer(_("Keep at least one topic."), show_alert=True)
            return
        selected ^= {value}
    elif action == "a":
        selected = set(every)
    elif action == "d":
        await callback.answer()
        if flow == ONBOARDING:
            await edit_or_send(
                callback,
                time_step_text(chat.digest_time, flow),
                time_keyboard(chat.digest_time, flow),
            )
        else:
            await show_settings(callback, session, chat.id)
        return
    else:
        await _stale(callback)
        return
    stored = set() if selected >= set(every) else selected
    await set_topics(session, chat.id, stored)
    await callback.answer()
    await edit_or_send(callback, topic_step_text(stored, flow), topic_keyboard(stored, flow))


# Step 3: digest time ------------------------------------------------------------------------


async def _apply_time(
    session: AsyncSession, chat: ChatRecord, digest_time: str
) -> ChatRecord | None:
    await update_chat(session, chat.id, digest_time=digest_time)
    updated = await get_chat(session, chat.id)
    if updated is not None:
        await _reschedule(session, updated)
    return updated


async def pick_time(
    callback: CallbackQuery,
    callback_data: TimePick,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext,
) -> None:
    telegram_chat = callback_chat(callback)
    flow = callback_data.flow
    if telegram_chat is None or flow not in FLOWS:
        await _stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    if callback_data.action == "i":
        await state.set_state(SetupInput.digest_time)
        await state.update_data(flow=flow)
        await callback.answer()
        await callback.bot.send_message(  # type: ignore[union-attr]
            chat.id,
            _("Type the time for the digest, for example 08:30 (or /cancel)."),
            reply_markup=ForceReply(input_field_placeholder="08:30", selective=True),
        )
        return
    raw = callback_data.value
    value = parse_time(f"{raw[:2]}:{raw[2:]}") if len(raw) == 4 and raw.isdigit() else None
    if callback_data.action != "s" or value is None:
        await _stale(callback)
        return
    updated = await _apply_time(session, chat, value)
    await callback.answer(_("Digest time: {time}").format(time=value))
    if updated is None:
        return
    await _after_time(callback, session, updated, flow)


async def _after_time(
    target: CallbackQuery | Message, session: AsyncSession, chat: ChatRecord, flow: str
) -> None:
    if flow == SETTINGS:
        await show_settings(target, session, chat.id)
        return
    text, markup = zone_step_text(chat.timezone, flow), zone_keyboard(chat.timezone, flow)
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, text, markup)
    else:
        await target.answer(text, reply_markup=markup)


async def type_time(
    message: Message, session: AsyncSession, settings: Settings, state: FSMContext
) -> None:
    value = parse_time((message.text or "")[:32])
    if value is None:
        await message.answer(
            _("I could not read «{text}» as a time. Type it like 08:30, or /cancel.").format(
                text=quote((message.text or "")[:32])
            )
        )
        return
    flow = (await state.get_data()).get("flow", ONBOARDING)
    await state.clear()
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    updated = await _apply_time(session, chat, value)
    await message.answer(_("Digest time: {time}").format(time=value))
    if updated is not None:
        await _after_time(message, session, updated, flow if flow in FLOWS else ONBOARDING)


# Step 4: time zone, then the subscription is saved ------------------------------------------


async def _apply_zone(session: AsyncSession, chat: ChatRecord, zone: str) -> ChatRecord | None:
    await update_chat(session, chat.id, timezone=zone)
    updated = await get_chat(session, chat.id)
    if updated is not None:
        await _reschedule(session, updated)
    return updated


async def finish_subscription(session: AsyncSession, chat: ChatRecord) -> str:
    """Marks the chat subscribed, schedules its first digest; returns the summary text."""
    when = next_digest_at(chat.digest_time, chat.timezone, datetime.now(UTC))
    await update_chat(
        session, chat.id, subscribed=True, paused=False, active=True, next_digest_at=when
    )
    saved = await get_chat(session, chat.id)
    assert saved is not None
    return "\n".join(
        (
            _("✅ <b>Subscription saved!</b>"),
            "",
            subscription_summary(saved),
            "",
            _("Change anything with /settings, pause with /pause, all commands: /help."),
        )
    )


async def _after_zone(
    target: CallbackQuery | Message,
    bot: Bot,
    session: AsyncSession,
    chat: ChatRecord,
    flow: str,
    settings: Settings,
) -> None:
    if flow == SETTINGS:
        await show_settings(target, session, chat.id)
        return
    if not chat.countries:
        text, markup = country_step_text((), ONBOARDING), country_keyboard((), ONBOARDING)
        if isinstance(target, CallbackQuery):
            await edit_or_send(target, text, markup)
        else:
            await target.answer(text, reply_markup=markup)
        return
    summary = await finish_subscription(session, chat)
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, summary)
    else:
        await target.answer(summary)
    await _send_latest(bot, session, chat, settings)


async def pick_zone(
    callback: CallbackQuery,
    callback_data: ZonePick,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
) -> None:
    telegram_chat = callback_chat(callback)
    flow = callback_data.flow
    if telegram_chat is None or flow not in FLOWS:
        await _stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    if callback_data.action == "i":
        await state.set_state(SetupInput.timezone)
        await state.update_data(flow=flow)
        await callback.answer()
        await bot.send_message(
            chat.id,
            _("Type a time zone: Asia/Tashkent, UTC+5 or a city such as Omsk (or /cancel)."),
            reply_markup=ForceReply(input_field_placeholder="Asia/Omsk", selective=True),
        )
        return
    zone = parse_timezone(callback_data.value) if callback_data.action == "s" else None
    if zone is None:
        await _stale(callback)
        return
    updated = await _apply_zone(session, chat, zone)
    await callback.answer(_("Time zone: {zone}").format(zone=zone))
    if updated is not None:
        await _after_zone(callback, bot, session, updated, flow, settings)


async def type_zone(
    message: Message, session: AsyncSession, settings: Settings, state: FSMContext, bot: Bot
) -> None:
    text = (message.text or "")[:64]
    zone = parse_timezone(text)
    if zone is None:
        await message.answer(
            _(
                "I do not know the time zone «{text}». Type it like Asia/Tashkent, UTC+5 "
                "or a city such as Omsk, or /cancel."
            ).format(text=quote(text))
        )
        return
    flow = (await state.get_data()).get("flow", ONBOARDING)
    await state.clear()
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    updated = await _apply_zone(session, chat, zone)
    await message.answer(
        _("Time zone: {zone}").format(zone=quote(zone)) + f" ({utc_offset_label(zone)})"
    )
    if updated is not None:
        await _after_zone(
            message, bot, session, updated, flow if flow in FLOWS else ONBOARDING, settings
        )


__all__ = [
    "CountryPick",
    "SettingsMenu",
    "SetupInput",
    "TimePick",
    "TopicPick",
    "ZonePick",
    "create_router",
    "show_settings",
]


def create_router() -> Router:
    router = Router(name="onboarding")
    router.message.register(start, CommandStart(), flags=ADMIN_ONLY)
    router.channel_post.register(start, CommandStart(), flags=ADMIN_ONLY)
    router.message.register(settings_command, Command("settings"), flags=ADMIN_ONLY)
    router.channel_post.register(settings_command, Command("settings"), flags=ADMIN_ONLY)
    router.message.register(cancel, Command("cancel"))
    router.callback_query.register(settings_menu, SettingsMenu.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_country, CountryPick.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_topic, TopicPick.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_time, TimePick.filter(), flags=ADMIN_ONLY)
    router.message.register(
        type_time, SetupInput.digest_time, F.text, ~F.text.startswith("/"), flags=ADMIN_ONLY
    )
    router.callback_query.register(pick_zone, ZonePick.filter(), flags=ADMIN_ONLY)
    router.message.register(
        type_zone, SetupInput.timezone, F.text, ~F.text.startswith("/"), flags=ADMIN_ONLY
    )
    return router
