"""Why the tagger decided what it did: the evidence object of one article.

Built by the tagger from the Analysis that the scores come from (the same mentions,
weights and reasons), never by re-reading the article.  `Explanation.as_dict()` is the JSON
of `digestbot tag --explain`; the bot's `/why` renders the same object in Russian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagging import data


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


def region_label(code: str) -> str:
    """The region's name as written in labels («Омская область»), or its code."""
    region = data.region(code)
    return region.label_ru if region else code
