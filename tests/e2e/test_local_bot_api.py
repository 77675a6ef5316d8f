"""The bot against a self-hosted Bot API server started with --local: a feed list sent in a
chat is read from the path the server gives, since such a server serves no file URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testing.telegram import BotApiEmulator
from tests.e2e.conftest import E2E_ADMIN_ID, E2E_TOKEN, BotProcessFactory

pytestmark = pytest.mark.e2e

OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Ленты партнёров</title></head><body>
  <outline text="Новости Павлодара" xmlUrl="https://pavlodar-news.example/rss"/>
  <outline text="Минские известия" xmlUrl="https://minsk-izvestia.example/feed.xml"/>
</body></opml>""".encode()


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(
        token=E2E_TOKEN, rate_limits=False, local_files=tmp_path / "telegram-bot-api"
    ) as api:
        yield api


async def _import(api: BotApiEmulator) -> str:
    api.send_document(E2E_ADMIN_ID, "ленты.opml", OPML, mime_type="text/x-opml")
    (reply,) = await api.wait_for_reply(E2E_ADMIN_ID, timeout=60)
    return reply.plain_text or ""


async def test_a_feed_list_sent_in_a_chat_is_imported_in_local_mode(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process(TELEGRAM_API_LOCAL="1")
    process.start()

    text = await _import(emulator)

    assert text.startswith("Список лент загружен: новых — 2"), process.log[-3000:]
    urls = {row[0] for row in process.query("SELECT url FROM feeds")}
    assert {"https://pavlodar-news.example/rss", "https://minsk-izvestia.example/feed.xml"} <= urls
    code, _seconds = await process.stop()
    assert code == 0


async def test_without_the_setting_the_admin_is_told_and_the_log_names_the_setting(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process()
    process.start()

    text = await _import(emulator)

    assert text == "Не удалось получить файл от Telegram. Пришлите его ещё раз через минуту."
    assert "started with --local serves no files: set TELEGRAM_API_LOCAL=1" in process.log
    urls = {row[0] for row in process.query("SELECT url FROM feeds")}
    assert "https://pavlodar-news.example/rss" not in urls
    code, _seconds = await process.stop()
    assert code == 0
