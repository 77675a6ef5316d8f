from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor

import pytest
from aiogram import Bot

from core.processes import spawn_pool
from testing.telegram import BotApiEmulator
from tests.delivery.helpers import make_bot


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as api:
        yield api


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    client = make_bot(emulator)
    yield client
    await client.session.close()


@pytest.fixture(scope="session")
def worker_pool() -> Iterator[Executor]:
    """A worker process, as `digestbot run` gives its passes to plan in."""
    pool = spawn_pool(1)
    yield pool
    pool.shutdown(cancel_futures=True)
