"""Country, topic and Russian-region tagging of Russian news articles.

The tagger reads an article as sentences of lemmatised tokens, finds gazetteer phrases
(partner countries, Russian regions, markers of the Russian side, other countries) and
lexicon phrases (cooperation, sport, crime, weather, ..., topic vocabularies), and scores
each partner country by how central it is to the article and whether the article is about
cooperation that involves a Russian party.  All vocabularies and weights live in the data
files under tagging/data/.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from tagging import data, wordforms
from tagging.explain import Decision, Evidence, Explanation, region_label
from tagging.morph import Lemmatizer, shared_lemmatizer
from tagging.phrases import Match, Payload, PhraseIndex
from tagging.text import (
    MAX_ARTICLE_CHARACTERS,
    TOKEN_PATTERN,
    NoiseRules,
    content_lines,
    normalise,
    split_sentences,
    within_article_limit,
)

# Layers of the phrase index.
PLACES, CONTEXT, TOPICS = 0, 1, 2

COUNTRY = "country"
REGION = "region"
RUSSIA = "russia"
OTHER = "other"
GROUP = "group"
BLOCK = "block"
INSTITUTION = "institution"
LEXICON = "lex"
TOPIC = "topic"

_QUOTES_OPEN = "«\"„“'"
_QUOTES_CLOSE = "»\"“”'"
_TERMINAL_END = re.compile(r"[.!?…\"»”)]\s*$")


@dataclass(frozen=True, slots=True)
class Tag:
    kind: str  # "country" | "topic" | "region"
    value: str  # ISO2 code, topic id, or ISO 3166-2 region code
    score: float


@dataclass(frozen=True, slots=True)
class TagResult:
    countries: tuple[Tag, ...]
    topics: tuple[Tag, ...]
    regions: tuple[Tag, ...]
    # The evidence behind each decision, when tag(..., explain=True) asked for it.
    explanation: Explanation | None = None

    def all(self) -> tuple[Tag, ...]:
        return self.countries + self.topics + self.regions

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.countries)

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.topics)

    @property
    def region_codes(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.regions)

    @property
    def region_names(self) -> tuple[str, ...]:
        """«Омская область», as the regions are named in labels and in `digestbot tag`."""
        return tuple(region_label(t.value) for t in self.regions)


class Words:
    """The words of a sentence as parallel lists: surface form, lemma keys, offsets.

    The offsets are found when first asked for: only a sentence that names a place needs
    them, and finding them costs a match object per word."""

    __slots__ = ("_ends", "_starts", "_text", "keys", "raws")

    def __init__(self, text: str, raws: list[str], keys: list[frozenset[str]]) -> None:
        self._text = text
        self.raws = raws
        self.keys = keys
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            spans = [match.span() for match in TOKEN_PATTERN.finditer(self._text)]
            self._starts = [start for start, _ in spans]
            self._ends = [end for _, end in spans]
        return self._starts

    @property
    def ends(self) -> list[int]:
        _ = self.starts
        return self._ends


def _words(lemmatizer: Lemmatizer, text: str) -> Words:
    cached = lemmatizer.cached
    forms = lemmatizer.forms
    raws = TOKEN_PATTERN.findall(text)
    return Words(text, raws, [(cached.get(raw) or forms(raw)).keys for raw in raws])


@dataclass(slots=True)
class Sentence:
    index: int  # 0 is the title (may be empty); body sentences follow
    text: str
    in_title: bool
    body_position: int  # 0 for the first body sentence, -1 for the title
    background: bool = False
    tail_from: int = -1  # character offset from which mentions are a cut-off remnant
    word_count: int = 0
    # code -> (kind, factor, matched words) per mention
    countries: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)
    regions: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    russia: float = 0.0
    # «губернатор», «глава региона»: the region's own authority acts in this sentence.
    home_official: bool = False
    # «с Ленинградской, Кировской и Пензенской областями»: regions named as one list.
    region_list: bool = False
    bilateral: set[str] = field(default_factory=set)
    # «экспорт угля в Японию», «поставки во Вьетнам и Малайзию»: a country as the destination
    # (or origin) of the region's trade.
    trade_links: set[str] = field(default_factory=set)
    # «новые прямые рейсы из региона в Ереван, Душанбе и Ош»: the destinations (or origins)
    # of a new regular route; `route_own_party` when the sentence names its Russian end.
    route_links: set[str] = field(default_factory=set)
    route_own_party: bool = False
    lexicons: dict[str, float] = field(default_factory=dict)
    lexicon_words: dict[str, list[str]] = field(default_factory=dict)
    topics: dict[str, float] = field(default_factory=dict)
    topic_words: dict[str, list[str]] = field(default_factory=dict)
    # Place matches that were read and set aside: (country code, words, reason).
    rejected: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Mention:
    """One sentence's contribution to a country's salience."""

    sentence: int
    words: tuple[str, ...]
    kinds: tuple[str, ...]
    weight: float
    weakened_by: str = ""  # why the mention counts less ("list", "crime frame", ...)


@dataclass(slots=True)
class CountryEvidence:
    code: str
    salience: float = 0.0
    strong_mentions: int = 0
    cooperation_near: float = 0.0
    russia_near: float = 0.0
    first_sentence: int = 10**6
    in_title: bool = False
    listed_only: bool = True
    trade_linked: bool = False
    route_linked: bool = False
    score: float = 0.0
    mentions: list[Mention] = field(default_factory=list)
    # Why the score was capped or lowered, in the order the rules applied.
    reasons: list[str] = field(default_factory=list)
    # The evidence the score is made of, one number per term and rule (see _features).
    features: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Analysis:
    """Everything the tagger found in one article; used by the evaluation script too."""

    sentences: list[Sentence]
    countries: dict[str, CountryEvidence]
    russia: float
    cooperation: float
    negative: dict[str, float]
    topic_scores: dict[str, float]
    region_scores: dict[str, float]


class Knowledge:
    """Compiled gazetteer and lexicons; built once per Tagger."""

    def __init__(self, lemmatizer: Lemmatizer | None = None, *, preload: bool = True) -> None:
        self.lemmatizer = lemmatizer or shared_lemmatizer()
        if preload:
            # The data files' words analysed in advance: the same analyses, without their
            # share of a cold start.
            self.lemmatizer.preload(wordforms.load(self.lemmatizer))
        self.index = PhraseIndex(self.lemmatizer, layers=3)
        context = data.context_data()
        self.weights: dict[str, dict[str, float]] = {
            section: {k: float(v) for k, v in values.items() if not k.startswith("_")}
            for section, values in context.get("scoring", {}).items()
            if isinstance(values, dict)
        }
        self._load_countries()
        self._load_regions()
        self._load_lexicons(context)
        self.trade_to = frozenset(self._lemmas(context.get("trade_to", ())))
        self.trade_from = frozenset(self._lemmas(context.get("trade_from", ())))
        self.trade_figures = frozenset(self._lemmas(context.get("trade_figures", ())))
        self.route_words = frozenset(self._lemmas(context.get("route_words", ())))
        self.route_launch = frozenset(self._lemmas(context.get("route_launch", ())))
        self.venue_before = frozenset(self._lemmas(context.get("venue_before", ())))
        self.venue_after = frozenset(self._lemmas(context.get("venue_after", ())))
        self.seat_before = frozenset(self._lemmas(context.get("seat_before", ())))
        noise = context.get("noise", {})
        self.noise = NoiseRules.compile(
            noise.get("cut", ()), noise.get("drop", ()), noise.get("background", ())
        )
        self.group_codes = {p.id: frozenset(p.codes) for p in data.preset_list()}
        self.geographic_groups = frozenset(
            entry["id"]
            for entry in data.country_data().get("presets", ())
            if entry.get("kind", "geography") == "geography"
        )

    def _lemmas(self, entries: Iterable[str]) -> set[str]:
        result: set[str] = set()
        for entry in entries:
            result |= self.lemmatizer.forms(entry).keys
        return result

    def _load_countries(self) -> None:
        source = data.country_data()
        for entry in source["countries"]:
            code = entry["code"]
            for field_name, kind, policy in data.COUNTRY_ALIAS_FIELDS:
                place = kind != "leader"
                for phrase in entry.get(field_name, ()):
                    payload = Payload(COUNTRY, code, kind)
                    self.index.add(phrase, payload, policy, PLACES, place=place)
            for phrase in entry.get("not_this", ()):
                self.index.add(phrase, Payload(BLOCK, code), "auto", PLACES)
        for entry in source.get("other_countries", ()):
            for phrase in entry["names"]:
                self.index.add(phrase, Payload(OTHER, entry["code"]), "auto", PLACES)
        for preset in source.get("presets", ()):
            for phrase in preset.get("aliases", ()):
                self.index.add(phrase, Payload(GROUP, preset["id"]), "auto", PLACES)
        # «Парламентское собрание Союза Беларуси и России», «ЕАЭС»: the longest match wins,
        # so an institution's name hides the country words inside it.
        self.institution_codes: dict[str, tuple[str, ...]] = {}
        for institution in source.get("institutions", ()):
            self.institution_codes[institution["id"]] = tuple(institution.get("codes", ()))
            for phrase in institution["names"]:
                payload = Payload(INSTITUTION, institution["id"])
                self.index.add(phrase, payload, "auto", PLACES, place=True)

    def _load_regions(self) -> None:
        source = data.region_data()
        russia = source["russia"]
        for field_name, kind in (
            ("names", "name"),
            ("adjectives", "adjective"),
            ("demonyms", "demonym"),
            ("organisations", "organisation"),
            ("officials", "official"),
        ):
            policy = "any" if kind in ("adjective", "demonym", "official") else "auto"
            for phrase in russia.get(field_name, ()):
                self.index.add(phrase, Payload(RUSSIA, "RU", kind), policy, PLACES)
        # «Ленинградской, Кировской и Пензенской областями»: the adjectives of a list that
        # shares one head noun, by (adjective key, head key).
        self.region_heads: dict[tuple[str, str], str] = {}
        for entry in source["regions"]:
            for name in entry.get("names", ()):
                parts = name.split()
                if len(parts) == 2 and parts[1].lower() in _REGION_HEADS:
                    head = next(iter(self.lemmatizer.forms(parts[1].lower()).keys))
                    for key in self.lemmatizer.forms(parts[0]).keys:
                        self.region_heads[(key, head)] = entry["code"]
            weight = float(entry.get("weight", 1.0))
            for field_name, kind, policy in data.REGION_ALIAS_FIELDS:
                # A marker names the region's own bodies: full weight, even for the capital.
                field_weight = 1.0 if field_name == "markers" else weight
                for phrase in entry.get(field_name, ()):
                    payload = Payload(REGION, entry["code"], kind, field_weight)
                    self.index.add(phrase, payload, policy, PLACES, place=True)

    def _load_lexicons(self, context: dict[str, Any]) -> None:
        for name in (*_CONTEXT_LEXICONS, "diaspora", "ceremony", "official", "federal"):
            for phrase, weight in context.get(name, {}).items():
                payload = Payload(LEXICON, name, "", float(weight))
                self.index.add(phrase, payload, "any", CONTEXT)
        source = data.topic_data()
        for entry in source["topics"]:
            for phrase, weight in entry["terms"].items():
                payload = Payload(TOPIC, entry["id"], "", float(weight))
                self.index.add(phrase, payload, "any", TOPICS)
        for phrase in source.get("not_topic_phrases", ()):
            # Longest match wins, so these phrases hide the topic words inside them.
            self.index.add(phrase, Payload(LEXICON, "not_topic", "", 0.0), "any", TOPICS)


_REGION_HEADS = frozenset(("область", "край"))


def _weights(knowledge: Knowledge, section: str) -> dict[str, float]:
    return knowledge.weights.get(section, {})


class Tagger:
    """Tags articles with partner countries, topics and the home Russian region.

    Data files load on first use (or on warm_up()); tag() is CPU-bound and thread-safe, so
    async callers run it in a worker thread.  Only the first MAX_ARTICLE_CHARACTERS of
    title and text are read, which bounds the time one article takes."""

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")
        self.threshold = threshold
        self._knowledge: Knowledge | None = None
        self._lock = threading.Lock()

    @property
    def knowledge(self) -> Knowledge:
        if self._knowledge is None:
            with self._lock:
                if self._knowledge is None:
                    self._knowledge = Knowledge()
        return self._knowledge

    def warm_up(self) -> None:
        """Load dictionaries and data files now rather than on the first article."""
        _ = self.knowledge

    def tag(self, title: str | None, text: str, *, explain: bool = False) -> TagResult:
        """Tags of one article; `explain` adds the evidence of every decision (and of the
        candidates that were turned down) as the result's `explanation`."""
        analysis = self.analyse(title, text)
        threshold = self.threshold
        countries = tuple(
            Tag(COUNTRY, code, round(ev.score, 4))
            for code, ev in sorted(analysis.countries.items(), key=lambda kv: -kv[1].score)
            if ev.score >= threshold
        )
        topics: tuple[Tag, ...] = ()
        if countries:
            topics = tuple(
                Tag(TOPIC, topic_id, round(score, 4))
                for topic_id, score in sorted(analysis.topic_scores.items(), key=lambda kv: -kv[1])
                if score >= threshold
            )
        regions = tuple(
            Tag(REGION, code, round(score, 4))
            for code, score in sorted(analysis.region_scores.items(), key=lambda kv: -kv[1])
            if score >= threshold
        )
        explanation = _explain(analysis, threshold) if explain else None
        return TagResult(countries, topics, regions, explanation)

    def tag_many(self, items: Iterable[tuple[str | None, str]]) -> list[TagResult]:
        return [self.tag(title, text) for title, text in items]

    # -- analysis -------------------------------------------------------------------------

    def analyse(
        self,
        title: str | None,
        text: str,
        *,
        max_characters: int | None = MAX_ARTICLE_CHARACTERS,
    ) -> Analysis:
        """What tag() decides on; `max_characters=None` reads the whole text (benchmarks)."""
        knowledge = self.knowledge
        title, text = title or "", text or ""
        if max_characters is not None:
            title, text = within_article_limit(title, text, max_characters)
        sentences = self._sentences(knowledge, title, text)
        for sentence in sentences:
            self._read_sentence(knowledge, sentence)
        return _score(knowledge, sentences, self.threshold)

    def _sentences(self, knowledge: Knowledge, title: str | None, text: str) -> list[Sentence]:
        title_text = normalise(title).strip() if title else ""
        lines = content_lines(normalise(text), knowledge.noise)
        if title_text and lines and _same_line(lines[0], title_text):
            lines = lines[1:]
        sentences = [Sentence(0, title_text, True, -1)]
        body: list[Sentence] = []
        for line in lines:
            for start, end in split_sentences(line):
                body.append(Sentence(len(body) + 1, line[start:end].strip(), False, len(body)))
        if body:
            for sentence in reversed(body[-2:]):
                if knowledge.noise.background_starts.match(sentence.text):
                    sentence.background = True
                else:
                    break
            last = body[-1]
            if not _TERMINAL_END.search(last.text):
                last.tail_from = max(0, len(last.text) - 40)
        return sentences + body

    def _read_sentence(self, knowledge: Knowledge, sentence: Sentence) -> None:
        if not sentence.text:
            return
        words = _words(knowledge.lemmatizer, sentence.text)
        # Only the count outlives the reading: an article's words would all stay in memory.
        sentence.word_count = len(words.raws)
        places, context, topics = knowledge.index.match(words.keys, words.raws)
        for match in places:
            self._record_place(knowledge, sentence, words, match)
        if places:
            if sentence.regions:
                _find_region_lists(knowledge, sentence, words, places)
            if sentence.home_official:
                _drop_foreign_officials(sentence, places)
            _find_bilateral(sentence, words, places)
            if sentence.groups:
                _find_group_partners(knowledge, sentence, words, places)
            if sentence.countries:
                _find_trade_links(knowledge, sentence, words, places)
                _find_route_links(knowledge, sentence, words, places)
        raws = words.raws
        for match in context:
            start, end = match.start, match.end
            matched = raws[start] if end - start == 1 else " ".join(raws[start:end])
            for payload in match.payloads:
                sentence.lexicons[payload.value] = (
                    sentence.lexicons.get(payload.value, 0.0) + payload.weight
                )
                sentence.lexicon_words.setdefault(payload.value, []).append(matched)
        for match in topics:
            start, end = match.start, match.end
            matched = raws[start] if end - start == 1 else " ".join(raws[start:end])
            for payload in match.payloads:
                if payload.category == TOPIC:
                    sentence.topics[payload.value] = (
                        sentence.topics.get(payload.value, 0.0) + payload.weight
                    )
                    sentence.topic_words.setdefault(payload.value, []).append(matched)

    def _record_place(
        self, knowledge: Knowledge, sentence: Sentence, words: Words, match: Match
    ) -> None:
        payloads = match.payloads
        start, end = match.start, match.end
        raws = words.raws
        matched = raws[start] if end - start == 1 else " ".join(raws[start:end])
        categories = {p.category for p in payloads}
        if INSTITUTION in categories:
            for payload in payloads:
                for code in knowledge.institution_codes.get(payload.value, ()):
                    sentence.rejected.append((code, matched, "institution name"))
            return
        blocked = {p.value for p in payloads if p.category == BLOCK} if BLOCK in categories else ()
        reason = ""
        if _is_venue_name(knowledge, sentence.text, words, match):
            reason = "name of a street, venue or firm"
        elif (COUNTRY in categories or REGION in categories) and _is_person_name(
            knowledge, words, match
        ):
            reason = "person name"
        if reason:
            for payload in payloads:
                if payload.category == COUNTRY:
                    sentence.rejected.append((payload.value, matched, reason))
            return
        tail = sentence.tail_from >= 0 and words.starts[match.start] >= sentence.tail_from
        # The last words of an excerpt cut mid-sentence («… с Казахстаном и») carry no content.
        factor = knowledge.weights.get("country", {}).get("tail_factor", 0.2) if tail else 1.0
        for payload in match.payloads:
            if payload.category == COUNTRY and payload.value not in blocked:
                mention = (payload.kind, factor, matched)
                sentence.countries.setdefault(payload.value, []).append(mention)
            elif payload.category == COUNTRY:
                sentence.rejected.append((payload.value, matched, "not this country"))
            elif payload.category == REGION and payload.value not in blocked:
                weight = factor * payload.weight
                if _is_seat(knowledge, words, match):
                    continue  # «генеральный консул Туркменистана в Казани»: a diplomat's seat
                if match.start and words.raws[match.start - 1].lower() in _LOCATIVE_PREPOSITIONS:
                    # «в Москве», «в Московской области»: where something happens is
                    # weaker evidence of whose region it is than «губернатор Омской области».
                    weight *= knowledge.weights.get("region", {}).get("venue_factor", 0.4)
                sentence.regions.setdefault(payload.value, []).append(
                    (payload.kind, weight, matched)
                )
            elif payload.category == RUSSIA:
                sentence.russia += factor
                if payload.kind == "official":
                    sentence.home_official = True
            elif payload.category == OTHER:
                sentence.others.add(payload.value)
            elif payload.category == GROUP:
                sentence.groups.add(payload.value)


_LOCATIVE_PREPOSITIONS = frozenset(("в", "во", "на"))
_RUSSIAN_SIDE_KINDS = frozenset(("name", "adjective", "city", "organisation"))
_CONJUNCTIONS = frozenset(("и", "с", "со"))


def _find_bilateral(sentence: Sentence, words: Words, places: list[Match]) -> None:
    """«российско-китайский», «России и Узбекистана», «Узбекистан и Тюменская область»:
    a partner named side by side with the Russian side."""
    for first, second in pairwise(places):
        gap = second.start - first.end
        if gap > 1 or (gap == 1 and words.raws[first.end].lower() not in _CONJUNCTIONS):
            continue
        for left, right in ((first, second), (second, first)):
            if _is_russian_side(left):
                for payload in right.payloads:
                    if payload.category == COUNTRY and payload.kind != "context":
                        sentence.bilateral.add(payload.value)


_SEAT_WINDOW = 4


def _is_seat(knowledge: Knowledge, words: Words, match: Match) -> bool:
    """«генеральный консул Туркменистана в Казани», «посольство Узбекистана в Москве»: the
    city after a diplomat or a mission is where the foreign side sits, not a Russian party."""
    start = match.start
    if not start or words.raws[start - 1].lower() not in _LOCATIVE_PREPOSITIONS:
        return False
    return any(
        not words.keys[i].isdisjoint(knowledge.seat_before)
        for i in range(max(0, start - 1 - _SEAT_WINDOW), start - 1)
    )


def _find_region_lists(
    knowledge: Knowledge, sentence: Sentence, words: Words, places: list[Match]
) -> None:
    """«с Ленинградской, Кировской и Пензенской областями»: every adjective of a list that
    shares the head noun of the last region's name names a region too."""
    for match in places:
        if match.end - match.start != 2 or not any(
            p.category == REGION and p.kind == "name" for p in match.payloads
        ):
            continue
        heads = words.keys[match.end - 1] & _REGION_HEADS
        if not heads:
            continue
        head = next(iter(heads))
        i = match.start - 1
        while i >= 0:
            raw = words.raws[i]
            if raw.lower() in ("и", "а", "также"):
                i -= 1
                continue
            code = next(
                (
                    knowledge.region_heads[(key, head)]
                    for key in words.keys[i]
                    if (key, head) in knowledge.region_heads
                ),
                None,
            )
            if code is None or not raw[:1].isupper():
                break
            known = sentence.regions.setdefault(code, [])
            # An adjective already read as the region's («Новосибирской») is the same mention.
            if not any(m[2] == raw for m in known):
                known.append(("name", 1.0, f"{raw} {words.raws[match.end - 1]}"))
            sentence.region_list = True
            i -= 1


def _drop_foreign_officials(sentence: Sentence, places: list[Match]) -> None:
    """«губернатор провинции Шаньдун», «губернатор Ферганской области»: the governor of a
    foreign province is not the Russian party."""
    officials = 0
    foreign = 0
    for first, second in pairwise(places):
        if any(p.category == RUSSIA and p.kind == "official" for p in first.payloads):
            officials += 1
            if second.start - first.end <= 1 and any(
                p.category == COUNTRY for p in second.payloads
            ):
                foreign += 1
                sentence.russia -= 1.0
    last = places[-1]
    officials += any(p.category == RUSSIA and p.kind == "official" for p in last.payloads)
    if foreign and foreign >= officials:
        sentence.home_official = False


_GROUP_GAP_WORDS = frozenset(("и", "с", "со", "страна", "государство", "пять", "пятерка", "все"))


def _find_group_partners(
    knowledge: Knowledge, sentence: Sentence, words: Words, places: list[Match]
) -> None:
    """«саммит России и стран Центральной Азии»: a named group of states beside the Russian
    side makes every member a counterpart, named or not."""
    for first, second in pairwise(places):
        if not _is_russian_side(first):
            continue
        gap = range(first.end, second.start)
        if (
            len(gap) > 3
            or not all(not words.keys[i].isdisjoint(_GROUP_GAP_WORDS) for i in gap)
            or not any(words.raws[i].lower() in _CONJUNCTIONS for i in gap)
        ):
            continue
        matched = " ".join(words.raws[second.start : second.end])
        for payload in second.payloads:
            if payload.category != GROUP or payload.value not in knowledge.geographic_groups:
                continue
            for code in knowledge.group_codes.get(payload.value, ()):
                sentence.countries.setdefault(code, []).append(("group", 1.0, matched))
                sentence.bilateral.add(code)


_TO_PREPOSITIONS = frozenset(("в", "во"))
_FROM_PREPOSITIONS = frozenset(("из",))


def _find_trade_links(
    knowledge: Knowledge, sentence: Sentence, words: Words, places: list[Match]
) -> None:
    """«вырос экспорт угля в Японию», «поставки во Вьетнам и Малайзию», «импорт из Китая»:
    a country with its own place in the region's trade, whether or not a cooperation verb
    is there, when the sentence gives a figure or a trend.  A bare enumeration after one
    preposition links only its first country."""
    to_seen = from_seen = -1
    keys = words.keys
    for i, word_keys in enumerate(keys):
        if not word_keys.isdisjoint(knowledge.trade_to):
            to_seen = i
        if not word_keys.isdisjoint(knowledge.trade_from):
            from_seen = i
    if to_seen < 0 and from_seen < 0:
        return
    # Its own figure or trend («на 60%», «рекордные», «растут»), not a remark in passing.
    if not any(raw[:1].isdigit() for raw in words.raws) and all(
        word_keys.isdisjoint(knowledge.trade_figures) for word_keys in keys
    ):
        return
    previous_linked = -1
    for match in places:
        codes = [p.value for p in match.payloads if p.category == COUNTRY]
        if not codes or match.start == 0:
            previous_linked = -1
            continue
        before = words.raws[match.start - 1].lower()
        start = match.start
        linked = (
            (before in _TO_PREPOSITIONS and 0 <= to_seen < start)
            or (before in _FROM_PREPOSITIONS and 0 <= from_seen < start)
            or (before == "и" and previous_linked == start - 1)
        )
        if linked:
            sentence.trade_links.update(codes)
            previous_linked = match.end
        else:
            previous_linked = -1


_ROUTE_TO_PREPOSITIONS = frozenset(("в", "во", "до"))


def _find_route_links(
    knowledge: Knowledge, sentence: Sentence, words: Words, places: list[Match]
) -> None:
    """«новые прямые рейсы из региона в Ереван, Душанбе, Ташкент, Ош и Астану»: every
    country of the enumeration after «в» (or «из») that follows a word of a route, in a
    sentence that speaks of a new or resumed route rather than a timetable."""
    keys = words.keys
    route_seen = -1
    launch = False
    for i, word_keys in enumerate(keys):
        if route_seen < 0 and not word_keys.isdisjoint(knowledge.route_words):
            route_seen = i
        if not launch and not word_keys.isdisjoint(knowledge.route_launch):
            launch = True
    if route_seen < 0 or not launch:
        return
    raws = words.raws
    chain_end = -1  # the end of the previous linked match, while the enumeration goes on
    for match in places:
        start = match.start
        if start <= route_seen:
            continue
        before = raws[start - 1].lower()
        continues = chain_end >= 0 and (
            start == chain_end or (start == chain_end + 1 and before in ("и", "а"))
        )
        opens = before in _ROUTE_TO_PREPOSITIONS or before in _FROM_PREPOSITIONS
        if not (opens or continues):
            chain_end = -1
            continue
        if _is_russian_side(match):
            sentence.route_own_party = True
        codes = [p.value for p in match.payloads if p.category == COUNTRY]
        sentence.route_links.update(codes)
        chain_end = match.end


def _is_russian_side(match: Match) -> bool:
    return any(
        p.category == RUSSIA or (p.category == REGION and p.kind in _RUSSIAN_SIDE_KINDS)
        for p in match.payloads
    )


def _is_person_name(knowledge: Knowledge, words: Words, match: Match) -> bool:
    """«Борис Дубровский», «Юлия Казакова», «А. Лида»: a word that reads as a first name,
    surname or patronymic, next to another such word or an initial, is part of a person's
    name and never a place (a leader's name is matched as a leader)."""
    if any(p.category == COUNTRY and p.kind == "leader" for p in match.payloads):
        return False
    if match.end - match.start != 1:
        return False
    cached = knowledge.lemmatizer.cached
    raw = words.raws[match.start]
    forms = cached.get(raw)
    if forms is None or not raw[:1].isupper() or not (forms.person or forms.person_or_place):
        return False
    for neighbour in (match.start - 1, match.end):
        if 0 <= neighbour < len(words.raws):
            other = words.raws[neighbour]
            if len(other) == 1 and other.isupper() and neighbour < match.start:
                return True  # an initial
            other_forms = cached.get(other)
            if other[:1].isupper() and other_forms is not None and other_forms.person:
                return True
    return False


def _same_line(line: str, title: str) -> bool:
    return line.strip(" .").casefold() == title.strip(" .").casefold()


def _is_venue_name(knowledge: Knowledge, text: str, words: Words, match: Match) -> bool:
    """A place name used as the name of a street, restaurant, shop, ... («ресторан «Бухара»»)."""
    if not any(p.category in (COUNTRY, REGION) for p in match.payloads):
        return False
    if match.start > 0 and not words.keys[match.start - 1].isdisjoint(knowledge.venue_before):
        return True
    if match.end < len(words.keys) and not words.keys[match.end].isdisjoint(knowledge.venue_after):
        return True
    # Finding the words' offsets costs a scan of the sentence; most have no quotes at all.
    if not any(quote in text for quote in _QUOTES_OPEN):
        return False
    # A sentence can be a whole long text: look only at the characters next to the match,
    # never copy what comes before or after it.
    before = _visible_before(text, words.starts[match.start])
    after = _visible_after(text, words.ends[match.end - 1])
    return bool(before and after and before in _QUOTES_OPEN and after in _QUOTES_CLOSE)


def _visible_before(text: str, position: int) -> str:
    """The last non-space character before `position`, or "" when there is none."""
    position -= 1
    while position >= 0 and text[position].isspace():
        position -= 1
    return text[position] if position >= 0 else ""


def _visible_after(text: str, position: int) -> str:
    """The first non-space character from `position` on, or "" when there is none."""
    length = len(text)
    while position < length and text[position].isspace():
        position += 1
    return text[position] if position < length else ""


# -- scoring -------------------------------------------------------------------------------

_NEGATIVE_LEXICONS = ("sport", "crime", "weather", "leisure", "consumer", "traffic")
_CONTEXT_LEXICONS = ("cooperation", *_NEGATIVE_LEXICONS)
# Lexicons whose words, outweighing the cooperation words of a sentence, make it a frame
# in which country names are only mentions.
_FRAME_LEXICONS = (*_NEGATIVE_LEXICONS, "ceremony")
_EVENT_TOPICS = frozenset(("agreements", "visits_events"))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _frame(w: dict[str, float], sentence: Sentence) -> str:
    """The non-cooperation frame of a sentence (a brawl, a car-market review, a queue at the
    border, a wreath-laying), or "" when its cooperation words weigh as much."""
    best, best_weight = "", 0.0
    for name in _FRAME_LEXICONS:
        weight = sentence.lexicons.get(name, 0.0)
        if weight > best_weight:
            best, best_weight = name, weight
    if best_weight < w.get("frame_min", 1.0):
        return ""
    if best_weight <= sentence.lexicons.get("cooperation", 0.0):
        return ""
    return best


def _score(knowledge: Knowledge, sentences: list[Sentence], threshold: float) -> Analysis:
    kind_weight = _weights(knowledge, "mention_kind")
    w = _weights(knowledge, "country")

    russia_total = 0.0
    cooperation_total = 0.0
    negative: dict[str, float] = defaultdict(float)
    groups: set[str] = set()
    strong_regions = _strong(s.regions for s in sentences)
    background_weight = w.get("background_article_factor", 0.3)
    russia_salience = 0.0
    # Once per sentence: a long sentence can name many regions and many countries.
    region_sides = [_region_mass(sentence, strong_regions) for sentence in sentences]
    russian_sides = [
        sentence.russia + region_side
        for sentence, region_side in zip(sentences, region_sides, strict=True)
    ]
    for sentence, sentence_russian_side in zip(sentences, russian_sides, strict=True):
        weight = background_weight if sentence.background else 1.0
        russian_side = weight * sentence_russian_side
        russia_total += russian_side
        russia_salience += russian_side * _position_weight(w, sentence)
        # Substance of cooperation (students, flights, supplies, ...) counts too, less.
        cooperation_total += weight * (
            sentence.lexicons.get("cooperation", 0.0)
            + w.get("topic_as_cooperation", 0.3) * _sphere_mass(sentence)
        )
        for name, value in sentence.lexicons.items():
            if name != "cooperation":
                negative[name] += weight * value
        groups |= sentence.groups
    strong = _strong(s.countries for s in sentences)

    evidence: dict[str, CountryEvidence] = {}
    list_cooperation_min = w.get("list_cooperation_min", 1.5)
    list_factor = w.get("list_factor", 0.25)
    background_factor = w.get("background_factor", 0.2)
    diaspora_factor = w.get("diaspora_factor", 0.3)
    frame_factor = w.get("frame_factor", 0.3)
    bilateral_weight = w.get("bilateral", 1.0)
    sentence_cap = w.get("sentence_cap", 1.3)
    group_weight = kind_weight.get("group", 0.8)
    title_party = bool(sentences) and (russian_sides[0] > 0 or sentences[0].home_official)
    for sentence, sentence_russian_side, region_side in zip(
        sentences, russian_sides, region_sides, strict=True
    ):
        if not sentence.countries and not sentence.groups:
            continue
        foreign = {c for c in sentence.countries if c in strong} | sentence.others
        place_mentions = sum(len(sentence.countries.get(c, ())) for c in foreign)
        place_mentions += len(sentence.others)
        near_cooperation = sentence.lexicons.get("cooperation", 0.0)
        frame = _frame(w, sentence)
        # «участники из России, Китая, Казахстана, Белоруссии и Турции», «рейсы в Астану
        # (Казахстан), Ош (Киргизия), Ташкент и Наманган (Узбекистан)»: an enumeration.
        dense = place_mentions >= 5 and place_mentions >= 0.2 * sentence.word_count
        is_list = (len(foreign) >= 4 or (len(foreign) >= 3 and dense)) and not _is_named_group(
            knowledge, foreign, groups
        )
        # «Губернатор области встретился с консулами Узбекистана, Казахстана, Киргизии и
        # Таджикистана»: a Russian region's act of cooperation with every state of the list.
        cooperative_list = (
            is_list
            and not frame
            and (region_side > 0 or sentence.home_official)
            and near_cooperation >= list_cooperation_min
        )
        position = _position_weight(w, sentence)
        # «Итогом стали новые рейсы из региона в Ереван, Душанбе и Ош» after «Губернатор
        # побывал в Армении ...»: a route of the Russian party of this sentence, of the one
        # before it or of the title links every country at its other end.
        route_links: set[str] = set()
        if sentence.route_links and not frame and not sentence.background:
            previous = sentence.index - 1
            if (
                sentence.route_own_party
                or sentence_russian_side > 0
                or sentence.home_official
                or title_party
                or (
                    previous > 0
                    and (russian_sides[previous] > 0 or sentences[previous].home_official)
                )
            ):
                route_links = sentence.route_links
        modifier = 1.0
        weakened_by: list[str] = []
        list_weakened = is_list and not cooperative_list
        if sentence.background:
            modifier *= background_factor
            weakened_by.append("background remark")
        if sentence.lexicons.get("diaspora", 0.0) > 0:
            modifier *= diaspora_factor
            weakened_by.append("diaspora event")
        if frame:
            modifier *= frame_factor
            weakened_by.append(f"{frame} frame")
        for group in sentence.groups:
            if group not in knowledge.geographic_groups:
                # «ЕАЭС», «ШОС»: an organisation's name names none of its members.
                continue
            # «форум «Россия — Центральная Азия»»: the group's members named in the article
            # are counterparts too.
            # Sorted: a set's order changes from one process to the next, and countries
            # with equal scores keep the order they were first seen in.
            for code in sorted(knowledge.group_codes.get(group, frozenset()) & strong):
                ev = evidence.setdefault(code, CountryEvidence(code))
                gained = group_weight * position
                ev.salience += gained
                ev.mentions.append(Mention(sentence.index, (group,), ("group",), round(gained, 3)))
        for code, mentions in sentence.countries.items():
            if code not in strong:
                continue
            ev = evidence.setdefault(code, CountryEvidence(code))
            gained = 0.0
            for kind, factor, _words in mentions:
                gained += kind_weight.get(kind, 0.5) * factor
                if kind != "context":
                    ev.strong_mentions += 1
            code_modifier = modifier
            code_weakened_by = weakened_by
            if list_weakened and code not in route_links:
                code_modifier *= list_factor
                code_weakened_by = ["enumeration of countries", *weakened_by]
            # Repeating a name within one sentence («Ташкент (Узбекистан)») adds little.
            gained = min(gained, sentence_cap) * position * code_modifier
            ev.salience += gained
            lowest = min(f for _, f, _ in mentions)
            ev.mentions.append(
                Mention(
                    sentence.index,
                    tuple(m[2] for m in mentions),
                    tuple(m[0] for m in mentions),
                    round(gained, 3),
                    ", ".join(code_weakened_by) or ("cut-off tail" if lowest < 0.5 else ""),
                )
            )
            if code_modifier * lowest >= 0.5:
                ev.listed_only = False
                ev.trade_linked = ev.trade_linked or code in sentence.trade_links
                ev.route_linked = ev.route_linked or code in route_links
                ev.cooperation_near += near_cooperation
                if code in sentence.bilateral or code in route_links:
                    ev.cooperation_near += bilateral_weight
                ev.russia_near += sentence_russian_side
                ev.first_sentence = min(ev.first_sentence, sentence.index)
                ev.in_title = ev.in_title or sentence.in_title

    negative_total = sum(negative[name] for name in _NEGATIVE_LEXICONS)
    foreign = {code for code, ev in evidence.items() if not ev.listed_only}
    for sentence in sentences:
        if not sentence.background:
            foreign |= sentence.others
    prominent_foreign = {c for c in foreign if c not in evidence or evidence[c].salience >= 1.0}
    # «Узбекистан и Китай подписали ... главным партнером остается Россия»: two foreign
    # countries at the centre and Russia named once in passing is third-country news.
    third_countries = len(prominent_foreign) >= 2 and russia_salience < w.get(
        "weak_russia_salience", 1.5
    )
    top_salience = max((ev.salience for ev in evidence.values()), default=0.0)
    cap = w.get("negative_domain_cap", 0.3)
    cooperation_term = min(cooperation_total, w.get("cooperation_total_cap", 8.0))
    negative_term = min(negative_total, w.get("negative_cap", 6.0))
    for ev in evidence.values():
        # Each term and rule is also kept as a feature: what a learned weighting is fitted
        # on (bench/learn_weights.py) is exactly what these weights multiply.
        features = ev.features
        features["salience"] = salience = min(ev.salience, w.get("salience_cap", 5.0))
        features["cooperation_near"] = cooperation_near = min(
            ev.cooperation_near, w.get("cooperation_near_cap", 4.0)
        )
        features["cooperation_total"] = cooperation_term
        features["russia_near"] = russia_near = min(ev.russia_near, w.get("russia_near_cap", 3.0))
        features["negative"] = negative_term
        x = (
            w.get("bias", -3.0)
            + w.get("salience", 1.0) * salience
            + w.get("cooperation_near", 0.5) * cooperation_near
            + w.get("cooperation_total", 0.25) * cooperation_term
            + w.get("russia_near", 0.4) * russia_near
            - w.get("negative", 0.8) * negative_term
        )
        if ev.listed_only:
            x += w.get("listed_only", -2.0)
            features["listed_only"] = 1.0
            ev.reasons.append("named only in enumerations, side remarks or other frames")
        elif foreign == {ev.code}:
            # The only foreign country of an article about cooperation is its partner.
            x += w.get("sole_country", 1.0)
            features["sole_country"] = 1.0
        if ev.trade_linked and russia_total > 0:
            # Its own place in the region's exports or imports: trade without a verb of
            # cooperation is cooperation.
            x += w.get("trade_link", 1.5)
            features["trade_link"] = 1.0
        if ev.route_linked:
            # An end of a new route of the Russian party: cooperation in transport.
            x += w.get("route_link", 1.5)
            features["route_link"] = 1.0
        ev.score = _sigmoid(x)
        if russia_total <= 0 or third_countries:
            # Cooperation between third countries only: never a partner of the home side.
            ev.score = min(ev.score, w.get("no_russia_cap", 0.3))
            features["no_russia"] = 1.0
            ev.reasons.append("no Russian party" if russia_total <= 0 else "third-country news")
        if (
            negative_total >= w.get("negative_domain_min", 3.0)
            and negative_total > w.get("negative_domain_ratio", 2.0) * cooperation_total
        ):
            # A sports report, crime story, weather forecast, ...: names are just mentions.
            ev.score = min(ev.score, cap)
            features["negative_domain"] = 1.0
            frame = max(_NEGATIVE_LEXICONS, key=lambda name: negative[name])
            ev.reasons.append(f"article in a {frame} frame")
        diaspora = negative["diaspora"]
        if diaspora >= w.get("diaspora_domain_min", 1.5) and (
            diaspora > cooperation_total or negative["official"] <= 0
        ):
            # A diaspora festival in a Russian city, with no consul, ambassador or
            # delegation of the state, is not cooperation with that state.
            ev.score = min(ev.score, cap)
            features["diaspora"] = 1.0
            ev.reasons.append("diaspora event without an official party")
        ceremony = negative["ceremony"]
        if ceremony >= w.get("ceremony_domain_min", 1.5) and ceremony > cooperation_total:
            # A wreath-laying attended by delegations is a ceremony, not cooperation.
            ev.score = min(ev.score, cap)
            features["ceremony"] = 1.0
            ev.reasons.append("ceremony")
        if (
            ev.salience * w.get("passing_ratio", 4.0) <= top_salience
            and ev.russia_near <= 0
            and ev.cooperation_near < w.get("passing_cooperation_max", 1.0)
            and not ev.in_title
        ):
            # «… из них 0,02 тыс. т ушло в Беларусь»: a side remark beside the main partner.
            ev.score = min(ev.score, w.get("passing_cap", 0.4))
            features["passing"] = 1.0
            ev.reasons.append("passing mention beside the main partner")
        if cooperation_total < w.get("cooperation_min", 0.5):
            ev.score = min(ev.score, w.get("no_cooperation_cap", 0.4))
            features["no_cooperation"] = 1.0
            ev.reasons.append("no cooperation in the article")
        _mention_features(features, ev, sentences, top_salience)

    return Analysis(
        sentences=sentences,
        countries=evidence,
        russia=russia_total,
        cooperation=cooperation_total,
        negative=dict(negative),
        topic_scores=_topic_scores(knowledge, sentences),
        # Whether this is a story of cooperation is the same decision tag() makes.
        region_scores=_region_scores(
            knowledge, sentences, any(ev.score >= threshold for ev in evidence.values())
        ),
    )


def _mention_features(
    features: dict[str, float],
    ev: CountryEvidence,
    sentences: list[Sentence],
    top_salience: float,
) -> None:
    """Where and how a candidate is named: mentions in the title, lead and body, those
    weakened by a frame or an enumeration, and its salience beside the top country's."""
    title = lead = body = weakened = 0.0
    for mention in ev.mentions:
        sentence = sentences[mention.sentence]
        if sentence.in_title:
            title += 1
        elif sentence.body_position == 0:
            lead += 1
        else:
            body += 1
        if mention.weakened_by:
            weakened += 1
    features["title_mentions"] = title
    features["lead_mentions"] = lead
    features["body_mentions"] = body
    features["weakened_mentions"] = weakened
    features["in_title"] = 1.0 if ev.in_title else 0.0
    features["relative_salience"] = ev.salience / top_salience if top_salience > 0 else 0.0


def _strong(mention_maps: Iterable[dict[str, list[tuple[str, float, str]]]]) -> set[str]:
    """Places named at least once by something more than a context-only alias."""
    return {
        code
        for mentions_by_code in mention_maps
        for code, mentions in mentions_by_code.items()
        if any(m[0] != "context" for m in mentions)
    }


def _sphere_mass(sentence: Sentence) -> float:
    return sum(v for t, v in sentence.topics.items() if t not in _EVENT_TOPICS)


def _position_weight(w: dict[str, float], sentence: Sentence) -> float:
    """Title and lead sentences say what an article is about."""
    if sentence.in_title:
        return w.get("title_position", 2.0)
    if sentence.body_position == 0:
        return w.get("lead_position", 1.5)
    if sentence.body_position == 1:
        return w.get("second_position", 1.2)
    return 1.0


def _region_mass(sentence: Sentence, strong_regions: set[str]) -> float:
    return sum(
        factor
        for code, mentions in sentence.regions.items()
        if code in strong_regions
        for _, factor, _ in mentions
    )


def _is_named_group(knowledge: Knowledge, foreign: set[str], groups: set[str]) -> bool:
    """A list that is exactly a country group the article names («Россия — Центральная Азия»)."""
    return any(knowledge.group_codes.get(g) == foreign for g in groups)


def _topic_scores(knowledge: Knowledge, sentences: list[Sentence]) -> dict[str, float]:
    w = _weights(knowledge, "topic")
    scale = w.get("scale", 1.4)
    enumeration_factor = w.get("enumeration_factor", 0.6)
    totals: dict[str, float] = defaultdict(float)
    for sentence in sentences:
        if not sentence.topics:
            continue
        # «в сферах промышленности, сельского хозяйства и образования»: a list of spheres
        # says less about each of them than a sentence about one.
        spheres = sum(1 for t in sentence.topics if t not in _EVENT_TOPICS)
        factor = enumeration_factor if spheres >= 3 else 1.0
        if sentence.background:
            factor *= w.get("background_factor", 0.5)
        for topic_id, weight in sentence.topics.items():
            totals[topic_id] += weight * factor
    return {t: 1.0 - math.exp(-total / scale) for t, total in totals.items()}


def _region_scores(
    knowledge: Knowledge, sentences: list[Sentence], cooperation_story: bool
) -> dict[str, float]:
    """Scores of the home Russian region.  In a story of cooperation the venue of a meeting
    is not the home region; in other news (weather, a match) where it happens is."""
    w = _weights(knowledge, "region")
    kind_weight = {
        "name": w.get("name", 1.0),
        "adjective": w.get("adjective", 0.6),
        "city": w.get("city", 0.5),
        "demonym": w.get("demonym", 0.5),
        "context": w.get("context", 0.3),
    }
    strong = _strong(s.regions for s in sentences)
    totals: dict[str, float] = defaultdict(float)
    # How firmly each region is placed in the article (see below).
    anchors: dict[str, int] = defaultdict(int)
    for sentence in sentences:
        if not sentence.regions:
            continue
        # Many regions in one sentence are a remark on each («губернаторы ряда сибирских
        # регионов …»), unless the sentence makes one list of them the parties of its
        # cooperation with a foreign side («соглашения Хатлонской области с Ленинградской,
        # Кировской и Пензенской областями»).
        listed = len(sentence.regions) >= 3 and not (
            sentence.region_list
            and sentence.countries
            and sentence.lexicons.get("cooperation", 0.0) >= w.get("list_cooperation_min", 1.0)
        )
        factor = _position_weight(w, sentence) * (w.get("list_factor", 0.3) if listed else 1.0)
        if sentence.background:
            factor *= w.get("background_factor", 0.3)
        for code, mentions in sentence.regions.items():
            if code not in strong:
                continue
            totals[code] += factor * sum(kind_weight.get(k, 0.5) * f for k, f, _ in mentions)
            for kind, mention_factor, _ in mentions:
                if listed or sentence.background or mention_factor < w.get("anchor_min", 0.3):
                    continue  # a remark, or the capital as the venue of national news
                # «Омская область», «в Омске» (not in a story of cooperation): the region's
                # name, or where things happen; a city alone («трасса Самара — Шымкент») is
                # half an anchor.
                if mention_factor < 0.5:
                    anchors[code] += 0 if cooperation_story else 2
                else:
                    # In a story of cooperation a Russian city is the Russian party's.
                    anchors[code] += 1 if kind == "city" and not cooperation_story else 2
    if not totals or (cooperation_story and _national_level(sentences, strong)):
        return {}
    top = max(totals.values())
    scale = w.get("scale", 2.0)
    scores = {
        code: (1.0 - math.exp(-total / scale)) * (1.0 if total >= 0.5 * top else 0.5)
        for code, total in totals.items()
    }
    leader = max(totals, key=lambda code: totals[code])
    runner_up = max((t for c, t in totals.items() if c != leader), default=0.0)
    if (
        top >= w.get("sole_min", 0.15)
        and runner_up < w.get("sole_ratio", 0.5) * top
        and anchors[leader] >= 2
    ):
        # The one Russian region an article names, however briefly, is its home region.
        scores[leader] = max(scores[leader], w.get("sole_floor", 0.6))
    return scores


def _national_level(sentences: list[Sentence], strong: set[str]) -> bool:
    """«… цитирует Интерфакс представителя Минтранса РФ», «визит группы Совета Федерации»: a
    federal body acts in the opening sentences and no Russian region is named there (outside a
    list), so the regions further on are senators' seats or route ends, not the party."""
    opening = [s for s in sentences if s.in_title or 0 <= s.body_position <= 1]
    if not any(s.lexicons.get("federal", 0.0) > 0 for s in opening):
        return False
    # «губернатор Ростовской области» in the delegation of the Federation Council: the
    # region's own name (not a city at the end of a route) in the opening is its party.
    # Moscow as a route end or the capital weighs less than a region's name («Москва —
    # Душанбе») and does not count either.
    return not any(
        code in strong and kind != "city" and factor >= 0.5
        for s in opening
        if len(s.regions) < 3 or s.region_list
        for code, mentions in s.regions.items()
        for kind, factor, _ in mentions
    )


# -- explanation ---------------------------------------------------------------------------

_SENTENCE_CHARACTERS = 280
_TOPIC_CANDIDATE_MIN = 0.3


def _text(sentence: Sentence) -> str:
    text = sentence.text
    if len(text) > _SENTENCE_CHARACTERS:
        text = text[: _SENTENCE_CHARACTERS - 1].rstrip() + "…"
    return text


def _explain(analysis: Analysis, threshold: float) -> Explanation:
    """The evidence of every decision of tag(), from the analysis that scored it."""
    sentences = {s.index: s for s in analysis.sentences}
    accepted: list[Decision] = []
    rejected: list[Decision] = []
    for code, ev in sorted(analysis.countries.items(), key=lambda kv: -kv[1].score):
        evidence = tuple(
            Evidence(_text(sentences[m.sentence]), m.words, m.weight, m.weakened_by)
            for m in ev.mentions
        )
        score = round(ev.score, 4)
        if ev.score >= threshold:
            accepted.append(Decision(code, score, True, evidence))
            continue
        reasons = list(dict.fromkeys(_country_reasons(ev.reasons, ev.mentions)))
        reasons.append(f"below threshold {threshold:g}")
        rejected.append(Decision(code, score, False, evidence, tuple(reasons)))
    # Words read as a country and set aside before scoring: institution and person names,
    # venues, known false friends.
    set_aside: dict[str, tuple[list[Evidence], list[str]]] = {}
    for sentence in analysis.sentences:
        for code, words, reason in sentence.rejected:
            lines, reasons = set_aside.setdefault(code, ([], []))
            lines.append(Evidence(_text(sentence), (words,), 0.0, reason))
            if reason not in reasons:
                reasons.append(reason)
    for code, (lines, reasons) in set_aside.items():
        if code in analysis.countries:
            continue
        rejected.append(Decision(code, 0.0, False, tuple(lines), tuple(reasons)))

    has_country = bool(accepted)
    topics: list[Decision] = []
    rejected_topics: list[Decision] = []
    for topic_id, score in sorted(analysis.topic_scores.items(), key=lambda kv: -kv[1]):
        evidence = tuple(
            Evidence(_text(s), tuple(s.topic_words.get(topic_id, ())), round(s.topics[topic_id], 3))
            for s in analysis.sentences
            if topic_id in s.topics
        )
        rounded = round(score, 4)
        if score >= threshold and has_country:
            topics.append(Decision(topic_id, rounded, True, evidence))
        elif score >= _TOPIC_CANDIDATE_MIN:
            below = f"below threshold {threshold:g}"
            reason = "no partner country" if score >= threshold else below
            rejected_topics.append(Decision(topic_id, rounded, False, evidence, (reason,)))

    regions: list[Decision] = []
    for code, score in sorted(analysis.region_scores.items(), key=lambda kv: -kv[1]):
        if score < threshold:
            continue
        evidence = tuple(
            Evidence(
                _text(s),
                tuple(m[2] for m in s.regions[code]),
                round(sum(m[1] for m in s.regions[code]), 3),
            )
            for s in analysis.sentences
            if code in s.regions
        )
        regions.append(Decision(region_label(code), round(score, 4), True, evidence))
    return Explanation(
        threshold,
        tuple(accepted),
        tuple(rejected),
        tuple(topics),
        tuple(rejected_topics),
        tuple(regions),
    )


def _country_reasons(reasons: list[str], mentions: list[Mention]) -> list[str]:
    result: list[str] = []
    for reason in reasons:
        if reason.startswith("named only in"):
            notes = [m.weakened_by for m in mentions if m.weakened_by]
            if notes:
                result.extend(f"passing mention: {note}" for note in dict.fromkeys(notes))
                continue
        result.append(reason)
    return result
