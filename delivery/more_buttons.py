"""The "more of this country" buttons under a digest message, as the outbox keeps them
(Bot API `reply_markup` JSON) and as the handler that answers a tap reads them.

Written without aiogram: digests are planned in worker processes, where aiogram's types
would take 150 MB of memory for a few buttons. `delivery.callbacks` gives the same
buttons as aiogram objects, for the bot's own answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from digests.model import Labels

MORE_PREFIX = "more"


def more_callback_data(country: str) -> str:
    """What a tap on the country's button sends: `more:UZ`."""
    return f"{MORE_PREFIX}:{country.upper()}"


def more_button_rows(
    more_buttons: Sequence[tuple[str, int]], labels: Labels
) -> list[list[dict[str, str]]]:
    """One "Узбекистан: ещё 4" button a row, for the countries cut at their cap."""
    return [
        [
            {
                "text": f"{labels.country_names.get(country, country)}: "
                f"{labels.more.format(n=count)}",
                "callback_data": more_callback_data(country),
            }
        ]
        for country, count in more_buttons
    ]


def more_keyboard_json(more_buttons: Sequence[tuple[str, int]], labels: Labels) -> str | None:
    """The keyboard as the outbox keeps it; None without buttons."""
    if not more_buttons:
        return None
    keyboard = {"inline_keyboard": more_button_rows(more_buttons, labels)}
    return json.dumps(keyboard, ensure_ascii=False, separators=(",", ":"))
