"""Text normalisation, tokenisation, sentence splitting and removal of feed noise."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Latin and Greek letters that look like Cyrillic ones.  Feeds sometimes carry them
# inside Russian words (copy-paste from PDFs, anti-scraping tricks), which breaks matching.
_CONFUSABLES = {
    "A": "А",
    "B": "В",
    "C": "С",
    "E": "Е",
    "H": "Н",
    "K": "К",
    "M": "М",
    "O": "О",
    "P": "Р",
    "T": "Т",
    "X": "Х",
    "Y": "У",
    "a": "а",
    "c": "с",
    "e": "е",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
    "k": "к",
    "Α": "А",
    "Β": "В",
    "Ε": "Е",
    "Η": "Н",
    "Κ": "К",
    "Μ": "М",
    "Ο": "О",
    "Ρ": "Р",
    "Τ": "Т",
    "Υ": "У",
    "Χ": "Х",
    "α": "а",
    "ε": "е",
    "κ": "к",
    "ο": "о",
    "ρ": "р",
    "τ": "т",
    "χ": "х",
}
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_CYRILLIC = "А-Яа-яЁё"
_FOREIGN = "A-Za-z\u0370-\u03ff"
_MIXED_SCRIPT = re.compile(f"[{_CYRILLIC}][{_FOREIGN}]|[{_FOREIGN}][{_CYRILLIC}]")
_WORD = re.compile(r"[^\W\d_]+")
_HAS_CYRILLIC = re.compile(f"[{_CYRILLIC}]")
_GREEK = re.compile("[\u0370-\u03ff]")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f\u200b]+")
# What _SPACES would change: a run of two spaces or any other space character.  Most texts
# have neither, and looking for them is far cheaper than rewriting every single space.
_ODD_SPACES = ("  ", "\t", "\u00a0", "\u2009", "\u202f", "\u200b")
# A letter that _MIXED_SCRIPT and _GREEK need; a text of Cyrillic alone has none.
_FOREIGN_LETTER = re.compile(f"[{_FOREIGN}]")


def normalise(text: str) -> str:
    """Unicode NFC, non-breaking spaces to spaces, homoglyphs inside Cyrillic words fixed."""
    text = unicodedata.normalize("NFC", text)
    if any(space in text for space in _ODD_SPACES):
        text = _SPACES.sub(" ", text)
    if _FOREIGN_LETTER.search(text) and (_MIXED_SCRIPT.search(text) or _GREEK.search(text)):
        text = _WORD.sub(_fix_word, text)
    return text


def _fix_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if _HAS_CYRILLIC.search(word):
        return word.translate(_CONFUSABLE_TABLE)
    return word


def fold(word: str) -> str:
    """Lower case with ё folded to е: the form every lookup uses."""
    return word.lower().replace("ё", "е")


# Words are runs of letters and digits; hyphenated compounds («Улан-Батор»,
# «российско-китайский») become separate words, and the gazetteer lists them as phrases.
TOKEN_PATTERN = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+")


def words(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


# How much of an article is read and stored: title and text together.  Regional news
# articles run to 2,000-15,000 characters, so every real article stays whole, while a broken
# or hostile feed item (megabytes of description) costs no more than a long article does:
# tagging time is linear in the text, and this much takes well under a second of CPU.
MAX_ARTICLE_CHARACTERS = 100_000


def cut_at_word_boundary(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else its longest beginning within the
    limit that does not end inside a word (a run of non-space characters); one word longer
    than the limit is cut at the limit."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and not text[end].isspace():
        end -= 1
    if end == 0:
        return text[:limit]
    return text[:end].rstrip()


def within_article_limit(
    title: str, text: str, limit: int = MAX_ARTICLE_CHARACTERS
) -> tuple[str, str]:
    """Title and text cut to `limit` characters together, each at a word boundary; the
    title is kept first and the text gets the rest.  Applying it to its own result changes
    nothing, so a text stored already cut is tagged exactly as stored."""
    kept_title = cut_at_word_boundary(title, limit)
    return kept_title, cut_at_word_boundary(text, limit - len(kept_title))


# Sentence boundaries: terminal punctuation followed by a capital letter or an opening quote.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"»”)]*\s*(?=[«\"„(]?[А-ЯЁA-Z0-9])")
# Abbreviations whose full stop does not end a sentence («г. Ташкент», «ул. Ленина»).
_ABBREVIATIONS = (
    "г|гг|ул|им|обл|р|н|св|т|д|пр|ст|млн|млрд|тыс|руб|проц|корр|ж|др|с|п|пос|кв|"
    "просп|пер|наб|м|тел|рис|см|а|о"
)
_ABBREVIATION_BEFORE = re.compile(rf"(?:\b(?:{_ABBREVIATIONS})|\b[А-ЯЁA-Z])\.$")
# How far back from a full stop an abbreviation can start: the longest one and the stop.
# Looking no further keeps a line with many abbreviations and no sentence end linear.
_ABBREVIATION_REACH = max(len(word) for word in _ABBREVIATIONS.split("|")) + 1


def split_sentences(line: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of one line."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        cut = match.start()
        # The stop right before `cut` ends the text searched; \b sees the character before
        # the window, as it would in the whole line.
        window_start = max(start, cut - _ABBREVIATION_REACH)
        if _ABBREVIATION_BEFORE.search(line, window_start, cut):
            continue
        if line[start:cut].strip():
            spans.append((start, cut))
        start = match.end()
    if line[start:].strip():
        spans.append((start, len(line)))
    return spans


@dataclass(frozen=True, slots=True)
class NoiseRules:
    """Markers of site chrome and glued-in teasers, compiled from the lexicon data file."""

    cut_markers: re.Pattern[str]
    drop_markers: re.Pattern[str]
    background_starts: re.Pattern[str]

    @classmethod
    def compile(
        cls, cut: Iterable[str], drop: Iterable[str], background: Iterable[str]
    ) -> NoiseRules:
        return cls(
            cut_markers=_alternation(cut),
            drop_markers=_alternation(drop),
            background_starts=_alternation(background),
        )


def _alternation(patterns: Iterable[str]) -> re.Pattern[str]:
    joined = "|".join(f"(?:{p})" for p in patterns) or "(?!)"
    return re.compile(rf"^\s*(?:{joined})", re.IGNORECASE)


_TERMINAL = re.compile(r"[.!?…:;\"»”)]\s*$")
_BULLET = re.compile(r"^\s*[•·▪►●]")
_NAV_SEPARATORS = re.compile(r"\s[|/>»]\s")


def content_lines(text: str, rules: NoiseRules) -> list[str]:
    """Lines of the article body with navigation, teaser blocks and RSS footers removed."""
    lines = [line.strip() for line in text.splitlines()]
    kept: list[str] = []
    seen_chars = 0
    for line in lines:
        if not line:
            continue
        if seen_chars >= 40 and rules.cut_markers.match(line):
            break
        if rules.drop_markers.match(line):
            continue
        if len(_NAV_SEPARATORS.findall(line)) >= 2 and not _TERMINAL.search(line):
            continue
        kept.append(line)
        seen_chars += len(line)
    return _strip_trailing_headlines(kept)


def _strip_trailing_headlines(lines: list[str]) -> list[str]:
    """Drop a final block of bullets or of short unpunctuated lines (other stories' headlines)."""
    end = len(lines)
    while end > 1 and _BULLET.match(lines[end - 1]):
        end -= 1
    short_run = 0
    while end - short_run > 1:
        line = lines[end - short_run - 1]
        if len(line) < 140 and not _TERMINAL.search(line) and not line.endswith(","):
            short_run += 1
            continue
        break
    if short_run >= 2:
        end -= short_run
    return lines[:end]
