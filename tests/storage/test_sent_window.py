"""What a batch of chats was sent in a pass's window: every article of the window a chat
got, read by chat and time however long the chats' history."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from storage import chats as chat_repo
from storage.db import create_engine, create_session_factory
from storage.models import SentArticle
from tests.delivery.helpers import HEADLINES, SessionFactory, add_article, add_chat

SINCE = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def sent(factory: SessionFactory, chat_id: int, article_id: int, at: datetime) -> None:
    async with factory() as session:
        await session.execute(
            insert(SentArticle), [{"chat_id": chat_id, "article_id": article_id, "sent_at": at}]
        )
        await session.commit()


async def test_every_article_of_the_window_a_chat_got_is_found(
    session_factory: SessionFactory,
) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(session_factory, chat_id)
    old, fresh, late = [
        await add_article(
            session_factory, HEADLINES[index], countries={"UZ": 0.9}, first_seen_at=seen
        )
        for index, seen in enumerate(
            (SINCE - timedelta(days=3), SINCE + timedelta(hours=2), SINCE + timedelta(hours=5))
        )
    ]
    await sent(session_factory, 1, old, SINCE - timedelta(days=3))
    await sent(session_factory, 1, fresh, SINCE + timedelta(hours=2, minutes=1))
    # Recorded by a process whose clock is ten minutes behind the one that stored it.
    await sent(session_factory, 2, late, SINCE + timedelta(hours=4, minutes=50))
    await sent(session_factory, 3, old, SINCE - timedelta(days=3))

    async with session_factory() as session:
        found = await chat_repo.sent_in_window(session, [1, 2, 3], SINCE)

    assert found == {1: {fresh}, 2: {late}}


async def test_the_window_is_read_by_chat_and_time_on_sqlite(
    tmp_path: Path, migrated_template: Path
) -> None:
    database = tmp_path / "plan.db"
    shutil.copy(migrated_template, database)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    statements: list[tuple[str, Any]] = []

    def remember(connection: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "sent_articles" in statement:
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        async with create_session_factory(engine)() as session:
            await chat_repo.sent_in_window(session, list(range(1, 501)), SINCE)
    finally:
        await engine.dispose()
    (statement, parameters) = statements[-1]
    with sqlite3.connect(database) as connection:
        steps = [
            str(row) for row in connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        ]
    # Not one probe of the primary key per chat and article of the window.
    assert any("ix_sent_articles_chat_id_sent_at" in step for step in steps), steps
