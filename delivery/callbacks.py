"""Buttons under digest messages: built here, stored with the message in the outbox, and
parsed by the handler that answers a tap, all through one typed callback."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from digests.model import Labels


class MoreNews(CallbackData, prefix="more"):
    """ "More of this country": packs as `more:UZ`."""

    country: str


def more_keyboard(
    more_buttons: Sequence[tuple[str, int]], labels: Labels
) -> InlineKeyboardMarkup | None:
    """One "Узбекистан: ещё 4" button a row, for the countries cut at their cap."""
    if not more_buttons:
        return None
    rows = [
        [
            InlineKeyboardButton(
                text=f"{labels.country_names.get(country, country)}: {labels.more.format(n=count)}",
                callback_data=MoreNews(country=country.upper()).pack(),
            )
        ]
        for country, count in more_buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def more_keyboard_json(more_buttons: Sequence[tuple[str, int]], labels: Labels) -> str | None:
    """The same keyboard as Bot API `reply_markup` JSON, the form the outbox keeps."""
    markup = more_keyboard(more_buttons, labels)
    return markup.model_dump_json(exclude_none=True) if markup else None
