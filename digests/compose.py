"""A subscriber's digest: selected, merged, grouped country → topic, capped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from digests.cluster import DEFAULT_SIMILARITY, StoryCache, cluster_stories
from digests.model import DigestArticle, Story, Subscription
from digests.select import (
    as_utc,
    select_articles,
    topic_sort_key,
)

TopicGroup = tuple[str | None, tuple[Story, ...]]


@dataclass(frozen=True)
class DigestSection:
    """One country of a digest. `topic_groups` holds the shown stories by topic (None:
    stories with no topic tag, possible only when the subscriber follows every topic);
    `more_stories` the stories left out by the per-country cap, in the same order."""

    country: str
    topic_groups: tuple[TopicGroup, ...]
    more_count: int
    more_stories: tuple[Story, ...] = ()

    @property
    def stories(self) -> tuple[Story, ...]:
        return tuple(story for _, stories in self.topic_groups for story in stories)


@dataclass(frozen=True)
class Digest:
    """`article_ids` are the ids of every article in the shown stories (leads, other
    outlets and hidden duplicates): the caller records exactly these as sent."""

    sections: tuple[DigestSection, ...]
    article_ids: frozenset[int]

    @property
    def is_empty(self) -> bool:
        return not self.sections

    @property
    def stories(self) -> tuple[Story, ...]:
        return tuple(story for section in self.sections for story in section.stories)


class _StoryPlace:
    """Where a story goes in one subscriber's digest: under the subscribed country it is
    most strongly about over all its articles, and the first topic, in the product's topic
    order, that any of them carries and the subscriber follows (None when there is none).
    The same as `subscribed_countries` and `subscribed_topics` over the story's articles,
    with the subscription's sets worked out once for all its stories."""

    def __init__(self, sub: Subscription) -> None:
        self._countries = frozenset(code.upper() for code in sub.countries)
        self._topics = frozenset(topic.lower() for topic in sub.topics)
        self._threshold = sub.threshold
        self._order = sub.topic_order

    def country(self, story: Story) -> str | None:
        best: dict[str, float] = {}
        threshold, wanted = self._threshold, self._countries
        for article in story.articles:
            for code, score in article.countries.items():
                if score >= threshold:
                    upper = code.upper()
                    if upper in wanted:
                        best[upper] = max(best.get(upper, score), score)
        if not best:
            return None
        return min(best, key=lambda code: (-best[code], code))

    def topic(self, story: Story) -> str | None:
        topics: set[str] = set()
        threshold, wanted = self._threshold, self._topics
        for article in story.articles:
            for topic, score in article.topics.items():
                if score >= threshold:
                    lower = topic.lower()
                    if not wanted or lower in wanted:
                        topics.add(lower)
        if not topics:
            return None
        return min(topics, key=lambda topic: topic_sort_key(topic, self._order))


def _newest_first(story: Story) -> tuple[float, int]:
    return (-as_utc(story.lead.published_at).timestamp(), story.lead.id)


def group_stories(stories: Iterable[Story], sub: Subscription) -> tuple[DigestSection, ...]:
    """Country → topic grouping with the per-country cap; each story appears once."""
    by_country: dict[str, dict[str | None, list[Story]]] = defaultdict(lambda: defaultdict(list))
    place = _StoryPlace(sub)
    for story in stories:
        country = place.country(story)
        if country is None:
            continue
        by_country[country][place.topic(story)].append(story)

    def topic_position(topic: str | None) -> tuple[int, tuple[int, str]]:
        if topic is None:
            return (1, (0, ""))
        return (0, topic_sort_key(topic, sub.topic_order))

    sections: list[tuple[int, DigestSection]] = []
    cap = sub.per_country_cap
    for country, groups in by_country.items():
        ordered = [
            (topic, sorted(groups[topic], key=_newest_first))
            for topic in sorted(groups, key=topic_position)
        ]
        shown: list[TopicGroup] = []
        left_out: list[Story] = []
        room = cap if cap > 0 else None
        for topic, topic_stories in ordered:
            if room is None:
                shown.append((topic, tuple(topic_stories)))
                continue
            kept, rest = topic_stories[:room], topic_stories[room:]
            room -= len(kept)
            if kept:
                shown.append((topic, tuple(kept)))
            left_out.extend(rest)
        total = sum(len(topic_stories) for _, topic_stories in ordered)
        sections.append(
            (
                total,
                DigestSection(
                    country=country,
                    topic_groups=tuple(shown),
                    more_count=len(left_out),
                    more_stories=tuple(left_out),
                ),
            )
        )
    sections.sort(key=lambda item: (-item[0], item[1].country))
    return tuple(section for _, section in sections)


def compose_digest(
    articles: Iterable[DigestArticle],
    sub: Subscription,
    since: datetime | None,
    already_sent: Collection[int],
    *,
    similarity: float = DEFAULT_SIMILARITY,
    stories: StoryCache | None = None,
) -> Digest:
    """select → merge the same story → group by country and topic → cap.

    Countries come in order of how many stories they have (then by code); topics in the
    product's topic order (agreements first; untagged stories last); newest first within
    a topic. A story sits under its best-scoring subscribed country and its first
    subscribed topic, once per digest. `stories` serves callers that compose the digests
    of many subscribers from one window (see digests.cluster.StoryCache)."""
    selected = select_articles(articles, sub, since, already_sent)
    sections = group_stories(cluster_stories(selected, similarity, cache=stories), sub)
    article_ids = frozenset(
        article_id
        for section in sections
        for story in section.stories
        for article_id in story.article_ids
    )
    return Digest(sections=sections, article_ids=article_ids)
