from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.feeds import add_feed, list_feeds, record_failure, record_success
from testing.telegram import Conversation, calls, texts
from tests.handlers.conftest import ADMIN_ID, ArticleSeeder, ConversationFactory

Sessions = async_sessionmaker[AsyncSession]
REFUSAL = "Эта команда доступна только администраторам бота."
OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Ленты</title></head><body>
  <outline text="Omsk news" xmlUrl="http://93.184.216.34/rss"/>
  <outline text="Regional"><outline text="Portal" xmlUrl="https://93.184.216.35/feed.xml"/></outline>
  <outline text="Local" xmlUrl="http://127.0.0.1:8080/rss"/>
  <outline text="Private" xmlUrl="http://192.168.1.10/rss"/>
</body></opml>""".encode()


@pytest.fixture
def admin(conversation: ConversationFactory) -> Conversation:
    return conversation(ADMIN_ID)


async def _feeds(session_factory: Sessions) -> list[str]:
    async with session_factory() as session:
        return [feed.url for feed in await list_feeds(session)]


async def test_admin_commands_refuse_everyone_else(private: Conversation) -> None:
    for command in ("/feeds", "/addfeed http://93.184.216.34/rss", "/delfeed 1", "/export_opml"):
        assert texts(await private.send(command)) == [REFUSAL], command
    assert texts(await private.send_document("feeds.opml", OPML)) == [REFUSAL]


async def test_feeds_shows_health(
    admin: Conversation, session_factory: Sessions, articles: ArticleSeeder
) -> None:
    now = datetime.now(UTC)
    async with session_factory() as session:
        healthy, _ = await add_feed(session, "https://bk55.ru/rss", title="БК55")
        failing, _ = await add_feed(session, "https://broken.example/rss", title="Сломанная")
        silent, _ = await add_feed(session, "https://quiet.example/rss", title="Тихая <лента>")
        await record_success(
            session,
            healthy.id,
            now=now,
            next_check_at=now,
            new_items=3,
            etag=None,
            last_modified=None,
            body_hash=None,
        )
        await record_failure(
            session,
            failing.id,
            now=now,
            error="HTTP 503 Service Unavailable",
            next_check_at=now,
            deactivate=False,
        )
        await session.commit()
    await articles.add("Новость БК55", countries={"UZ": 0.9}, feed_id=healthy.id)
    await articles.add("Ещё новость БК55", countries={"UZ": 0.9}, feed_id=healthy.id)
    async with session_factory() as session:
        from sqlalchemy import update

        from storage.models import Feed

        await session.execute(
            update(Feed).where(Feed.id == silent.id).values(created_at=now - timedelta(days=5))
        )
        await session.commit()

    (text,) = texts(await admin.send("/feeds"))
    assert text.startswith("3 ленты")
    bk55, broken, quiet = text.split("\n\n")[1:]
    assert bk55.startswith("✅ #1 БК55") and "новых за 7 дней: 2" in bk55
    assert broken.startswith("❌ #2 Сломанная")
    assert "последняя ошибка:" in broken and "HTTP 503" in broken and "1 ошибка подряд" in broken
    assert quiet.startswith("⚠️ #3 Тихая <лента>") and "молчит 5 дней" in quiet
    assert "последний успех: ни разу" in quiet


async def test_addfeed_refuses_private_and_non_http_addresses(
    admin: Conversation, session_factory: Sessions
) -> None:
    for url in (
        "http://127.0.0.1:8080/rss",
        "http://localhost/rss",
        "http://10.1.2.3/rss",
        "http://[::1]/rss",
        "ftp://93.184.216.34/rss",
        "javascript:alert(1)",
    ):
        text = texts(await admin.send(f"/addfeed {url}"))[0]
        assert "не публичный адрес http(s)" in text, url
    assert "Пришлите адрес ленты" in texts(await admin.send("/addfeed"))[0]
    assert await _feeds(session_factory) == []


async def test_delfeed(admin: Conversation, session_factory: Sessions) -> None:
    async with session_factory() as session:
        feed, _ = await add_feed(session, "https://bk55.ru/rss")
        await session.commit()
    assert "нет" in texts(await admin.send("/delfeed 99"))[0]
    assert "номер ленты" in texts(await admin.send("/delfeed abc"))[0]
    assert texts(await admin.send(f"/delfeed {feed.id}"))[0].startswith(f"Лента #{feed.id} удалена")
    assert await _feeds(session_factory) == []


async def test_opml_import_takes_public_feeds_only(
    admin: Conversation, session_factory: Sessions
) -> None:
    (text,) = texts(await admin.send_document("feeds.opml", OPML))
    assert text == (
        "Список лент загружен: новых — 2, уже были — 0, отклонено — 2 "
        "(не публичные адреса http(s))."
    )
    assert sorted(await _feeds(session_factory)) == [
        "http://93.184.216.34/rss",
        "https://93.184.216.35/feed.xml",
    ]
    again = texts(await admin.send_document("feeds.opml", OPML))[0]
    assert "новых — 0, уже были — 2" in again


async def test_opml_import_rejects_broken_files(admin: Conversation) -> None:
    broken = await admin.send_document("feeds.opml", b"<opml><body><outline")
    assert texts(broken) == ["Не получается прочитать этот файл как список лент OPML."]
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml/>'
    assert texts(await admin.send_document("feeds.opml", evil)) == texts(broken)


async def test_export_opml_sends_a_document(admin: Conversation, session_factory: Sessions) -> None:
    async with session_factory() as session:
        await add_feed(session, "https://bk55.ru/rss", title="БК55")
        await session.commit()
    (document,) = calls(await admin.send("/export_opml"), SendDocument)
    assert isinstance(document.document, BufferedInputFile)
    assert document.document.filename == "feeds.opml"
    assert b'xmlUrl="https://bk55.ru/rss"' in document.document.data
    assert document.caption == "1 лента"


async def test_opml_import_names_the_outlines_it_left_out(
    admin: Conversation, session_factory: Sessions
) -> None:
    scripts = "".join(
        f'<outline text="Скрипт {n}" xmlUrl="javascript:alert({n})\u202e"/>' for n in range(7)
    )
    opml = (
        '<opml version="2.0"><body><outline text="БК55" xmlUrl="http://93.184.216.34/rss"/>'
        f"{scripts}</body></opml>"
    ).encode()
    (text,) = texts(await admin.send_document("feeds.opml", opml))
    lines = text.split("\n")
    assert lines[0].startswith("Список лент загружен: новых — 1, уже были — 0, отклонено — 0")
    assert lines[1] == "Не добавлены:"
    assert lines[2:7] == [f"• «javascript:alert({n})»: не адрес http(s)" for n in range(5)]
    assert lines[7:] == ["и ещё 2"]
    assert await _feeds(session_factory) == ["http://93.184.216.34/rss"]
