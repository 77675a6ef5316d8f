"""Delivery modes, keyword filters, the Russian region filter and forum topic bindings:
the /settings screens that change them, /filter, /bind and /unbind.

Limits of the keyword filter (told to the user on bad input): at most MAX_FILTER_WORDS
words in all, each a single word of MIN_WORD_LENGTH to MAX_WORD_LENGTH letters or digits,
written with "+" (the article must hold at least one such word) or "-" (an article holding
it is left out). Words match by lemma, so every form of a word counts. A command adds to
the filter (a word given again takes its new sign); "/filter -" or the button clears it.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from delivery.subscriptions import change_modes
from handlers.common import country_name, current_language, cut_argument, edit_or_send, quote
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from handlers.screens import (
    answer_stale,
    callback_chat,
    open_chat,
    show_settings,
)
from storage.articles import region_counts
from storage.chats import (
    ChatRecord,
    Keyword,
    bind_country,
    get_chat,
    set_keywords,
    set_regions,
    unbind_country,
)
from tagging import find_regions, lemmatize_for_search, region, resolve_country, topic, topics

ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}

MAX_FILTER_WORDS = 10
MIN_WORD_LENGTH = 2
MAX_WORD_LENGTH = 30
# Regions offered on the screen: those found in stored articles, most frequent first.
MAX_REGION_BUTTONS = 24
# A /region search that fits more regions than this asks for more of the name.
MAX_REGION_MATCHES = 6
_FILTER_WORD = re.compile(r"([+-])([^\W_]+)")


class ModePick(CallbackData, prefix="md"):
    action: str  # d: toggle daily, w: toggle weekly, t: toggle an instant topic, x: back
    value: str = ""


class FilterAction(CallbackData, prefix="fl"):
    action: str  # c: clear, x: back to settings
    flow: str = ""  # "s": the screen was opened from /settings


class RegionPick(CallbackData, prefix="rg"):
    action: str  # t: toggle a region, a: every region, x: back to settings
    value: str = ""


def _mark(selected: bool, text: str) -> str:
    return f"✅ {text}" if selected else text


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[start : start + width] for start in range(0, len(buttons), width)]


def _topic_label(topic_id: str) -> str:
    found = topic(topic_id)
    if found is None:
        return topic_id
    return found.name_en if current_language() == "en" else found.name_ru


def _region_label(code: str) -> str:
    found = region(code)
    if found is None:
        return code
    return found.name_en if current_language() == "en" else found.name_ru


# Delivery modes -----------------------------------------------------------------------------


def modes_text(chat: ChatRecord) -> str:
    instant = ", ".join(_topic_label(t.id) for t in topics() if t.id in chat.instant_topics)
    lines = [
        "<b>" + _("Delivery") + "</b>",
        _("Daily: a digest every day at {time}.").format(time=chat.digest_time),
        _("Weekly: a brief on Mondays at {time}: counts, agreements, a chart.").format(
            time=chat.digest_time
        ),
        _("Instant: new articles on the topics ticked below, one message per poll at most."),
        _("Articles that came instantly are not repeated in the daily digest."),
        "",
        _("Instant topics: {topics}").format(topics=html.escape(instant) or _("none")),
    ]
    return "\n".join(lines)


def modes_keyboard(chat: ChatRecord) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(_mark(chat.daily, _("Daily")), ModePick(action="d")),
            _button(_mark(chat.weekly, _("Weekly")), ModePick(action="w")),
        ]
    ]
    topic_buttons = [
        _button(
            _mark(item.id in chat.instant_topics, "⚡ " + _topic_label(item.id)),
            ModePick(action="t", value=item.id),
        )
        for item in topics()
    ]
    rows += _rows(topic_buttons, 2)
    rows.append([_button(_("Done ✔️"), ModePick(action="x"))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def pick_mode(
    callback: CallbackQuery, callback_data: ModePick, session: AsyncSession, settings: Settings
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None:
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    action = callback_data.action
    if action == "x":
        await callback.answer()
        await show_settings(callback, session, chat.id)
        return
    if action == "d":
        chat = await change_modes(session, chat, daily=not chat.daily)
    elif action == "w":
        chat = await change_modes(session, chat, weekly=not chat.weekly)
    elif action == "t" and topic(callback_data.value) is not None:
        chosen = set(chat.instant_topics) ^ {callback_data.value}
        chat = await change_modes(session, chat, instant_topics=chosen)
    else:
        await answer_stale(callback)
        return
    await callback.answer()
    await edit_or_send(callback, modes_text(chat), modes_keyboard(chat))


# Keyword filter -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterRequest:
    """A parsed /filter argument: words to add, or clearing; `error` for bad input."""

    words: tuple[tuple[bool, str], ...] = ()
    clear: bool = False
    error: str | None = None


def parse_filter(text: str) -> FilterRequest:
    """ "+зерно -хоккей" → words with their sign; "-" alone clears."""
    tokens = text.split()
    if tokens == ["-"]:
        return FilterRequest(clear=True)
    limits = _("Up to {n} words, each from {low} to {high} letters.").format(
        n=MAX_FILTER_WORDS, low=MIN_WORD_LENGTH, high=MAX_WORD_LENGTH
    )
    if len(tokens) > MAX_FILTER_WORDS:
        return FilterRequest(error=_("Too many words. ") + limits)
    words: list[tuple[bool, str]] = []
    for token in tokens:
        match = _FILTER_WORD.fullmatch(token)
        if match is None:
            return FilterRequest(
                error=_(
                    "Write each word with + (must contain) or - (leave out), "
                    "for example: /filter +зерно -хоккей"
                )
            )
        word = match.group(2)
        if not MIN_WORD_LENGTH <= len(word) <= MAX_WORD_LENGTH:
            return FilterRequest(
                error=_("«{word}» is not a word I can filter on. ").format(word=quote(word))
                + limits
            )
        words.append((match.group(1) == "+", word))
    return FilterRequest(words=tuple(words))


def filter_text(chat: ChatRecord) -> str:
    include = [html.escape(k.word) for k in chat.keywords if k.include]
    exclude = [html.escape(k.word) for k in chat.keywords if not k.include]
    lines = ["<b>" + _("Keyword filter") + "</b>"]
    if not chat.keywords:
        lines.append(_("No filter: every article on your countries and topics."))
    if include:
        lines.append(_("Only articles with any of: {words}").format(words=", ".join(include)))
    if exclude:
        lines.append(_("Without articles with: {words}").format(words=", ".join(exclude)))
    lines += [
        "",
        _(
            "Add words with /filter +word -word (every form of a word counts), "
            "clear with /filter - or the button."
        ),
        _("Applies to daily digests, instant messages and the weekly brief."),
    ]
    return "\n".join(lines)


def filter_keyboard(chat: ChatRecord, *, in_settings: bool) -> InlineKeyboardMarkup | None:
    row: list[InlineKeyboardButton] = []
    if chat.keywords:
        row.append(
            _button(_("🧹 Clear"), FilterAction(action="c", flow="s" if in_settings else ""))
        )
    if in_settings:
        row.append(_button(_("Done ✔️"), FilterAction(action="x")))
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


def _lemmas(words: tuple[tuple[bool, str], ...]) -> list[Keyword] | None:
    """The keywords of `words`, or None when a word is not one word after lemmatising."""
    keywords: list[Keyword] = []
    for include, word in words:
        lemma = lemmatize_for_search(word).split()
        if len(lemma) != 1 or len(lemma[0]) > 64:
            return None
        keywords.append(Keyword(lemma=lemma[0], include=include, word=word.lower()[:64]))
    return keywords


async def filter_command(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    text, _note = cut_argument(command.args)
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if not text:
        await message.answer(
            filter_text(chat), reply_markup=filter_keyboard(chat, in_settings=False)
        )
        return
    request = parse_filter(text)
    if request.error is not None:
        await message.answer(request.error)
        return
    if request.clear:
        await set_keywords(session, chat.id, [])
    else:
        # The first use loads the morphology dictionaries: not on the event loop.
        added = await asyncio.to_thread(_lemmas, request.words)
        if added is None:
            await message.answer(_("Write single words, without spaces or hyphens."))
            return
        merged = {k.lemma: k for k in chat.keywords}
        merged.update({k.lemma: k for k in added})
        if len(merged) > MAX_FILTER_WORDS:
            await message.answer(
                _("A filter holds up to {n} words; clear it with /filter - first.").format(
                    n=MAX_FILTER_WORDS
                )
            )
            return
        await set_keywords(session, chat.id, merged.values())
    updated = await get_chat(session, chat.id)
    assert updated is not None
    await message.answer(
        filter_text(updated), reply_markup=filter_keyboard(updated, in_settings=False)
    )


async def filter_action(
    callback: CallbackQuery, callback_data: FilterAction, session: AsyncSession, settings: Settings
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None:
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    if callback_data.action == "x":
        await callback.answer()
        await show_settings(callback, session, chat.id)
        return
    if callback_data.action != "c":
        await answer_stale(callback)
        return
    await set_keywords(session, chat.id, [])
    updated = await get_chat(session, chat.id)
    assert updated is not None
    await callback.answer(_("Filter cleared"))
    in_settings = callback_data.flow == "s"
    await edit_or_send(
        callback, filter_text(updated), filter_keyboard(updated, in_settings=in_settings)
    )


# Regions ------------------------------------------------------------------------------------


def regions_text(chat: ChatRecord, offered: list[str]) -> str:
    chosen = ", ".join(_region_label(code) for code in sorted(chat.regions)) or _("all regions")
    lines = [
        "<b>" + _("Russian regions") + "</b>",
        _("Keep only articles about the regions you tick; none ticked means every region."),
        _("Selected: {regions}").format(regions=html.escape(chosen)),
    ]
    if not offered:
        lines += ["", _("No stored article names a Russian region yet.")]
    lines += [
        "",
        _("Not in the list? Send /region and its name, for example: /region Omsk Oblast"),
    ]
    return "\n".join(lines)


def regions_keyboard(chat: ChatRecord, offered: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        _button(
            _mark(code in chat.regions, _region_label(code)), RegionPick(action="t", value=code)
        )
        for code in offered
    ]
    finish = [
        _button(_mark(not chat.regions, _("All regions")), RegionPick(action="a")),
        _button(_("Done ✔️"), RegionPick(action="x")),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(buttons, 2), finish])


async def offered_regions(session: AsyncSession, chat: ChatRecord, threshold: float) -> list[str]:
    counts = await region_counts(session, threshold=threshold)
    ranked = sorted(counts, key=lambda code: (-counts[code], code))[:MAX_REGION_BUTTONS]
    extra = sorted(code for code in chat.regions if code not in ranked)
    return [code for code in [*ranked, *extra] if region(code) is not None]


async def show_regions(
    callback: CallbackQuery, session: AsyncSession, chat: ChatRecord, settings: Settings
) -> None:
    offered = await offered_regions(session, chat, settings.tag_threshold)
    await edit_or_send(callback, regions_text(chat, offered), regions_keyboard(chat, offered))


async def region_command(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    """/region shows the region filter; /region NAME ticks or unticks the region NAME names,
    or offers the few it may mean."""
    text, _note = cut_argument(command.args)
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if text:
        # The first use loads the morphology dictionaries: not on the event loop.
        found = await asyncio.to_thread(find_regions, text)
        name = quote(text, 60)
        if not found:
            await message.answer(
                _("No Russian region is called «{name}». For example: /region Omsk Oblast").format(
                    name=name
                )
            )
            return
        if len(found) > MAX_REGION_MATCHES:
            await message.answer(
                _("«{name}» fits {n} regions; write more of the name.").format(
                    name=name, n=len(found)
                )
            )
            return
        if len(found) > 1:
            await message.answer(
                _("Several regions fit «{name}»; tick the one you mean.").format(name=name),
                reply_markup=regions_keyboard(chat, list(found)),
            )
            return
        await set_regions(session, chat.id, set(chat.regions) ^ {found[0]})
        updated = await get_chat(session, chat.id)
        assert updated is not None
        chat = updated
    offered = await offered_regions(session, chat, settings.tag_threshold)
    await message.answer(regions_text(chat, offered), reply_markup=regions_keyboard(chat, offered))


async def pick_region(
    callback: CallbackQuery, callback_data: RegionPick, session: AsyncSession, settings: Settings
) -> None:
    telegram_chat = callback_chat(callback)
    if telegram_chat is None:
        await answer_stale(callback)
        return
    chat, _created = await open_chat(session, telegram_chat, callback.from_user, settings)
    if callback_data.action == "x":
        await callback.answer()
        await show_settings(callback, session, chat.id)
        return
    if callback_data.action == "a":
        await set_regions(session, chat.id, [])
    elif callback_data.action == "t" and region(callback_data.value) is not None:
        await set_regions(session, chat.id, set(chat.regions) ^ {callback_data.value.upper()})
    else:
        await answer_stale(callback)
        return
    updated = await get_chat(session, chat.id)
    assert updated is not None
    await callback.answer()
    await show_regions(callback, session, updated, settings)


# Forum topics -------------------------------------------------------------------------------


def _is_forum(message: Message) -> bool:
    return message.chat.type == ChatType.SUPERGROUP and bool(message.chat.is_forum)


def bindings_text(chat: ChatRecord) -> str:
    if not chat.bindings:
        return html.escape(
            _(
                "No country has a topic of its own: all news go to the general topic. "
                "Send /bind <country> inside a topic to route that country there."
            )
        )
    lines = ["<b>" + _("Countries and their topics") + "</b>"]
    for code, thread_id in chat.bindings:
        lines.append(
            _("{country} → topic {thread}").format(
                country=html.escape(country_name(code)), thread=thread_id
            )
        )
    lines += [
        "",
        html.escape(_("Other countries go to the general topic. /unbind <country> undoes one.")),
    ]
    return "\n".join(lines)


async def bind_command(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    if not _is_forum(message):
        await message.answer(_("/bind works in groups with topics only."))
        return
    text, _note = cut_argument(command.args)
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if not text:
        await message.answer(bindings_text(chat))
        return
    thread_id = message.message_thread_id if message.is_topic_message else None
    if thread_id is None:
        await message.answer(
            html.escape(_("Send /bind <country> inside the topic that should get its news."))
        )
        return
    code = resolve_country(text).code
    if code is None:
        await message.answer(
            _("I do not know the country «{text}». Example: /bind Узбекистан").format(
                text=quote(text)
            )
        )
        return
    await bind_country(session, chat.id, code, thread_id)
    reply = _("News about {country} now come to this topic.").format(
        country=html.escape(country_name(code))
    )
    if code not in chat.countries:
        reply += "\n" + _("This country is not among the chat's countries yet: /settings")
    await message.answer(reply)


async def unbind_command(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    if not _is_forum(message):
        await message.answer(_("/unbind works in groups with topics only."))
        return
    text, _note = cut_argument(command.args)
    code = resolve_country(text).code if text else None
    if code is None:
        await message.answer(_("Name the country, for example: /unbind Узбекистан"))
        return
    chat, _created = await open_chat(session, message.chat, message.from_user, settings)
    if await unbind_country(session, chat.id, code):
        await message.answer(
            _("News about {country} go to the general topic again.").format(
                country=html.escape(country_name(code))
            )
        )
    else:
        await message.answer(
            _("{country} has no topic of its own.").format(country=html.escape(country_name(code)))
        )


def create_router() -> Router:
    router = Router(name="delivery_settings")
    router.callback_query.register(pick_mode, ModePick.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(filter_action, FilterAction.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(pick_region, RegionPick.filter(), flags=ADMIN_ONLY)
    router.message.register(filter_command, Command("filter"), flags=ADMIN_ONLY)
    router.message.register(region_command, Command("region"), flags=ADMIN_ONLY)
    router.channel_post.register(filter_command, Command("filter"), flags=ADMIN_ONLY)
    router.message.register(bind_command, Command("bind"), flags=ADMIN_ONLY)
    router.message.register(unbind_command, Command("unbind"), flags=ADMIN_ONLY)
    return router
