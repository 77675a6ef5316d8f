"""Which stored articles a subscriber should get."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from digests.model import DigestArticle, Subscription


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one (as SQLite returns them) is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def subscribed_countries(
    countries: Mapping[str, float], sub: Subscription
) -> list[tuple[str, float]]:
    """Subscribed countries scoring at least the threshold, best score first."""
    wanted = {code.upper() for code in sub.countries}
    matches = [
        (code.upper(), score)
        for code, score in countries.items()
        if code.upper() in wanted and score >= sub.threshold
    ]
    return sorted(matches, key=lambda item: (-item[1], item[0]))


def subscribed_topics(topics: Mapping[str, float], sub: Subscription) -> list[str]:
    """Topics scoring at least the threshold that the subscriber follows, in the
    product's topic order (unknown topic ids last, alphabetically)."""
    wanted = {topic.lower() for topic in sub.topics}
    matches = {
        topic.lower()
        for topic, score in topics.items()
        if score >= sub.threshold and (not wanted or topic.lower() in wanted)
    }
    return sorted(matches, key=lambda topic: topic_sort_key(topic, sub.topic_order))


def topic_sort_key(topic: str, order: Sequence[str]) -> tuple[int, str]:
    try:
        return (order.index(topic), "")
    except ValueError:
        return (len(order), topic)


def passes_filters(article: DigestArticle, sub: Subscription) -> bool:
    """The chat's keyword and region filters (see `Subscription`)."""
    if sub.regions and not any(
        score >= sub.threshold and code in sub.regions for code, score in article.regions.items()
    ):
        return False
    if sub.include_words or sub.exclude_words:
        lemmas = set(article.search_lemmas.split())
        if sub.include_words and lemmas.isdisjoint(sub.include_words):
            return False
        if not lemmas.isdisjoint(sub.exclude_words):
            return False
    return True


def subscription_matcher(sub: Subscription) -> Callable[[DigestArticle], bool]:
    """Whether an article matches `sub`: a subscribed country (and, when the subscriber
    picked topics, a followed topic) scoring at least the threshold, and the filters
    passed. The subscription's sets are worked out once for all the articles asked about."""
    countries = frozenset(code.upper() for code in sub.countries)
    topics = frozenset(topic.lower() for topic in sub.topics)
    threshold = sub.threshold
    filtered = bool(sub.regions or sub.include_words or sub.exclude_words)

    def matches(article: DigestArticle) -> bool:
        if not any(
            score >= threshold and code.upper() in countries
            for code, score in article.countries.items()
        ):
            return False
        if topics and not any(
            score >= threshold and topic.lower() in topics
            for topic, score in article.topics.items()
        ):
            return False
        return not filtered or passes_filters(article, sub)

    return matches


def select_articles(
    articles: Iterable[DigestArticle],
    sub: Subscription,
    since: datetime | None,
    already_sent: Collection[int],
) -> list[DigestArticle]:
    """Articles first seen after `since` (None: any time), never sent to this chat, about
    at least one subscribed country and, when the subscriber picked topics, at least one of
    them, both with a score of at least `sub.threshold`. Newest first; each id once."""
    cutoff = as_utc(since) if since is not None else None
    sent = already_sent if isinstance(already_sent, set | frozenset) else set(already_sent)
    matches = subscription_matcher(sub)
    chosen: dict[int, DigestArticle] = {}
    for article in articles:
        if article.id in sent or article.id in chosen:
            continue
        if cutoff is not None and as_utc(article.first_seen_at) <= cutoff:
            continue
        if matches(article):
            chosen[article.id] = article
    return sorted(chosen.values(), key=lambda a: (-as_utc(a.published_at).timestamp(), a.id))
