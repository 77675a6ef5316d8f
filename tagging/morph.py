"""Lemmatisation of Russian words with pymorphy3, a stemmer fallback and a word cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from tagging.text import fold

_CACHE_LIMIT = 300_000
_MIN_READING_SCORE = 0.05
_MIN_ENTRY_STEM = 5


@dataclass(frozen=True, slots=True)
class WordForms:
    """What one surface word can stand for.

    ``lemma`` is the most likely dictionary form.  ``keys`` are all forms the word may be
    matched by: every lemma pymorphy3 proposes for a known word; for a word missing from
    the dictionary (rare place names such as «Хатлонской») also its Snowball stem and the
    folded surface form, because predicted lemmas of unknown words are not consistent
    between their inflected forms.
    """

    lemma: str
    keys: frozenset[str]
    known: bool = False
    # Normal forms of the readings pymorphy3 marks as a place name (Geox).
    places: frozenset[str] = frozenset()
    # The word reads as a person's name, surname or patronymic (Name/Surn/Patr) and never
    # as a place: «Казакова», «Борис».  `person_or_place` when it can be either («Борисов»).
    person: bool = False
    person_or_place: bool = False

    @property
    def entry_keys(self) -> frozenset[str]:
        """Keys of the word written as a dictionary entry (a gazetteer or lexicon phrase).

        An entry is written in its dictionary form, so of a known word only its main reading
        counts: «Баку» the city must not also stand for «бак»."""
        return frozenset((self.lemma,)) if self.known else self.keys

    @property
    def place_entry_keys(self) -> frozenset[str]:
        """Keys of a word written as a place name in a gazetteer: its place reading when it
        has one («Борисов» the town, not the plural of the first name «Борис»)."""
        if self.known and self.places:
            return self.places
        return self.entry_keys


@cache
def shared_lemmatizer() -> Lemmatizer:
    """One analyser and word cache per process, created on first use."""
    return Lemmatizer()


class Lemmatizer:
    """Thread-safe enough for CPython: the cache is a dict and entries are immutable."""

    def __init__(self) -> None:
        import pymorphy3
        import Stemmer

        self._morph: Any = pymorphy3.MorphAnalyzer()
        self._stemmer: Any = Stemmer.Stemmer("russian")
        self._cache: dict[str, WordForms] = {}
        self._lock = threading.Lock()

    @property
    def analyzer(self) -> Any:
        """pymorphy3's analyser itself, for callers that need whole parses (tags,
        inflection), so that a process loads the dictionary once."""
        return self._morph

    @property
    def cached(self) -> dict[str, WordForms]:
        """The word cache itself, for hot loops that look words up before calling forms()."""
        return self._cache

    def forms(self, word: str) -> WordForms:
        """Forms of a word; ``word`` may be in any case, ё or е."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        folded = fold(word)
        result = self._cache.get(folded)
        if result is None:
            result = self._analyse(folded)
        if len(self._cache) >= _CACHE_LIMIT:
            with self._lock:
                self._cache.clear()
        self._cache[folded] = result
        self._cache[word] = result
        return result

    def entry_keys(self, word: str) -> frozenset[str]:
        """Keys of a word written in a data file (see WordForms.entry_keys).

        Words missing from the dictionary are not sent through pymorphy3's predictors here:
        their surface form and stem are the keys, which is what inflected forms in texts are
        matched by, and it keeps loading the data files fast."""
        folded = fold(word)
        # The keys must not depend on what texts were read before: an unknown word that a
        # text put in the cache carries the predictor's readings, which a data entry must not.
        if not folded.isalpha() or folded.isascii() or self._morph.word_is_known(folded):
            return self.forms(folded).entry_keys
        stem = self._stemmer.stemWord(folded)
        if len(stem) < _MIN_ENTRY_STEM:
            # «Винь» → «вин» would match any unknown word starting so («Винни», «Виньи»):
            # a short name matches only as written.
            return frozenset((folded,))
        return frozenset((folded, "~" + stem))

    def place_entry_keys(self, word: str) -> frozenset[str]:
        """Keys of a place name written in a data file (see WordForms.place_entry_keys)."""
        folded = fold(word)
        if folded.isalpha() and not folded.isascii() and not self._morph.word_is_known(folded):
            return self.entry_keys(word)
        return self.forms(folded).place_entry_keys

    def stamp(self) -> str:
        """What the analyses depend on besides this module: pymorphy3 and its dictionary."""
        import pymorphy3

        meta = self._morph.dictionary.meta
        return (
            f"pymorphy3 {pymorphy3.__version__}; dictionary {meta.get('source_revision')} "
            f"compiled {meta.get('compiled_at')}"
        )

    def preload(self, entries: dict[str, WordForms]) -> None:
        """Put analyses made earlier (tagging.wordforms) in the cache, as forms() would."""
        cache = self._cache
        for word, forms in entries.items():
            cache.setdefault(word, forms)

    def lemma(self, word: str) -> str:
        return self.forms(word).lemma

    def _analyse(self, folded: str) -> WordForms:
        if not folded.isalpha() or folded.isascii():
            return WordForms(folded, frozenset((folded,)))
        parses = self._morph.parse(folded)
        if not parses:
            return WordForms(folded, frozenset((folded,)))
        lemma = parses[0].normal_form.replace("ё", "е")
        if self._morph.word_is_known(folded):
            # Keep the readings that are at all likely: «после» is a preposition, not the
            # prepositional case of «посол»; «стали» is «стать», not «сталь».
            weight: dict[str, float] = {}
            for parse in parses:
                normal = parse.normal_form.replace("ё", "е")
                weight[normal] = weight.get(normal, 0.0) + parse.score
            keys = {normal for normal, total in weight.items() if total >= _MIN_READING_SCORE}
            keys.add(lemma)
            places, person = _name_readings(parses)
            return WordForms(
                lemma,
                frozenset(keys),
                known=True,
                places=places,
                person=person and not places,
                person_or_place=person and bool(places),
            )
        stem = self._stemmer.stemWord(folded)
        places, person = _name_readings(parses)
        # Guesses for a word missing from the dictionary («Шаньдун» as a surname) are weak:
        # such a word is at most ambiguous.
        return WordForms(
            lemma,
            frozenset((lemma, folded, "~" + stem)),
            places=places,
            person_or_place=person and all(_PERSON & p.tag.grammemes for p in parses),
        )


_PERSON = frozenset(("Name", "Surn", "Patr"))


def _name_readings(parses: Any) -> tuple[frozenset[str], bool]:
    """Normal forms of the place readings of a word, and whether it has a person reading."""
    places = frozenset(
        p.normal_form.replace("ё", "е")
        for p in parses
        if "Geox" in p.tag and p.score >= _MIN_READING_SCORE
    )
    person = any(_PERSON & p.tag.grammemes for p in parses if p.score >= _MIN_READING_SCORE)
    return places, person
