"""The articles a digest is chosen from: loaded once, in the form `digests` works on."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from digests.model import DigestArticle
from digests.select import as_utc
from storage.articles import StoredArticle, find_articles

logger = logging.getLogger(__name__)

MAX_WINDOW_ARTICLES = 50_000


def to_digest_article(stored: StoredArticle) -> DigestArticle:
    return DigestArticle(
        id=stored.id,
        title=stored.title,
        url=stored.url,
        source=stored.source,
        published_at=stored.published_at,
        first_seen_at=stored.fetched_at,
        countries=stored.countries,
        topics=stored.topics,
        summary=stored.summary,
        regions=stored.regions,
        search_lemmas=stored.search_lemmas,
    )


async def load_window(
    session: AsyncSession, *, countries: Collection[str], since: datetime, threshold: float
) -> list[DigestArticle]:
    """Articles first seen after `since` about any of `countries`, newest first."""
    if not countries:
        return []
    stored = await find_articles(
        session,
        countries=countries,
        fetched_since=since,
        threshold=threshold,
        limit=MAX_WINDOW_ARTICLES,
    )
    if len(stored) >= MAX_WINDOW_ARTICLES:
        logger.warning("digest window holds over %d articles; the oldest are left out", len(stored))
    return [to_digest_article(article) for article in stored]


class PassWindow:
    """The window of one pass over many batches of chats: a batch whose countries and
    start the last load covers is given its share of it instead of a load of its own.

    A load of a few thousand articles holds the event loop (and, on SQLite, the database)
    for a tenth of a second or more, and every batch of a morning's pass asks for nearly
    the same window. Articles stored while the pass runs are left to the chats' next
    digests, which reach back to them (delivery.planner.WINDOW_OVERLAP)."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._loaded: tuple[frozenset[str], datetime, list[DigestArticle]] | None = None
        self.loads = 0

    async def articles(
        self, session: AsyncSession, *, countries: Collection[str], since: datetime
    ) -> list[DigestArticle]:
        """What `load_window` would give for `countries` and `since`."""
        wanted = frozenset(countries)
        if self._loaded is not None:
            loaded_countries, loaded_since, loaded = self._loaded
            # A load cut at MAX_WINDOW_ARTICLES may lack articles of a narrower request.
            if (
                wanted <= loaded_countries
                and as_utc(since) >= as_utc(loaded_since)
                and len(loaded) < MAX_WINDOW_ARTICLES
            ):
                return _share(loaded, wanted, since, self._threshold)
        articles = await load_window(
            session, countries=wanted, since=since, threshold=self._threshold
        )
        self.loads += 1
        self._loaded = (wanted, since, articles)
        return articles


def _share(
    articles: list[DigestArticle], countries: frozenset[str], since: datetime, threshold: float
) -> list[DigestArticle]:
    """The articles of `load_window(countries, since)` among those of a wider load."""
    since_utc = as_utc(since)
    return [
        article
        for article in articles
        if as_utc(article.first_seen_at) > since_utc
        and any(
            score >= threshold and code in countries for code, score in article.countries.items()
        )
    ]
