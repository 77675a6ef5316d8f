"""Catalog maintenance with Babel: `python -m core.catalogs extract|check|compile`.

`extract` adds new source strings to both catalogs and drops strings no longer in the
source, `check` lists missing translations, `compile` writes the .mo files the bot reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.i18n import DOMAIN, LANGUAGES, LOCALES_DIR, SOURCE_LANGUAGE, translations

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS: tuple[str, ...] = ("core", "delivery", "handlers", "bot")
EXTRACT_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "__": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "N_": None,
}


def po_path(language: str) -> Path:
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


def read_catalog(language: str) -> Catalog:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="digestbot", charset="utf-8")
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def write_catalog(language: str, catalog: Catalog) -> None:
    from babel.messages.pofile import write_po

    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    catalog.project = "digestbot"
    catalog.version = "1"
    catalog.copyright_holder = "digestbot"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "digestbot"
    catalog.language_team = "digestbot"
    with path.open("wb") as file:
        # File names without line numbers: a line moved in the source does not rewrite the
        # catalogs.
        write_po(
            file, catalog, width=100, sort_output=True, omit_header=False, include_lineno=False
        )


def update_catalogs() -> None:
    """Adds new source strings to each catalog and drops strings no longer in the source.

    In the source language an untranslated string is its own translation.
    """
    template = extract_messages()
    for language in LANGUAGES:
        catalog = read_catalog(language)
        created, known = catalog.creation_date, {message.id for message in catalog}
        catalog.update(template, no_fuzzy_matching=True)
        if {message.id for message in catalog} == known:
            # Same strings, same header: an extract with nothing new leaves the files alone.
            catalog.creation_date = created
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
        write_catalog(language, catalog)


def missing_translations(language: str) -> list[str]:
    """Source strings that the language's catalog lacks or leaves untranslated or fuzzy."""
    catalog = read_catalog(language)
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
        catalog = read_catalog(language)
        target = po_path(language).with_suffix(".mo")
        with target.open("wb") as file:
            write_mo(file, catalog, use_fuzzy=False)
        written.append(target)
    translations.cache_clear()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.catalogs", description=__doc__)
    parser.add_argument("action", choices=("compile", "extract", "check"))
    args = parser.parse_args(argv)
    if args.action == "extract":
        update_catalogs()
        print(f"updated {', '.join(str(po_path(language)) for language in LANGUAGES)}")
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
