from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

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
