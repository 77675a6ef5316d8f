"""Why the tagger decided what it did: the evidence object of one article.

Built from the Analysis that the scores come from (the same mentions, weights and reasons),
never by re-reading the article.  `Explanation.as_dict()` is the JSON of `digestbot tag
--explain`; the bot's `/why` renders the same object in Russian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tagging import data

if TYPE_CHECKING:
    from tagging.tagger import Analysis, Sentence

_SENTENCE_CHARACTERS = 280
_TOPIC_CANDIDATE_MIN = 0.3


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sentence's part in a decision."""

    sentence: str
    words: tuple[str, ...]
    weight: float
    note: str = ""  # why it counts less («crime frame», «enumeration of countries», ...)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "sentence": self.sentence,
            "words": list(self.words),
            "weight": self.weight,
        }
        if self.note:
            result["note"] = self.note
        return result


@dataclass(frozen=True, slots=True)
class Decision:
    """A country, topic or region: accepted or not, its score, evidence and reasons."""

    value: str
    score: float
    accepted: bool
    evidence: tuple[Evidence, ...]
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "value": self.value,
            "score": self.score,
            "evidence": [e.as_dict() for e in self.evidence],
        }
        if self.reasons:
            result["reasons"] = list(self.reasons)
        return result


@dataclass(frozen=True, slots=True)
class Explanation:
    threshold: float
    countries: tuple[Decision, ...]
    rejected_countries: tuple[Decision, ...]
    topics: tuple[Decision, ...]
    rejected_topics: tuple[Decision, ...]
    regions: tuple[Decision, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "countries": [d.as_dict() for d in self.countries],
            "rejected_countries": [d.as_dict() for d in self.rejected_countries],
            "topics": [d.as_dict() for d in self.topics],
            "rejected_topics": [d.as_dict() for d in self.rejected_topics],
            "regions": [d.as_dict() for d in self.regions],
        }


def _text(sentence: Sentence) -> str:
    text = sentence.text
    if len(text) > _SENTENCE_CHARACTERS:
        text = text[: _SENTENCE_CHARACTERS - 1].rstrip() + "…"
    return text


def explain(analysis: Analysis, threshold: float) -> Explanation:
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


def _country_reasons(reasons: list[str], mentions: list[Any]) -> list[str]:
    result: list[str] = []
    for reason in reasons:
        if reason.startswith("named only in"):
            notes = [m.weakened_by for m in mentions if m.weakened_by]
            if notes:
                result.extend(f"passing mention: {note}" for note in dict.fromkeys(notes))
                continue
        result.append(reason)
    return result


def region_label(code: str) -> str:
    """The region's name as written in labels («Омская область»), or its code."""
    region = data.region(code)
    return region.label_ru if region else code
