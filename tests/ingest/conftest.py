from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_session_factory
from tagging import Tagger
from tests.ingest.feed_server import FeedServer
from tests.support.databases import backends, fresh_database


@pytest.fixture(params=backends())
async def session_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with fresh_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        yield create_session_factory(engine)
        await engine.dispose()


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    loaded = Tagger(0.5)
    # Load dictionaries now, so that no test's timing includes it.
    loaded.tag_many([("Омская область и Узбекистан", "Делегация прибыла в Омск.")])
    return loaded


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as feed_server:
        yield feed_server
