from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import articles as article_repo
from storage import chats as chat_repo
from storage import feeds as feed_repo
from storage.db import (
    current_revision,
    head_revision,
    upgrade_database,
)

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def _article(
    url: str, title: str, lemmas: str, published: datetime = NOW
) -> article_repo.NewArticle:
    return article_repo.NewArticle(
        feed_id=None,
        guid=url,
        url=url,
        title=title,
        summary=title,
        full_text=title,
        source="Омский вестник",
        published_at=published,
        content_hash=url[-16:].rjust(16, "0"),
        search_lemmas=lemmas,
    )


async def test_migrations_create_schema_with_wal_and_are_idempotent(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "digest.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_database(url)
    await upgrade_database(url)
    assert await current_revision(url) == head_revision() is not None
    connection = sqlite3.connect(database)
    tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    assert {"feeds", "articles", "article_tags", "chats", "outbox", "articles_fts"} <= tables
    assert connection.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine as create_sync_engine

    from storage.db import upgrade_database_sync
    from storage.models import Base

    database = tmp_path / "digest.db"
    upgrade_database_sync(f"sqlite+aiosqlite:///{database}")

    def ours(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        # The full-text index is a virtual table that the migration makes by hand.
        return not (type_ == "table" and name is not None and name.startswith("articles_fts"))

    engine = create_sync_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": ours, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


async def test_engine_turns_on_foreign_keys(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await chat_repo.set_countries(session, 999, ["UZ"])
            await session.flush()


async def test_feed_health_round_trip(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        feed, created = await feed_repo.add_feed(session, "https://example.org/rss")
        again, created_again = await feed_repo.add_feed(session, "https://example.org/rss")
        assert created and not created_again and again.id == feed.id
        await feed_repo.record_failure(
            session,
            feed.id,
            now=NOW,
            error="timeout",
            next_check_at=NOW + timedelta(minutes=30),
            deactivate=False,
        )
        await feed_repo.record_failure(
            session,
            feed.id,
            now=NOW,
            error="HTTP 500",
            next_check_at=NOW + timedelta(hours=1),
            deactivate=True,
        )
        await session.commit()
    async with session_factory() as session:
        stored = await feed_repo.get_feed(session, feed.id)
        assert stored is not None
        assert stored.consecutive_failures == 2
        assert stored.last_error == "HTTP 500"
        assert not stored.active
        assert stored.next_check_at == NOW + timedelta(hours=1)
        assert await feed_repo.due_feeds(session, NOW + timedelta(days=1)) == []
        reactivated, _ = await feed_repo.add_feed(session, "https://example.org/rss")
        assert reactivated.active
        await feed_repo.record_success(
            session,
            feed.id,
            now=NOW,
            next_check_at=NOW,
            new_items=3,
            etag='"v1"',
            last_modified=None,
            body_hash="abc",
        )
        await session.commit()
        healthy = await feed_repo.get_feed(session, feed.id)
        assert healthy is not None
        assert (healthy.consecutive_failures, healthy.total_items, healthy.etag) == (0, 3, '"v1"')


async def test_articles_are_unique_by_url_and_found_by_tags(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first = await article_repo.insert_article(
            session, _article("https://a.example/1", "Соглашение", "соглашение узбекистан")
        )
        duplicate = await article_repo.insert_article(
            session, _article("https://a.example/1", "Соглашение", "соглашение")
        )
        second = await article_repo.insert_article(
            session,
            _article("https://a.example/2", "Торговля", "торговля", NOW - timedelta(days=3)),
        )
        assert first is not None and second is not None and duplicate is None
        await article_repo.save_tags(
            session,
            first,
            [
                article_repo.TagValue("country", "UZ", 0.9),
                article_repo.TagValue("topic", "agreements", 0.8),
            ],
        )
        await article_repo.save_tags(session, second, [article_repo.TagValue("country", "UZ", 0.3)])
        await session.commit()
    async with session_factory() as session:
        found = await article_repo.find_articles(session, countries=["UZ"], threshold=0.5)
        assert [a.id for a in found] == [first]
        assert found[0].countries == {"UZ": 0.9}
        assert found[0].topics == {"agreements": 0.8}
        everything = await article_repo.find_articles(session, countries=["UZ"], threshold=0.2)
        assert [a.id for a in everything] == [first, second]
        agreements = await article_repo.find_articles(session, topics=["agreements"])
        assert [a.id for a in agreements] == [first]
        assert await article_repo.count_articles(session, countries=["TJ"]) == 0
        assert await article_repo.tag_counts(session) == {("UZ", "agreements"): 1}


async def test_search_matches_every_lemma(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        hit = await article_repo.insert_article(
            session, _article("https://a.example/s1", "x", "омский область подписать соглашение")
        )
        await article_repo.insert_article(
            session, _article("https://a.example/s2", "y", "соглашение хоккей")
        )
        await session.commit()
    async with session_factory() as session:
        found = await article_repo.search_articles(session, ["соглашение", "омский"])
        assert [a.id for a in found] == [hit]
        assert await article_repo.search_articles(session, ["таможня"]) == []
        assert await article_repo.search_articles(session, ['"; drop']) == []


async def test_chat_preferences_sent_articles_and_migration(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        chat, created = await chat_repo.ensure_chat(
            session,
            -100,
            type="group",
            title="Экспортёры",
            language="ru",
            timezone="Asia/Omsk",
            digest_time="09:00",
        )
        assert created and chat.countries == frozenset()
        await chat_repo.set_countries(session, -100, ["UZ", "TJ"])
        await chat_repo.set_topics(session, -100, ["agreements"])
        await chat_repo.update_chat(session, -100, subscribed=True, next_digest_at=NOW)
        article = await article_repo.insert_article(
            session, _article("https://a.example/m", "z", "z")
        )
        assert article is not None
        await chat_repo.record_sent(session, -100, [article, article])
        await session.commit()
    async with session_factory() as session:
        due = await chat_repo.due_chats(session, NOW)
        assert [c.id for c in due] == [-100]
        assert due[0].countries == frozenset({"UZ", "TJ"})
        await chat_repo.migrate_chat(session, -100, -1000100)
        await session.commit()
    async with session_factory() as session:
        assert await chat_repo.get_chat(session, -100) is None
        moved = await chat_repo.get_chat(session, -1000100)
        assert moved is not None and moved.type == "supergroup"
        assert moved.countries == frozenset({"UZ", "TJ"})
        assert await chat_repo.sent_article_ids(session, -1000100) == {article}
        with pytest.raises(ValueError):
            await chat_repo.update_chat(session, -1000100, id=5)


async def test_one_chat_is_read_with_every_choice_as_the_batch_reader_reads_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await chat_repo.ensure_chat(
            session,
            42,
            type="supergroup",
            title="Экспортёры",
            language="ru",
            timezone="Asia/Omsk",
            digest_time="09:00",
        )
        await chat_repo.update_chat(session, 42, subscribed=True, daily=False, weekly=True)
        await chat_repo.set_countries(session, 42, ["UZ", "KZ"])
        await chat_repo.set_topics(session, 42, ["trade"])
        await chat_repo.set_instant_topics(session, 42, ["agreements"])
        await chat_repo.set_keywords(
            session,
            42,
            [
                chat_repo.Keyword("хоккей", False, "хоккей"),
                chat_repo.Keyword("зерно", True, "зерна"),
                chat_repo.Keyword("мука", True, "мука"),
            ],
        )
        await chat_repo.set_regions(session, 42, ["RU-OMS"])
        await chat_repo.bind_country(session, 42, "UZ", 7)
        await chat_repo.bind_country(session, 42, "KZ", 9)
        await session.commit()
    async with session_factory() as session:
        one = await chat_repo.get_chat(session, 42)
        (batch,) = await chat_repo.list_chats(session)
    assert one == batch
    assert one is not None and not one.daily and one.weekly
    assert one.instant_topics == {"agreements"} and one.regions == {"RU-OMS"}
    assert one.include_lemmas == {"зерно", "мука"} and one.exclude_lemmas == {"хоккей"}
    assert one.bindings == (("KZ", 9), ("UZ", 7))
