"""The batch article queries the pipeline adds to storage.articles."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import articles as article_repo
from storage import feeds as feed_repo
from storage.articles import NewArticle, TagValue
from storage.models import ArticleTag

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _article(number: int) -> NewArticle:
    url = f"https://omsk-news.example/news/{number}"
    return NewArticle(
        feed_id=None,
        guid=url,
        url=url,
        title=f"Новость номер {number}",
        summary="Краткое содержание.",
        full_text="Полный текст новости.",
        source="Омские новости",
        published_at=NOW,
        content_hash=f"{number:064d}",
        search_lemmas="новость номер",
    )


async def test_insert_articles_skips_stored_urls_and_tags_in_one_go(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first = await article_repo.insert_articles(session, [_article(1), _article(2)])
        await session.commit()
    assert set(first) == {_article(1).url, _article(2).url}

    async with session_factory() as session:
        second = await article_repo.insert_articles(session, [_article(2), _article(3)])
        await article_repo.save_tags_of_many(
            session,
            [
                (second[_article(3).url], TagValue("country", "UZ", 0.9)),
                (second[_article(3).url], TagValue("topic", "trade", 0.7)),
                (first[_article(1).url], TagValue("country", "KZ", 0.8)),
            ],
        )
        await session.commit()
        tags = set(await session.execute(select(ArticleTag.article_id, ArticleTag.value)))

    assert list(second) == [_article(3).url]
    assert len(set(first.values()) | set(second.values())) == 3
    assert tags == {
        (second[_article(3).url], "UZ"),
        (second[_article(3).url], "trade"),
        (first[_article(1).url], "KZ"),
    }
    async with session_factory() as session:
        assert await article_repo.insert_articles(session, []) == {}


async def test_known_urls_and_hashes_in_one_query(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await article_repo.insert_articles(session, [_article(1), _article(2)])
        await session.commit()
        urls, hashes = await article_repo.known_urls_and_hashes(
            session,
            [_article(1).url, "https://omsk-news.example/other"],
            [_article(2).content_hash, "f" * 64],
        )
    assert urls == {_article(1).url}
    assert hashes == {_article(2).content_hash}


async def test_record_success_keeps_a_title_already_set(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        named, _ = await feed_repo.add_feed(session, "https://a.example/rss", title="БК55")
        unnamed, _ = await feed_repo.add_feed(session, "https://b.example/rss")
        for feed in (named, unnamed):
            await feed_repo.record_success(
                session,
                feed.id,
                now=NOW,
                next_check_at=NOW,
                new_items=3,
                etag='"e"',
                last_modified=None,
                body_hash="0" * 64,
                title="Бизнес-курс: новости Омска",
            )
        await session.commit()
        titles = [(await feed_repo.get_feed(session, feed.id)) for feed in (named, unnamed)]
    assert [record.title for record in titles if record] == ["БК55", "Бизнес-курс: новости Омска"]
    assert all(record and record.total_items == 3 for record in titles)
