"""The analyses of the data files' words, made once and shipped as data/word_forms.json.

Building the tagger's phrase index sends about two thousand gazetteer and lexicon words
through pymorphy3, a third of a cold start.  The table holds the same WordForms the
lemmatizer would make for them; it is used only when it was made with the same pymorphy3 and
dictionary (`Lemmatizer.stamp()`), and a word it lacks is analysed as before, so tagging is
the same with or without it.

    .venv/bin/python -m tagging.build_wordforms           # rewrite it after a data change
    .venv/bin/python -m tagging.build_wordforms --check   # exit 1 when it is out of date
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from tagging.morph import Lemmatizer, WordForms

FILE_NAME = "word_forms.json"


def encode(forms: WordForms) -> list[Any]:
    return [
        forms.lemma,
        sorted(forms.keys),
        int(forms.known),
        sorted(forms.places),
        int(forms.person),
        int(forms.person_or_place),
    ]


def _decode(value: list[Any]) -> WordForms:
    lemma, keys, known, places, person, person_or_place = value
    return WordForms(
        lemma,
        frozenset(keys),
        known=bool(known),
        places=frozenset(places),
        person=bool(person),
        person_or_place=bool(person_or_place),
    )


def load(lemmatizer: Lemmatizer) -> dict[str, WordForms]:
    """The shipped analyses, or nothing when they were made with another pymorphy3 or
    dictionary than this lemmatizer's, or the file is missing or unreadable."""
    try:
        text = resources.files("tagging").joinpath("data", FILE_NAME).read_text(encoding="utf-8")
        table = json.loads(text)
        if table.get("stamp") != lemmatizer.stamp():
            return {}
        return {word: _decode(value) for word, value in table["words"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def path() -> Path:
    return Path(__file__).resolve().parent / "data" / FILE_NAME


def dumps(table: dict[str, Any]) -> str:
    lines = [
        "{",
        f' "_format": {json.dumps(table["_format"], ensure_ascii=False)},',
        f' "stamp": {json.dumps(table["stamp"], ensure_ascii=False)},',
        ' "words": {',
    ]
    items = list(table["words"].items())
    for i, (word, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        entry = f"{json.dumps(word, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}"
        lines.append(f"  {entry}{comma}")
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"
