"""Buttons under digest messages as aiogram objects: the typed callback that the handler
answering a tap parses, and the keyboard of a digest the bot sends itself. The outbox
keeps the same buttons as JSON (delivery.more_buttons)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from delivery.more_buttons import MORE_PREFIX, more_button_rows
from digests.model import Labels


class MoreNews(CallbackData, prefix=MORE_PREFIX):
    """ "More of this country": packs as `more:UZ`."""

    country: str


def more_keyboard(
    more_buttons: Sequence[tuple[str, int]], labels: Labels
) -> InlineKeyboardMarkup | None:
    """One "Узбекистан: ещё 4" button a row, for the countries cut at their cap."""
    if not more_buttons:
        return None
    rows = more_button_rows(more_buttons, labels)
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=button["text"], callback_data=button["callback_data"])
                for button in row
            ]
            for row in rows
        ]
    )
