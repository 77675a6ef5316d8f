from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tagging import Tagger
from tests.ingest.feed_server import FeedServer


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
