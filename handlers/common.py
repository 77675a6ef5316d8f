"""Small pieces every feature router uses: arguments, names, editing in place, pages."""

from __future__ import annotations

import html
import logging
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from core.i18n import normalize_language
from delivery.labels import country_label, digest_labels, topic_label
from digests.model import Labels
from digests.render import clean_text, shorten
from tagging import Preset

logger = logging.getLogger(__name__)

MAX_ARGUMENT_LENGTH = 200
# What a reply quotes back of someone's input: enough to recognise it, too little to post
# an arranged text through the bot.
MAX_ECHO_LENGTH = 64


# Filters are coroutines: aiogram runs any other filter (a magic filter F…, a State, a plain
# function) in a worker thread, a thread hop for every message that reaches it.


async def typed_text(message: Message) -> bool:
    """A message with text that is not a command: what a step waiting for input reads."""
    text = message.text or ""
    return bool(text) and not text.startswith("/")


async def is_command(message: Message) -> bool:
    return (message.text or "").startswith("/")


async def in_private_chat(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def current_language() -> str:
    return get_i18n().current_locale


def labels() -> Labels:
    return digest_labels(current_language())


def country_name(code: str) -> str:
    """ "🇺🇿 Узбекистан" in the current language."""
    return country_label(code, current_language())


def topic_name(topic_id: str) -> str:
    return topic_label(topic_id, current_language())


def preset_name(preset: Preset) -> str:
    """ "Центральная Азия" or "Central Asia": a country group's name from the data file."""
    return preset.name_en if normalize_language(current_language()) == "en" else preset.name_ru


def join_names(names: Iterable[str]) -> str:
    return ", ".join(names)


def cut_argument(raw: str | None) -> tuple[str, str | None]:
    """The command argument, stripped and cut to MAX_ARGUMENT_LENGTH characters, and a note
    for the reply when it had to be cut."""
    text = " ".join((raw or "").split())
    if len(text) <= MAX_ARGUMENT_LENGTH:
        return text, None
    note = _("The request was too long; I used its first {limit} characters.").format(
        limit=MAX_ARGUMENT_LENGTH
    )
    return text[:MAX_ARGUMENT_LENGTH].rstrip(), note


def with_note(text: str, note: str | None) -> str:
    return f"<i>{html.escape(note)}</i>\n\n{text}" if note else text


def echo_text(text: str, limit: int = MAX_ECHO_LENGTH) -> str:
    """Outside text made fit to be shown back, as plain text: no control or format
    characters (direction overrides and isolates, marks, zero-width characters), whitespace
    collapsed to single spaces, at most `limit` characters with "…" when cut."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return shorten(clean_text(visible), limit)


def quote(text: str, limit: int = MAX_ECHO_LENGTH) -> str:
    """User input (or other outside text) shown back inside a reply: echo_text, escaped
    for Telegram HTML."""
    return html.escape(echo_text(text, limit), quote=False)


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def utc_offset_label(zone_name: str, now: datetime | None = None) -> str:
    """ "UTC+6" for a zone at the given moment."""
    moment = (now or datetime.now(UTC)).astimezone(zone_or_utc(zone_name))
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def format_moment(moment: datetime, zone_name: str) -> str:
    """ "12 мая, 09:00" in the chat's zone and language."""
    local = moment.astimezone(zone_or_utc(zone_name))
    month = labels().month_names[local.month - 1]
    day = labels().date_format.format(day=local.day, month=month, year=local.year)
    return f"{day}, {local:%H:%M}"


async def edit_or_send(
    callback: CallbackQuery,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Replaces the pressed message; sends a new one when it can no longer be edited."""
    message = callback.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=reply_markup)
            return
        except TelegramBadRequest as error:
            if "not modified" in str(error).lower():
                return
            logger.info("could not edit message %s: %s", message.message_id, error)
    if message is not None:
        await callback.bot.send_message(  # type: ignore[union-attr]
            message.chat.id, text, reply_markup=reply_markup
        )
