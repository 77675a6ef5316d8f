"""Subscribing: /start, /cancel and the four steps (countries, topics, time, time zone),
in the onboarding flow and when a step is opened from the settings menu.

The choices live in the database from the first tap, so the keyboards show the chat's
real state, survive a restart and stay consistent when several admins of a group tap.
When the schedule changes, `delivery.subscriptions` decides the next digest.
"""

from __future__ import annotations

import html

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, ForceReply, Message, User
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from delivery import subscriptions
from delivery.schedule import parse_time, parse_timezone
from delivery.welcome import WelcomeComposer, request_welcome
from handlers.common import edit_or_send, quote, typed_text, utc_offset_label
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from handlers.screens import (
    FLOWS,
    ONBOARDING,
    SETTINGS,
    CountryPick,
    TimePick,
    TopicPick,
    ZonePick,
    answer_stale,
    callback_chat,
    country_keyboard,
    country_step_text,
    offered_presets,
    open_chat,
    settings_keyboard,
    settings_text,
    show_settings,
    subscription_summary,
    time_keyboard,
    time_step_text,
    topic_keyboard,
    topic_step_text,
    zone_keyboard,
    zone_step_text,
)
from storage.chats import ChatRecord, set_countries, set_topics
from tagging import Preset, countries, topics

ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}


class SetupInput(StatesGroup):
    digest_time = State()
    timezone = State()


# /start, /cancel ----------------------------------------------------------------------------


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


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("There is nothing to cancel."))
        return
    await state.clear()
    await message.answer(_("Cancelled."))


# Step 1: countries --------------------------------------------------------------------------


def _offered_preset(preset_id: str) -> Preset | None:
    return next((preset for preset in offered_presets() if preset.id == preset_id), None)


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
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    selected = set(chat.countries)
    action, value = callback_data.action, callback_data.value
    if action == "t" and value in known:
        selected ^= {value}
    elif action == "p" and (preset := _offered_preset(value)) is not None:
        codes = set(preset.codes) & known
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
        await answer_stale(callback)
        return
    await set_countries(session, chat.id, selected, current=chat.countries)
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
        await answer_stale(callback)
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
        await answer_stale(callback)
        return
    stored = set() if selected >= set(every) else selected
    await set_topics(session, chat.id, stored, current=chat.topics)
    await callback.answer()
    await edit_or_send(callback, topic_step_text(stored, flow), topic_keyboard(stored, flow))


# Step 3: digest time ------------------------------------------------------------------------


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
        await answer_stale(callback)
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
        await answer_stale(callback)
        return
    updated = await subscriptions.change_schedule(session, chat, digest_time=value)
    await callback.answer(_("Digest time: {time}").format(time=value))
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
    updated = await subscriptions.change_schedule(session, chat, digest_time=value)
    await message.answer(_("Digest time: {time}").format(time=value))
    await _after_time(message, session, updated, flow if flow in FLOWS else ONBOARDING)


# Step 4: time zone, then the subscription is saved ------------------------------------------


def _subscribed_text(chat: ChatRecord) -> str:
    return "\n".join(
        (
            _("✅ <b>Subscription saved!</b>"),
            "",
            subscription_summary(chat),
            "",
            _("Change anything with /settings, pause with /pause, all commands: /help."),
        )
    )


async def _save_zone(
    session: AsyncSession, chat: ChatRecord, zone: str, flow: str
) -> tuple[ChatRecord, bool]:
    """Saves the zone; at the end of onboarding (countries chosen) the subscription too,
    in the same transaction. Returns the saved record and whether it was subscribed."""
    if flow == SETTINGS or not chat.countries:
        return await subscriptions.change_schedule(session, chat, timezone=zone), False
    saved = await subscriptions.subscribe(session, chat, timezone=zone)
    await request_welcome(session, chat.id)
    return saved, True


async def _after_zone(
    target: CallbackQuery | Message,
    session: AsyncSession,
    chat: ChatRecord,
    subscribed: bool,
    flow: str,
    welcome: WelcomeComposer,
) -> None:
    if flow == SETTINGS:
        await show_settings(target, session, chat.id)
        return
    if not subscribed:
        text, markup = country_step_text((), ONBOARDING), country_keyboard((), ONBOARDING)
        if isinstance(target, CallbackQuery):
            await edit_or_send(target, text, markup)
        else:
            await target.answer(text, reply_markup=markup)
        return
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, _subscribed_text(chat))
    else:
        await target.answer(_subscribed_text(chat))
    # The newest articles follow the reply (delivery.welcome): composing them here would
    # make this the slowest step of a surge. The request was committed before the reply.
    welcome.wake()


async def pick_zone(
    callback: CallbackQuery,
    callback_data: ZonePick,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
    welcome: WelcomeComposer,
) -> None:
    telegram_chat = callback_chat(callback)
    flow = callback_data.flow
    if telegram_chat is None or flow not in FLOWS:
        await answer_stale(callback)
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
        await answer_stale(callback)
        return
    saved, subscribed = await _save_zone(session, chat, zone, flow)
    await callback.answer(_("Time zone: {zone}").format(zone=zone))
    await _after_zone(callback, session, saved, subscribed, flow, welcome)


async def type_zone(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext,
    welcome: WelcomeComposer,
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
    flow = flow if flow in FLOWS else ONBOARDING
    saved, subscribed = await _save_zone(session, chat, zone, flow)
    await message.answer(
        _("Time zone: {zone}").format(zone=quote(zone)) + f" ({utc_offset_label(zone)})"
    )
    await _after_zone(message, session, saved, subscribed, flow, welcome)


def create_router() -> Router:
    router = Router(name="onboarding")
    router.message.register(start, CommandStart(), flags=ADMIN_ONLY)
    router.channel_post.register(start, CommandStart(), flags=ADMIN_ONLY)
    router.message.register(cancel, Command("cancel"))
    router.callback_query.register(pick_country, CountryPick.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_topic, TopicPick.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_time, TimePick.filter(), flags=ADMIN_ONLY)
    router.message.register(
        type_time, StateFilter(SetupInput.digest_time), typed_text, flags=ADMIN_ONLY
    )
    router.callback_query.register(pick_zone, ZonePick.filter(), flags=ADMIN_ONLY)
    router.message.register(
        type_zone, StateFilter(SetupInput.timezone), typed_text, flags=ADMIN_ONLY
    )
    return router
