"""Longest-match lookup of lemmatised phrases (single and multi-word) in tokenised text.

An index has several layers (places, context words, topic words).  Within a layer the
longest phrase starting at a word wins and hides the shorter ones inside it («молодёжная
сборная» hides «молодёжный»); layers do not hide each other.  One pass over the words serves
all layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tagging.morph import Lemmatizer
from tagging.text import words


@dataclass(frozen=True, slots=True)
class Payload:
    """What a matched phrase means: e.g. ("country", "UZ", "city", 1.0)."""

    category: str
    value: str
    kind: str = ""
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # word index
    end: int  # word index, exclusive
    payloads: tuple[Payload, ...]


_ANY, _CAPITALISED, _UPPER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Pattern:
    keys: tuple[frozenset[str], ...]
    cases: tuple[int, ...]
    payload: Payload


def _case_of(word: str, policy: str) -> int:
    if policy == "any":
        return _ANY
    if len(word) >= 2 and word.isupper():
        return _UPPER
    if word[:1].isupper():
        return _CAPITALISED
    return _ANY


def _case_ok(raw: str, case: int) -> bool:
    if case == _ANY:
        return True
    if case == _UPPER:
        return raw.isupper()
    return raw[:1].isupper()


_NO_CANDIDATES: tuple[tuple[_Pattern, ...], ...] = ()


class PhraseIndex:
    def __init__(self, lemmatizer: Lemmatizer, layers: int = 1) -> None:
        self._lemmatizer = lemmatizer
        self._layers = layers
        self._by_first_key: list[dict[str, list[_Pattern]]] = [{} for _ in range(layers)]
        # Per set of lemma keys of a word: the patterns of each layer that may start there
        # (longest first), or an empty tuple when none may.  Most words have none.
        self._candidates: dict[frozenset[str], tuple[tuple[_Pattern, ...], ...]] = {}

    def add(
        self,
        phrase: str,
        payload: Payload,
        case_policy: str = "auto",
        layer: int = 0,
        *,
        place: bool = False,
    ) -> None:
        """Index a phrase; `place` reads its words as place names where they can be one."""
        phrase_words = words(phrase)
        if not phrase_words:
            return
        entry_keys = self._lemmatizer.place_entry_keys if place else self._lemmatizer.entry_keys
        pattern = _Pattern(
            keys=tuple(entry_keys(w) for w in phrase_words),
            cases=tuple(_case_of(w, case_policy) for w in phrase_words),
            payload=payload,
        )
        for key in pattern.keys[0]:
            bucket = self._by_first_key[layer].setdefault(key, [])
            if pattern not in bucket:
                bucket.append(pattern)
        self._candidates.clear()

    def _candidates_for(self, keys: frozenset[str]) -> tuple[tuple[_Pattern, ...], ...]:
        per_layer: list[tuple[_Pattern, ...]] = []
        for by_first_key in self._by_first_key:
            seen: dict[int, _Pattern] = {}
            for key in keys:
                for pattern in by_first_key.get(key, ()):
                    seen.setdefault(id(pattern), pattern)
            per_layer.append(tuple(sorted(seen.values(), key=lambda p: -len(p.keys))))
        found = tuple(per_layer) if any(per_layer) else _NO_CANDIDATES
        if len(self._candidates) > 500_000:
            self._candidates.clear()
        self._candidates[keys] = found
        return found

    def match(self, keys: Sequence[frozenset[str]], raws: Sequence[str]) -> list[list[Match]]:
        """Matches of every layer in words given by their lemma keys and surface forms."""
        found: list[list[Match]] = [[] for _ in range(self._layers)]
        free_from = [0] * self._layers  # words before this are inside an earlier match
        candidates = self._candidates
        count = len(keys)
        for position in range(count):
            word_keys = keys[position]
            per_layer = candidates.get(word_keys)
            if per_layer is None:
                per_layer = self._candidates_for(word_keys)
            if not per_layer:
                continue
            for layer, patterns in enumerate(per_layer):
                if not patterns or position < free_from[layer]:
                    continue
                best_length = 0
                best: list[Payload] = []
                for pattern in patterns:  # longest first
                    length = len(pattern.keys)
                    if length < best_length:
                        break
                    if position + length > count or not _fits(pattern, keys, raws, position):
                        continue
                    if not best_length:
                        best_length = length
                        best = [pattern.payload]
                    else:
                        _merge(best, pattern.payload)
                if best_length:
                    found[layer].append(Match(position, position + best_length, tuple(best)))
                    free_from[layer] = position + best_length
        return found


def _fits(
    pattern: _Pattern, keys: Sequence[frozenset[str]], raws: Sequence[str], position: int
) -> bool:
    cases = pattern.cases
    if cases[0] and not _case_ok(raws[position], cases[0]):
        return False
    for offset in range(1, len(pattern.keys)):
        if pattern.keys[offset].isdisjoint(keys[position + offset]):
            return False
        if cases[offset] and not _case_ok(raws[position + offset], cases[offset]):
            return False
    return True


def _merge(payloads: list[Payload], new: Payload) -> None:
    """Add a payload unless one with the same meaning is there; keep the larger weight."""
    for i, old in enumerate(payloads):
        if (old.category, old.value, old.kind) == (new.category, new.value, new.kind):
            if new.weight > old.weight:
                payloads[i] = new
            return
    payloads.append(new)
