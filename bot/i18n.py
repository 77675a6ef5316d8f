"""Translations: gettext catalogs in bot/locales, managed with Babel.

Source strings are English; `ru` and `en` catalogs are both complete. Recompile after
editing a catalog with `python -m bot.i18n compile`; `python -m bot.i18n extract` adds new
source strings to both catalogs and `python -m bot.i18n check` lists missing translations.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

    from digests.model import Labels

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "ru"
LANGUAGES: tuple[str, ...] = ("ru", "en")
SOURCE_LANGUAGE = "en"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS: tuple[str, ...] = ("handlers", "bot")
EXTRACT_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "__": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "N_": None,
}


def normalize_language(code: str | None) -> str:
    """Telegram's language_code ("en", "en-US", "ru", "uk", None) to a catalog language."""
    if code and code.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def create_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=DEFAULT_LANGUAGE, domain=DOMAIN)


@cache
def _shared_i18n() -> I18n:
    return create_i18n()


def gettext_for(language: str) -> Callable[[str], str]:
    """A translation function bound to one language, usable outside an update."""
    i18n = _shared_i18n()
    locale = normalize_language(language)

    def translate(message: str) -> str:
        return i18n.gettext(message, locale=locale)

    return translate


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    i18n = _shared_i18n()
    locale = normalize_language(language)

    def translate(singular: str, plural: str, n: int) -> str:
        return i18n.gettext(singular, plural, n, locale=locale)

    return translate


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (translated where shown)."""
    return message


def month_names(language: str) -> tuple[str, ...]:
    """Month names as used in a date ("12 мая", "12 May"), January first."""
    from babel.dates import get_month_names

    names = get_month_names("wide", context="format", locale=normalize_language(language))
    return tuple(names[month] for month in range(1, 13))


def country_label(code: str, language: str) -> str:
    """ "🇺🇿 Узбекистан" for a country code; the bare code for an unknown one."""
    from tagging import country

    found = country(code)
    if found is None:
        return code.upper()
    name = found.name_en if normalize_language(language) == "en" else found.name_ru
    return f"{found.flag} {name}".strip()


def topic_label(topic_id: str, language: str) -> str:
    from tagging import topics

    for topic in topics():
        if topic.id == topic_id:
            return topic.name_en if normalize_language(language) == "en" else topic.name_ru
    return topic_id


@cache
def digest_labels(language: str) -> Labels:
    """Every word a digest rendering needs, in one language."""
    from digests.model import Labels
    from tagging import countries, topics

    locale = normalize_language(language)
    _ = gettext_for(locale)
    english = locale == "en"
    return Labels(
        country_names={
            item.code: f"{item.flag} {item.name_en if english else item.name_ru}".strip()
            for item in countries()
        },
        topic_names={item.id: item.name_en if english else item.name_ru for item in topics()},
        digest_title=_("Digest for {date}"),
        also=_("also"),
        more=_("{n} more"),
        other_topics=_("Other topics"),
        month_names=month_names(locale),
        date_format=_("{day} {month}"),
        date_format_with_year=_("{day} {month} {year}"),
    )


# Catalog maintenance (Babel) ---------------------------------------------------------------


def _po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract_messages(source_dirs: Iterable[str] = SOURCE_DIRS) -> Catalog:
    """Every translatable string in the source, as a fresh template catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="digestbot", charset="utf-8")
    for directory in source_dirs:
        root = PROJECT_ROOT / directory
        for filename, lineno, message, comments, context in extract_from_dir(
            str(root),
            method_map=[("**.py", "python")],
            keywords=EXTRACT_KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            template.add(
                message,
                None,
                [(f"{directory}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def _read_catalog(language: str) -> Catalog:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = _po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="digestbot", charset="utf-8")
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def _write_catalog(language: str, catalog: Catalog) -> None:
    from babel.messages.pofile import write_po

    path = _po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    catalog.project = "digestbot"
    catalog.version = "1"
    catalog.copyright_holder = "digestbot"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "digestbot"
    catalog.language_team = "digestbot"
    with path.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, omit_header=False)


def update_catalogs() -> None:
    """Adds new source strings to each catalog and drops strings no longer in the source.

    In the source language an untranslated string is its own translation.
    """
    template = extract_messages()
    for language in LANGUAGES:
        catalog = _read_catalog(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if not message.id:
                    continue
                if isinstance(message.id, tuple):
                    if not all(message.string or ()):
                        message.string = (message.id[0], message.id[1])
                elif not message.string:
                    message.string = message.id
        _write_catalog(language, catalog)


def missing_translations(language: str) -> list[str]:
    """Source strings that the language's catalog lacks or leaves untranslated or fuzzy."""
    catalog = _read_catalog(language)
    missing = []
    for message in extract_messages():
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        strings = translated.string if translated else None
        complete = (
            translated is not None
            and not translated.fuzzy
            and (all(strings) if isinstance(strings, tuple) else bool(strings))
        )
        if not complete:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def compile_catalogs(languages: Sequence[str] = LANGUAGES) -> list[Path]:
    from babel.messages.mofile import write_mo

    written = []
    for language in languages:
        catalog = _read_catalog(language)
        target = _po_path(language).with_suffix(".mo")
        with target.open("wb") as file:
            write_mo(file, catalog, use_fuzzy=False)
        written.append(target)
    _shared_i18n.cache_clear()
    digest_labels.cache_clear()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n", description=__doc__)
    parser.add_argument("action", choices=("compile", "extract", "check"))
    args = parser.parse_args(argv)
    if args.action == "extract":
        update_catalogs()
        print(f"updated {', '.join(str(_po_path(language)) for language in LANGUAGES)}")
        return 0
    if args.action == "check":
        status = 0
        for language in LANGUAGES:
            missing = missing_translations(language)
            for message in missing:
                print(f"{language}: untranslated: {message!r}")
            status = status or int(bool(missing))
        if not status:
            print("all strings are translated")
        return status
    for path in compile_catalogs():
        print(f"compiled {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
