"""Plain data passed into and out of the digest functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DigestArticle:
    id: int
    title: str
    url: str
    source: str
    published_at: datetime
    first_seen_at: datetime
    countries: Mapping[str, float]
    topics: Mapping[str, float]
    summary: str = ""
    # Russian region tags (ISO 3166-2) and the space-separated lemmas of the text, for the
    # region and keyword filters.
    regions: Mapping[str, float] = field(default_factory=dict)
    search_lemmas: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one chat asked for. An empty `countries` set matches nothing; an empty
    `topics` set means every topic. A `per_country_cap` of 0 or less means no cap.
    `topic_order` is the product's order of topics within a country (from the topic
    data file); topics it does not list come after, alphabetically."""

    countries: frozenset[str]
    topics: frozenset[str] = frozenset()
    threshold: float = 0.5
    language: str = "ru"
    timezone: str = "Asia/Omsk"
    per_country_cap: int = 7
    topic_order: tuple[str, ...] = ()
    # Keyword filter (lemmas): with include words an article must hold at least one of
    # them; an article holding an exclude word is left out. `regions`: when not empty, only
    # articles tagged with one of these Russian regions.
    include_words: frozenset[str] = frozenset()
    exclude_words: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Story:
    """One digest item: the same news from several outlets.

    `also` holds the same story from other outlets (shown as extra links);
    `duplicates` holds repeated copies from an outlet already present (not shown,
    but counted as delivered so that they never come back on their own)."""

    lead: DigestArticle
    also: tuple[DigestArticle, ...] = ()
    duplicates: tuple[DigestArticle, ...] = ()

    @property
    def article_ids(self) -> tuple[int, ...]:
        return (
            self.lead.id,
            *(article.id for article in self.also),
            *(article.id for article in self.duplicates),
        )

    @property
    def articles(self) -> tuple[DigestArticle, ...]:
        return (self.lead, *self.also, *self.duplicates)


@dataclass(frozen=True, slots=True)
class Labels:
    """Every user-visible word of a rendering, supplied by the caller's catalog.

    `digest_title` is formatted with `date=`, `more` with `n=`. `date_format` and
    `date_format_with_year` are formatted with `day=`, `month=` (from `month_names`) and
    `year=`; the year is shown only when it differs from the reference date's year."""

    country_names: Mapping[str, str]
    topic_names: Mapping[str, str]
    digest_title: str
    also: str
    more: str
    other_topics: str
    month_names: Sequence[str]
    date_format: str = "{day} {month}"
    date_format_with_year: str = "{day} {month} {year}"
