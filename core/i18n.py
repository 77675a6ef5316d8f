"""Translations: gettext catalogs in core/locales, one per language.

Source strings are English; `ru` and `en` catalogs are both complete. `core.catalogs`
maintains them (extract, check, compile).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "ru"
LANGUAGES: tuple[str, ...] = ("ru", "en")
SOURCE_LANGUAGE = "en"


def normalize_language(code: str | None) -> str:
    """Telegram's language_code ("en", "en-US", "ru", "uk", None) to a catalog language."""
    if code and code.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def create_i18n() -> I18n:
    """The catalogs for aiogram's per-update translation (the bot's middleware)."""
    from aiogram.utils.i18n import I18n

    return I18n(path=LOCALES_DIR, default_locale=DEFAULT_LANGUAGE, domain=DOMAIN)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """One language's compiled catalog, read with the standard library: code outside an
    update (digests, alerts, the command line) translates without loading aiogram."""
    locale = normalize_language(language)
    return gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[locale], fallback=True)


def gettext_for(language: str) -> Callable[[str], str]:
    """A translation function bound to one language, usable outside an update."""
    return translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    return translations(language).ngettext


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translated where shown)."""
    return message


def month_names(language: str) -> tuple[str, ...]:
    """Month names as used in a date ("12 мая", "12 May"), January first."""
    from babel.dates import get_month_names

    names = get_month_names("wide", context="format", locale=normalize_language(language))
    return tuple(names[month] for month in range(1, 13))
