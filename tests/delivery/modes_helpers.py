"""Articles with region tags and lemmas, and chats with delivery modes and filters."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update

from delivery.labels import digest_labels
from digests.model import Labels
from storage import articles as article_repo
from storage import chats as chat_repo
from storage.models import Article, OutboxMessage
from tagging import lemmatize_for_search
from tests.delivery.helpers import SessionFactory


def labels_for(language: str) -> Labels:
    return digest_labels(language)


async def store_article(
    session_factory: SessionFactory,
    title: str,
    text: str,
    *,
    countries: Mapping[str, float],
    topics: Mapping[str, float],
    first_seen_at: datetime,
    published_at: datetime | None = None,
    regions: Mapping[str, float] | None = None,
    source: str = "БК55",
) -> int:
    """A tagged article with its search lemmas, as ingest stores it."""
    digest = hashlib.sha1(f"{title}|{first_seen_at.isoformat()}".encode()).hexdigest()
    async with session_factory() as session:
        article_id = await article_repo.insert_article(
            session,
            article_repo.NewArticle(
                feed_id=None,
                guid=digest,
                url=f"https://omskinform.ru/news/{digest[:12]}",
                title=title,
                summary=text[:300],
                full_text=text,
                source=source,
                published_at=published_at or first_seen_at - timedelta(minutes=30),
                content_hash=digest[:32],
                search_lemmas=lemmatize_for_search(f"{title} {text}"),
            ),
        )
        assert article_id is not None
        tags = [article_repo.TagValue("country", c, s) for c, s in countries.items()]
        tags += [article_repo.TagValue("topic", t, s) for t, s in topics.items()]
        tags += [article_repo.TagValue("region", r, s) for r, s in (regions or {}).items()]
        await article_repo.save_tags(session, article_id, tags)
        await session.execute(
            update(Article).where(Article.id == article_id).values(fetched_at=first_seen_at)
        )
        await session.commit()
    return article_id


async def set_preferences(
    session_factory: SessionFactory,
    chat_id: int,
    *,
    keywords: Iterable[tuple[bool, str]] = (),
    regions: Iterable[str] = (),
) -> None:
    async with session_factory() as session:
        await chat_repo.set_keywords(
            session,
            chat_id,
            [
                chat_repo.Keyword(lemma=lemmatize_for_search(word), include=include, word=word)
                for include, word in keywords
            ],
        )
        await chat_repo.set_regions(session, chat_id, regions)
        await session.commit()


async def chat_rows(session_factory: SessionFactory, chat_id: int) -> list[OutboxMessage]:
    """The outbox rows of one chat, in the order they were queued."""
    async with session_factory() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == chat_id)
                .order_by(OutboxMessage.id)
            )
        )
