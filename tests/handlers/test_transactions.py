"""Handlers do not keep the database locked while they wait on Telegram."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod

from testing.telegram import Conversation, MockedSession, button, texts
from tests.handlers.conftest import ArticleSeeder


def write_locked(database_url: str) -> bool:
    """Whether another connection holds SQLite's write lock right now (no waiting)."""
    connection = sqlite3.connect(database_url.split("///", 1)[1], timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    else:
        connection.rollback()
        return False
    finally:
        connection.close()


@pytest.fixture
def lock_probe(
    mocked_session: MockedSession, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, bool]]:
    """(method, database write-locked?) for every call the bot makes to Telegram."""
    seen: list[tuple[str, bool]] = []
    make_request = mocked_session.make_request

    async def probing(bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:  # noqa: ASYNC109
        seen.append((type(method).__name__, write_locked(database_url)))
        return await make_request(bot, method, timeout)

    monkeypatch.setattr(mocked_session, "make_request", probing)
    return seen


async def test_no_telegram_call_is_made_while_holding_the_write_lock(
    private: Conversation, articles: ArticleSeeder, lock_probe: list[tuple[str, bool]]
) -> None:
    await articles.add(
        "Омск и Ташкент подписали соглашение о поставках зерна",
        countries={"UZ": 0.9},
        topics={"agreements": 0.9},
    )
    sent = await private.send("/start")
    for label in ("Узбекистан", "Далее", "Далее", "08:00", "Омск"):
        sent = await private.press(button(sent, label))
    assert any("Подписка оформлена" in text for text in texts(sent))
    sent = await private.send("/agreements Узбекистан")

    assert any("Ташкент" in text for text in texts(sent))
    methods = {method for method, _ in lock_probe}
    assert {SendMessage.__name__, EditMessageText.__name__} <= methods
    assert [method for method, locked in lock_probe if locked] == []
