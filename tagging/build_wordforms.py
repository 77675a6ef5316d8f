"""Writes or checks tagging/data/word_forms.json (see tagging.wordforms).

.venv/bin/python -m tagging.build_wordforms [--check]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tagging.morph import Lemmatizer
from tagging.tagger import Knowledge
from tagging.wordforms import FILE_NAME, dumps, encode, path


def build() -> dict[str, Any]:
    """The table as the data files need it now: the analyses a fresh lemmatizer makes while
    the tagger's knowledge is built."""
    lemmatizer = Lemmatizer()
    Knowledge(lemmatizer, preload=False)
    words = {word: encode(forms) for word, forms in sorted(lemmatizer.cached.items())}
    return {
        "_format": "folded word -> [lemma, keys, known, places, person, person_or_place]",
        "stamp": lemmatizer.stamp(),
        "words": words,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite or check tagging/data/" + FILE_NAME)
    parser.add_argument("--check", action="store_true", help="exit 1 when out of date")
    args = parser.parse_args(argv)
    text = dumps(build())
    target = path()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            message = f"{target} is out of date: run python -m tagging.build_wordforms"
            print(message, file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
