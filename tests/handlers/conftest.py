from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher
from core.settings import Settings
from handlers.middlewares import TokenBucket
from storage.articles import NewArticle, TagValue, insert_article, save_tags
from tagging import lemmatize_for_search
from testing.telegram import BOT_TOKEN, Conversation, MockedSession

ADMIN_ID = 777001


@pytest.fixture
def database_backend() -> str:
    """Handler tests run on SQLite only (the database fixtures are in tests/conftest.py)."""
    return "sqlite"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        bot_token=BOT_TOKEN,
        database_url=database_url,
        admin_ids=frozenset({ADMIN_ID}),
        default_timezone="Asia/Omsk",
        default_digest_time="09:00",
        _env_file=None,
    )


@pytest.fixture
def mocked_session(request: pytest.FixtureRequest) -> Iterator[MockedSession]:
    """Fails the test when Telegram would have rejected a call the test did not expect."""
    session = MockedSession()
    yield session
    if "rejections_expected" not in request.keywords:
        assert session.rejections == []


@pytest.fixture(autouse=True)
def _no_unexpected_errors(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A handler that crashes is answered politely, which would hide it: fail instead."""
    caplog.set_level(logging.ERROR, logger="handlers.errors")
    yield
    if "errors_expected" not in request.keywords:
        failures = [r.getMessage() for r in caplog.records if r.name == "handlers.errors"]
        assert failures == []


@pytest.fixture
async def bot(settings: Settings, mocked_session: MockedSession) -> AsyncIterator[Bot]:
    bot = create_bot(settings, session=mocked_session)
    yield bot
    await bot.session.close()


def generous_bucket() -> TokenBucket:
    return TokenBucket(capacity=1000, rate=1000.0)


@pytest.fixture
def dispatcher(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    return create_dispatcher(
        settings=settings,
        session_factory=session_factory,
        message_bucket=generous_bucket(),
        callback_bucket=generous_bucket(),
    )


ConversationFactory = Callable[..., Conversation]


@pytest.fixture
def conversation(
    dispatcher: Dispatcher, bot: Bot, mocked_session: MockedSession
) -> ConversationFactory:
    def make(chat_id: int = 1001, **options: Any) -> Conversation:
        return Conversation(dispatcher, bot, mocked_session, chat_id, **options)

    return make


@pytest.fixture
def private(conversation: ConversationFactory) -> Conversation:
    return conversation(1001)


@dataclass
class ArticleSeeder:
    session_factory: async_sessionmaker[AsyncSession]
    count: int = 0

    async def add(
        self,
        title: str,
        text: str = "",
        *,
        countries: Mapping[str, float] | None = None,
        topics: Mapping[str, float] | None = None,
        days_ago: float = 1.0,
        source: str = "БК55",
        feed_id: int | None = None,
    ) -> int:
        self.count += 1
        published = datetime.now(UTC) - timedelta(days=days_ago)
        async with self.session_factory() as session:
            article_id = await insert_article(
                session,
                NewArticle(
                    feed_id=feed_id,
                    guid=f"guid-{self.count}",
                    url=f"https://example.ru/news/{self.count}",
                    title=title,
                    summary=text[:300],
                    full_text=text,
                    source=source,
                    published_at=published,
                    content_hash=f"hash-{self.count}",
                    search_lemmas=lemmatize_for_search(f"{title} {text}"),
                ),
            )
            assert article_id is not None
            tags = [TagValue("country", code, score) for code, score in (countries or {}).items()]
            tags += [TagValue("topic", topic, score) for topic, score in (topics or {}).items()]
            await save_tags(session, article_id, tags)
            await session.commit()
        return article_id


@pytest.fixture
def articles(session_factory: async_sessionmaker[AsyncSession]) -> ArticleSeeder:
    return ArticleSeeder(session_factory)


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rejections_expected: the test makes Telegram refuse calls")
    config.addinivalue_line("markers", "errors_expected: the test makes a handler fail")
