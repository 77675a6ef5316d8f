"""Resolution of country and topic names typed by users in commands."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache

from tagging import data
from tagging.morph import shared_lemmatizer
from tagging.text import fold, normalise, words


@dataclass(frozen=True, slots=True)
class CountryResolution:
    code: str | None
    suggestions: tuple[str, ...] = ()  # ISO2 codes, best first


_COUNTRY_TEXT_FIELDS = (
    "names",
    "names_en",
    "typo_forms",
    "adjectives",
    "demonyms",
    "capitals",
    "abbreviations",
)


@dataclass(frozen=True, slots=True)
class _NameTable:
    exact: dict[str, str]  # folded full string -> code
    lemmas: dict[tuple[str, ...], str]  # lemma sequence -> code
    spellings: dict[str, str]  # folded spelling -> code, for fuzzy matching


def _lemma_sequence(text: str) -> tuple[str, ...]:
    lemmatizer = shared_lemmatizer()
    return tuple(lemmatizer.lemma(w) for w in words(text))


@cache
def _country_table() -> _NameTable:
    exact: dict[str, str] = {}
    lemmas: dict[tuple[str, ...], str] = {}
    spellings: dict[str, str] = {}
    for entry in data.country_data()["countries"]:
        code = entry["code"]
        exact.setdefault(code.lower(), code)
        for field_name in _COUNTRY_TEXT_FIELDS:
            for alias in (*entry.get(field_name, ()), entry["name_ru"], entry["name_en"]):
                folded = fold(alias)
                exact.setdefault(folded, code)
                spellings.setdefault(folded, code)
                sequence = _lemma_sequence(alias)
                if sequence:
                    lemmas.setdefault(sequence, code)
    return _NameTable(exact, lemmas, spellings)


def resolve_country(query: str) -> CountryResolution:
    """Map what a user typed ("Узбекистане", "uzbekistan", "UZ", "Киргизия", "Узбекистн")
    to an ISO2 code; when nothing fits, suggest the closest names."""
    cleaned = " ".join(words(normalise(query or "")))[:100]
    if not cleaned:
        return CountryResolution(None, ())
    table = _country_table()
    folded = fold(cleaned)
    code = table.exact.get(folded) or table.lemmas.get(_lemma_sequence(cleaned))
    if code:
        return CountryResolution(code, ())
    close = _closest(folded, table.spellings, cutoff=0.8)
    if close and len(set(close[:2])) == 1:
        return CountryResolution(close[0], ())
    prefixed = sorted(
        {c for s, c in table.spellings.items() if len(folded) >= 3 and s.startswith(folded)}
    )
    if len(prefixed) == 1:
        return CountryResolution(prefixed[0], ())
    suggestions = _unique(close + prefixed + _closest(folded, table.spellings, cutoff=0.65))
    return CountryResolution(None, tuple(suggestions[:5]))


def _closest(query: str, spellings: dict[str, str], cutoff: float) -> list[str]:
    matches = difflib.get_close_matches(query, list(spellings), n=8, cutoff=cutoff)
    return [spellings[m] for m in matches]


def _unique(codes: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for code in codes:
        seen.setdefault(code, None)
    return list(seen)


@cache
def _topic_table() -> _NameTable:
    exact: dict[str, str] = {}
    lemmas: dict[tuple[str, ...], str] = {}
    for entry in data.topic_data()["topics"]:
        topic_id = entry["id"]
        for alias in (topic_id, entry["name_ru"], entry["name_en"], *entry.get("aliases", ())):
            exact.setdefault(fold(alias), topic_id)
            exact.setdefault(fold(alias).replace("_", " "), topic_id)
            sequence = _lemma_sequence(alias.replace("_", " "))
            if sequence:
                lemmas.setdefault(sequence, topic_id)
    return _NameTable(exact, lemmas, dict(exact))


def resolve_topic(query: str) -> str | None:
    """ "соглашения" / "agreements" / "торговля" -> topic id; None when unknown."""
    cleaned = " ".join(words(normalise(query or "").replace("_", " ")))[:100]
    if not cleaned:
        return None
    table = _topic_table()
    folded = fold(cleaned)
    found = table.exact.get(folded) or table.lemmas.get(_lemma_sequence(cleaned))
    if found:
        return found
    close = _closest(folded, table.spellings, cutoff=0.8)
    return close[0] if close and len(set(close[:2])) == 1 else None


def lemmatize_for_search(text: str) -> str:
    """Space-separated normalised lemmas (ё→е, lower case) for a full-text index and for
    queries, so that «соглашения» and «соглашение» give the same lemma."""
    lemmatizer = shared_lemmatizer()
    cached = lemmatizer.cached
    forms = lemmatizer.forms
    return " ".join([(cached.get(w) or forms(w)).lemma for w in words(normalise(text or ""))])


# Words that say what kind of region it is; a query is matched on the other words.
_REGION_KIND_LEMMAS = frozenset(
    {"область", "край", "республика", "автономный", "округ", "город", "ао", "обл", "респ"}
    | {"oblast", "krai", "republic", "autonomous", "okrug", "city", "region", "of", "the"}
)


@cache
def _region_table() -> tuple[dict[str, str], tuple[tuple[tuple[str, ...], str], ...]]:
    exact: dict[str, str] = {}
    named: list[tuple[tuple[str, ...], str]] = []
    for entry in data.region_data()["regions"]:
        code = entry["code"]
        for spelling in (code, code.replace("-", " "), code.split("-", 1)[-1]):
            exact.setdefault(fold(spelling), code)
        aliases = (
            entry["name_ru"],
            entry["name_en"],
            entry.get("label", ""),
            *entry.get("names", ()),
            *entry.get("capitals", ()),
        )
        for alias in aliases:
            if not alias:
                continue
            exact.setdefault(fold(alias), code)
            sequence = tuple(
                lemma for lemma in _lemma_sequence(alias) if lemma not in _REGION_KIND_LEMMAS
            )
            if sequence:
                named.append((sequence, code))
    return exact, tuple(named)


def find_regions(query: str) -> tuple[str, ...]:
    """Codes of the Russian regions that what a user typed names: «Омская область»,
    «омской», «Омск», «Татарстан», "RU-OMS"; several when the words fit several («Алтай»:
    the Altai Republic and Altai Krai). A word of four letters or more also matches the
    start of a name's word, so «Омск» finds «Омская»."""
    cleaned = " ".join(words(normalise(query or "")))[:100]
    if not cleaned:
        return ()
    exact, named = _region_table()
    found = exact.get(fold(cleaned))
    if found:
        return (found,)
    wanted = [lemma for lemma in _lemma_sequence(cleaned) if lemma not in _REGION_KIND_LEMMAS]
    if not wanted:
        return ()

    def fits(word: str, name: tuple[str, ...]) -> bool:
        return any(part == word or (len(word) >= 4 and part.startswith(word)) for part in name)

    codes = {code for name, code in named if all(fits(word, name) for word in wanted)}
    return tuple(sorted(codes))
