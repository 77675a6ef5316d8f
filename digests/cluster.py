"""Merging the same story published by several outlets into one digest item.

Each article becomes a bag of stemmed words (title and summary) with integer weights:
proper names and numbers count double, words that nearly every regional article shares
("область", "сотрудничество", "Омск") count little. Two articles are the same story when
their weighted Jaccard similarity reaches `similarity` and they were published within
`max_gap` of each other. Outlets rewrite a story within a day; beyond that the bar rises
with the gap, because a later article on the same subject is usually a follow-up (the
results of an exhibition after its opening), which is news of its own. A bare headline
is compared by how much of it the other text contains. Candidate pairs come from an
inverted index of the words of each article, leaving out words that a large share of the
batch uses, so thousands of articles are never compared pair by pair.

Stories are built greedily in publication order: an article joins the most similar
earlier story unless that story already has an article from the same outlet, in which
case it joins only as a hidden duplicate when it is a near copy of it (a re-published
or updated item); otherwise it starts its own story. Results do not depend on the order
of the input; the rest of the batch matters only through which words count as everyday
vocabulary in a large batch, and through the greedy order.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

import Stemmer

from digests.model import DigestArticle, Story
from digests.select import as_utc

DEFAULT_SIMILARITY = 0.22
DUPLICATE_SIMILARITY = 0.6
SHORT_TEXT_CONTAINMENT = 0.6
DEFAULT_MAX_GAP = timedelta(days=3)
_SAME_DAY_SECONDS = 24 * 3600.0
_EXTRA_SIMILARITY_PER_DAY = 0.1

# Token weights (integers keep the arithmetic exact, hence deterministic).
_PLAIN_WEIGHT = 10
_NAME_WEIGHT = 20
_COMMON_WEIGHT = 3
# Below this total weight (about a dozen plain words: a bare headline) a text is matched
# by containment, and must share at least a few real words.
_SHORT_TEXT_WEIGHT = 12 * _PLAIN_WEIGHT
_SHORT_TEXT_MIN_SHARED = 4 * _PLAIN_WEIGHT
# Words in more than this many articles of a batch (and this share of it) do not make
# candidate pairs.
_MIN_POSTING_CAP = 50
_MAX_POSTING_SHARE = 0.02

_TOKEN_OR_SENTENCE_END = re.compile(r"[^\W_]+|[.!?…]")
_YEAR = re.compile(r"(19|20)\d\d")
_SENTENCE_ENDS = frozenset(".!?…")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS = _word_set(
    """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да
    даже для до его ее если есть еще же за здесь и из или им их к как какой когда кто ли
    либо между меня мне может можно мы на над надо наш не него нее нет ни них но ну о об
    однако он она они оно от очень по под при про с со так также там тем то того тоже той
    только том тот ту ты у уже хотя чего чей чем что чтобы чье эта эти этим этих это этого
    этой этом этот эту я ее ей ему им ими нам нами ним ними них свой своя свои свое себе
    сам сама само сами который которая которое которые которого которой котором которых
    которым которыми год года году годом годы лет также уже еще
    """
)

# Words nearly every article of the regional cooperation press contains.
_COMMON_WORDS = _word_set(
    """
    омск омский омская омское омские омского омской омских омичи омич область области
    областью областей регион региона регионе регионов регионы региональный республика
    республики сотрудничество сотрудничества россия российский российской российские
    губернатор правительство министр министерство страна стран город города компания
    проект проекты развитие встреча стороны рамках сообщили сообщает отметил рассказал
    рассказали заявил словам данным
    """
)

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("russian")
        _local.stemmer = stemmer
    return stemmer


def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


@lru_cache(maxsize=1)
def _common_stems() -> frozenset[str]:
    return frozenset(_stem(word) for word in _COMMON_WORDS)


def normalise_word(word: str) -> str:
    return word.lower().replace("ё", "е")


@lru_cache(maxsize=200_000)
def _word_features(word: str) -> tuple[str, int, bool] | None:
    """(stem, weight, may be a name) of one word as written; None for words to skip."""
    folded = normalise_word(word)
    if folded in _STOPWORDS:
        return None
    if folded.isdigit():
        return folded, _PLAIN_WEIGHT if _YEAR.fullmatch(folded) else _NAME_WEIGHT, False
    if len(folded) < 2:
        return None
    stem = _stem(folded)
    if stem in _common_stems():
        return stem, _COMMON_WEIGHT, False
    return stem, _PLAIN_WEIGHT, word[0].isupper()


def text_fingerprint(text: str) -> dict[str, int]:
    """Stemmed words of `text` with weights; see the module docstring."""
    weights: dict[str, int] = {}
    after_sentence_end = True
    for word in _TOKEN_OR_SENTENCE_END.findall(text):
        if word in _SENTENCE_ENDS:
            after_sentence_end = True
            continue
        features = _word_features(word)
        mid_sentence = not after_sentence_end
        after_sentence_end = False
        if features is None:
            continue
        stem, weight, capitalised = features
        if capitalised and mid_sentence:
            weight = _NAME_WEIGHT
        if weight > weights.get(stem, 0):
            weights[stem] = weight
    return weights


def shared_weight(first: dict[str, int], second: dict[str, int]) -> int:
    return sum(min(first[token], second[token]) for token in first.keys() & second.keys())


def weighted_jaccard(first: dict[str, int], second: dict[str, int]) -> float:
    shared = shared_weight(first, second)
    union = sum(first.values()) + sum(second.values()) - shared
    return shared / union if union else 0.0


def article_text(article: DigestArticle) -> str:
    title = article.title.strip()
    summary = article.summary.strip()
    if title and summary and not summary.startswith(title):
        return f"{title}. {summary}"
    return summary or title


def article_similarity(first: DigestArticle, second: DigestArticle) -> float:
    return weighted_jaccard(
        text_fingerprint(article_text(first)), text_fingerprint(article_text(second))
    )


def source_key(article: DigestArticle) -> str:
    name = " ".join(article.source.casefold().split())
    if name:
        return name
    host = urlsplit(article.url).hostname or ""
    return host.removeprefix("www.")


_WEIGHT_LEVELS = (_COMMON_WEIGHT, _PLAIN_WEIGHT, _NAME_WEIGHT)


@dataclass(slots=True)
class _Entry:
    article: DigestArticle
    fingerprint: dict[str, int]
    total_weight: int
    timestamp: float
    source: str
    # tokens weighing at least each of _WEIGHT_LEVELS: the shared weight of two entries is
    # then a sum of set-intersection sizes, computed without a Python loop
    levels: tuple[frozenset[str], ...]

    def shared_weight(self, other: _Entry) -> int:
        total = 0
        previous = 0
        for level, mine, theirs in zip(_WEIGHT_LEVELS, self.levels, other.levels, strict=True):
            total += (level - previous) * len(mine & theirs)
            previous = level
        return total


@dataclass(frozen=True, slots=True)
class _TextFeatures:
    fingerprint: dict[str, int]
    total_weight: int
    levels: tuple[frozenset[str], ...]


@lru_cache(maxsize=8192)
def _text_features(text: str) -> _TextFeatures:
    """Cached: the digests of many subscribers look at the same articles."""
    fingerprint = text_fingerprint(text)
    return _TextFeatures(
        fingerprint=fingerprint,
        total_weight=sum(fingerprint.values()),
        levels=tuple(
            frozenset(token for token, weight in fingerprint.items() if weight >= level)
            for level in _WEIGHT_LEVELS
        ),
    )


def _entry(article: DigestArticle) -> _Entry:
    features = _text_features(article_text(article))
    return _Entry(
        article=article,
        fingerprint=features.fingerprint,
        total_weight=features.total_weight,
        timestamp=as_utc(article.published_at).timestamp(),
        source=source_key(article),
        levels=features.levels,
    )


@dataclass(slots=True)
class _Cluster:
    members: list[int]
    duplicates: list[int]
    sources: set[str]


def _pair_score(first: _Entry, second: _Entry, similarity: float) -> float | None:
    """The pair's similarity when it makes them one story, else None."""
    shared = first.shared_weight(second)
    smaller = min(first.total_weight, second.total_weight)
    if smaller < _SHORT_TEXT_WEIGHT:
        if shared < _SHORT_TEXT_MIN_SHARED or shared < SHORT_TEXT_CONTAINMENT * smaller:
            return None
        return shared / smaller
    union = first.total_weight + second.total_weight - shared
    score = shared / union if union else 0.0
    gap = abs(first.timestamp - second.timestamp)
    required = similarity + _EXTRA_SIMILARITY_PER_DAY * max(0.0, gap - _SAME_DAY_SECONDS) / (
        _SAME_DAY_SECONDS
    )
    return score if score >= required else None


_NOT_SCORED: Final = -1.0
# About 100 bytes each: a StoryCache forgets its scores past this many (a window of 2,000
# articles scores about 270,000 pairs over a batch of 500 digests).
MAX_CACHED_PAIRS: Final = 400_000


class StoryCache:
    """What clustering learns about articles that does not depend on the rest of the batch
    (each article's bag of words, each compared pair's score), kept for the clusterings of
    many subsets of one set of articles: the digests of a batch of chats, each clustering
    its own share of one window. A subset gives the stories it gives without the cache.

    Articles are known by id: within the lifetime of a cache, one id must stand for one
    article (title, summary, source and dates), as in one window loaded at once."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._scores: dict[float, dict[tuple[int, int], float | None]] = {}

    def entry(self, article: DigestArticle) -> _Entry:
        found = self._entries.get(article.id)
        if found is None:
            found = self._entries[article.id] = _entry(article)
        return found

    def scores(self, similarity: float) -> dict[tuple[int, int], float | None]:
        """Pair scores at `similarity`, by the ids of the earlier and the later article in
        clustering order (which is the same in every subset)."""
        scores = self._scores.setdefault(similarity, {})
        if len(scores) > MAX_CACHED_PAIRS:
            scores.clear()
        return scores


def _similar_pairs(
    entries: Sequence[_Entry],
    similarity: float,
    max_gap_seconds: float,
    cache: StoryCache | None = None,
) -> dict[int, dict[int, float]]:
    """Every pair that is similar enough, as neighbour maps keyed by position.

    Only pairs sharing at least two indexed words are scored: with these weights a pair
    that passes shares at least three words. What keeps large batches fast is that words
    found in more than `_posting_cap` articles (the batch's everyday vocabulary) are not
    indexed; rewrites of one story still share its names, numbers and special terms, which
    are rare in any batch. A batch no larger than the cap is compared completely."""
    document_frequency: Counter[str] = Counter()
    for entry in entries:
        document_frequency.update(entry.levels[1])
    cap = _posting_cap(len(entries))
    scores = cache.scores(similarity) if cache is not None else None
    # Each article is compared with the earlier ones that share two indexed words with it:
    # every pair once.
    postings: dict[str, list[int]] = defaultdict(list)
    neighbours: dict[int, dict[int, float]] = defaultdict(dict)
    for position, entry in enumerate(entries):
        shared_words: Counter[int] = Counter()
        for word in entry.levels[1]:
            if 1 < document_frequency[word] <= cap:
                earlier = postings[word]
                if earlier:
                    shared_words.update(earlier)
                earlier.append(position)
        for other, count in shared_words.items():
            if count < 2:
                continue
            other_entry = entries[other]
            if abs(entry.timestamp - other_entry.timestamp) > max_gap_seconds:
                continue
            if scores is None:
                score = _pair_score(other_entry, entry, similarity)
            else:
                pair = (other_entry.article.id, entry.article.id)
                score = scores.get(pair, _NOT_SCORED)
                if score is _NOT_SCORED:
                    score = scores[pair] = _pair_score(other_entry, entry, similarity)
            if score is not None:
                neighbours[other][position] = score
                neighbours[position][other] = score
    return neighbours


def _posting_cap(batch_size: int) -> int:
    return max(_MIN_POSTING_CAP, int(batch_size * _MAX_POSTING_SHARE))


def _is_same_item(first: _Entry, second: _Entry, score: float) -> bool:
    return first.article.url == second.article.url or score >= DUPLICATE_SIMILARITY


def cluster_stories(
    articles: Sequence[DigestArticle],
    similarity: float = DEFAULT_SIMILARITY,
    *,
    max_gap: timedelta = DEFAULT_MAX_GAP,
    cache: StoryCache | None = None,
) -> list[Story]:
    """Group near-duplicate articles into stories, newest story first.

    The lead of a story is its earliest article (the longer text on a tie); `also` holds
    the other outlets' articles in publication order, one per outlet; `duplicates` holds
    further copies from outlets already in the story. `cache` serves callers that cluster
    many subsets of one set of articles (see StoryCache)."""
    unique = list({article.id: article for article in articles}.values())
    unique.sort(key=lambda a: (as_utc(a.published_at), -len(a.title) - len(a.summary), a.id))
    entries = [_entry(article) if cache is None else cache.entry(article) for article in unique]
    neighbours = _similar_pairs(entries, similarity, max_gap.total_seconds(), cache)

    clusters: list[_Cluster] = []
    cluster_of: dict[int, int] = {}
    for position, entry in enumerate(entries):
        best: tuple[float, int, bool] | None = None  # (score, -cluster index, duplicate)
        for cluster_index in sorted(
            {cluster_of[other] for other in neighbours.get(position, {}) if other < position}
        ):
            cluster = clusters[cluster_index]
            score = max(
                neighbours[position].get(member, 0.0)
                for member in (*cluster.members, *cluster.duplicates)
            )
            duplicate = False
            if entry.source in cluster.sources:
                same_source = [
                    member for member in cluster.members if entries[member].source == entry.source
                ]
                if not any(
                    _is_same_item(entry, entries[member], neighbours[position].get(member, 0.0))
                    for member in same_source
                ):
                    continue
                duplicate = True
            candidate = (score, -cluster_index, duplicate)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
        if best is None:
            cluster_of[position] = len(clusters)
            clusters.append(_Cluster(members=[position], duplicates=[], sources={entry.source}))
            continue
        _, negative_index, duplicate = best
        cluster = clusters[-negative_index]
        cluster_of[position] = -negative_index
        if duplicate:
            cluster.duplicates.append(position)
        else:
            cluster.members.append(position)
            cluster.sources.add(entry.source)

    stories = [
        Story(
            lead=entries[cluster.members[0]].article,
            also=tuple(entries[member].article for member in cluster.members[1:]),
            duplicates=tuple(entries[member].article for member in cluster.duplicates),
        )
        for cluster in clusters
    ]
    stories.sort(key=lambda story: (-as_utc(story.lead.published_at).timestamp(), story.lead.id))
    return stories


def singleton_stories(articles: Iterable[DigestArticle]) -> list[Story]:
    """One story per article, for callers that list articles without merging."""
    return [Story(lead=article) for article in articles]
