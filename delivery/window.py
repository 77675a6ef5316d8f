"""The articles a digest is chosen from: loaded once, in the form `digests` works on."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from digests.model import DigestArticle
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
