"""The real `digestbot run` gives articles stored before facts existed their facts in the
background, while it answers chats."""

from __future__ import annotations

import sqlite3

import pytest

from storage.db import upgrade_database
from testing.telegram import BotApiEmulator
from tests.e2e.conftest import BotProcessFactory

pytestmark = pytest.mark.e2e

USER = 557001
OLD_ARTICLES = 450  # more than two batches

TEXT = (
    "Омская область и Бухарская область подписали соглашение о сотрудничестве в сфере "
    "образования. Экспорт области в Узбекистан за год вырос на {percent} %."
)


async def test_the_running_bot_backfills_facts_and_keeps_answering(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process()
    await upgrade_database(f"sqlite+aiosqlite:///{process.database}")
    with sqlite3.connect(process.database) as connection:
        for number in range(OLD_ARTICLES):
            article_id = connection.execute(
                "INSERT INTO articles (guid, url, title, summary, full_text, source, "
                "published_at, fetched_at, content_hash, search_lemmas) "
                "VALUES (?, ?, 'Омск и Бухара', '', ?, 'Архив', '2024-04-02 09:00:00.000000', "
                "'2024-04-02 09:00:00.000000', ?, '')",
                (
                    f"old{number}",
                    f"https://archive.example/{number}",
                    TEXT.format(percent=number % 90 + 1),
                    f"old-hash-{number}",
                ),
            ).lastrowid
            connection.execute(
                "INSERT INTO article_tags (article_id, kind, value, score) "
                "VALUES (?, 'country', 'UZ', 0.9)",
                (article_id,),
            )

    process.start()
    emulator.send_user_message(USER, "/help")
    (reply,) = await emulator.wait_for_reply(USER, 1, timeout=60)
    assert (reply.plain_text or "").startswith("Что я умею")
    await process.wait_for(
        lambda: (
            process.query(
                "SELECT count(*) FROM articles WHERE guid LIKE 'old%' AND facts_version IS NULL"
            )
            == [(0,)]
        ),
        limit=120,
        what="the backfill of the stored articles",
    )
    # One agreement reported by every old article (one week, one subject) and one figure
    # per distinct rate.
    sources = process.query(
        """
        SELECT facts.kind, count(DISTINCT facts.id), count(*) FROM facts
        JOIN fact_sources ON fact_sources.fact_id = facts.id
        JOIN articles ON articles.id = fact_sources.article_id
        WHERE articles.guid LIKE 'old%' GROUP BY facts.kind ORDER BY facts.kind
        """
    )
    assert sources == [("agreement", 1, OLD_ARTICLES), ("figure", 90, OLD_ARTICLES)]
    code, _seconds = await process.stop()
    assert code == 0
    assert "Traceback" not in process.log
