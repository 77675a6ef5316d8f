"""Over-long feed titles, feed URLs and article titles against Telegram's message limit,
through the Bot API emulator: what it accepts is what Telegram would deliver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher
from core.settings import Settings
from storage.feeds import MAX_FEED_TITLE_LENGTH, MAX_FEED_URL_LENGTH, list_feeds
from storage.models import Feed
from testing.telegram import (
    DEFAULT_TOKEN,
    MESSAGE_TEXT_LIMIT,
    BotApiEmulator,
    SentMessage,
    utf16_length,
)
from tests.handlers.conftest import ADMIN_ID, ArticleSeeder, generous_bucket

Sessions = async_sessionmaker[AsyncSession]
SENTENCE = "Омская область и Узбекистан подписали соглашение о сотрудничестве в сфере АПК "
HUGE_TITLE = (SENTENCE * 100)[:7000]
HUGE_URL = "https://93.184.216.34/" + "novosti/" * 750


@dataclass
class EmulatedBot:
    api: BotApiEmulator
    bot: Bot
    dispatcher: Dispatcher

    async def _deliver(self, update: dict[str, object]) -> list[SentMessage]:
        since = self.api.marker()
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        return [message for message in self.api.sent_messages if message.seq >= since]

    async def send(self, chat_id: int, text: str) -> list[SentMessage]:
        return await self._deliver(self.api.send_user_message(chat_id, text))

    async def send_document(self, chat_id: int, filename: str, content: bytes) -> list[SentMessage]:
        return await self._deliver(self.api.send_document(chat_id, filename, content))


@pytest.fixture
async def emulated(settings: Settings, session_factory: Sessions) -> AsyncIterator[EmulatedBot]:
    async with BotApiEmulator(rate_limits=False) as api:
        bot = create_bot(
            settings.model_copy(
                update={"bot_token": SecretStr(DEFAULT_TOKEN), "telegram_api_url": api.base_url}
            )
        )
        dispatcher = create_dispatcher(
            settings=settings,
            session_factory=session_factory,
            message_bucket=generous_bucket(),
            callback_bucket=generous_bucket(),
        )
        try:
            yield EmulatedBot(api, bot, dispatcher)
        finally:
            await bot.session.close()
        assert api.rejected == []


def _fits(messages: list[SentMessage]) -> bool:
    return all(utf16_length(message.plain_text or "") <= MESSAGE_TEXT_LIMIT for message in messages)


def _opml(*outlines: tuple[str, str]) -> bytes:
    body = "".join(f'<outline text="{text}" xmlUrl="{url}"/>' for text, url in outlines)
    return (
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0">'
        f"<head><title>Ленты</title></head><body>{body}</body></opml>"
    ).encode()


async def test_feeds_arrives_after_an_opml_with_a_huge_title_and_a_huge_url(
    emulated: EmulatedBot, session_factory: Sessions
) -> None:
    opml = _opml((HUGE_TITLE, "http://93.184.216.34/rss"), ("Слишком длинный адрес", HUGE_URL))
    assert len(HUGE_TITLE) == 7000 and len(HUGE_URL) > 6000

    (report,) = await emulated.send_document(ADMIN_ID, "ленты.opml", opml)
    text = report.plain_text or ""
    assert text.startswith("Список лент загружен: новых — 1, уже были — 0, отклонено — 0")
    refusals = text.split("\n")[1:]
    assert refusals[0] == "Не добавлены:"
    (reason,) = refusals[1:]
    assert reason.startswith("• «https://93.184.216.34/novosti/")
    assert reason.endswith("»: адрес длиннее 2048 символов")
    assert len(reason) < 120

    async with session_factory() as session:
        (stored,) = await list_feeds(session)
    assert stored.url == "http://93.184.216.34/rss"
    assert stored.title is not None and len(stored.title) <= MAX_FEED_TITLE_LENGTH
    assert HUGE_TITLE.startswith(stored.title.removesuffix("…"))

    listing = await emulated.send(ADMIN_ID, "/feeds")
    assert listing and _fits(listing)
    assert [message.chat_id for message in listing] == [ADMIN_ID]
    assert (listing[0].plain_text or "").startswith("1 лента")
    assert f"#1 {stored.title}" in (listing[0].plain_text or "")


async def test_feeds_shortens_rows_stored_before_the_caps(
    emulated: EmulatedBot, session_factory: Sessions
) -> None:
    async with session_factory() as session:
        await session.execute(
            insert(Feed),
            [
                {"url": HUGE_URL + str(number), "title": f"Лента {number} " + HUGE_TITLE}
                for number in range(3)
            ]
            + [{"url": "https://93.184.216.35/rss", "title": "БК55"}],
        )
        await session.commit()

    listing = await emulated.send(ADMIN_ID, "/feeds")
    assert _fits(listing)
    texts = [message.plain_text or "" for message in listing]
    assert all(text.startswith("4 ленты") for text in texts)
    for number in range(1, 5):
        assert sum(f"#{number} " in text for text in texts) == 1
    assert all("…" in text for text in texts[:3])
    assert "#4 БК55\nhttps://93.184.216.35/rss" in texts[-1]


async def test_an_article_title_of_ten_thousand_characters_is_listed_shortened(
    emulated: EmulatedBot, articles: ArticleSeeder
) -> None:
    giant = (SENTENCE * 200)[:10_000]
    await articles.add(giant, countries={"UZ": 0.9}, topics={"agreements": 0.9})
    await articles.add("Омские вузы примут студентов из Самарканда", countries={"UZ": 0.9})

    for command in ("/agreements Узбекистан", "/search соглашение", "/news uz 30"):
        replies = await emulated.send(1001, command)
        assert replies and _fits(replies), command
        text = replies[0].plain_text or ""
        assert "• Омская область и Узбекистан подписали" in text and "…" in text, command
    # The huge item is cut, not allowed to push its neighbour off a page that has no next.
    assert "• Омские вузы примут студентов из Самарканда" in text
    assert "ещё" not in text


async def test_addfeed_refuses_an_over_long_address_in_one_line(
    emulated: EmulatedBot, session_factory: Sessions
) -> None:
    url = "https://93.184.216.34/rss?" + "раздел=омск&" * 400
    (reply,) = await emulated.send(ADMIN_ID, f"/addfeed {url}")
    assert reply.plain_text == (
        f"Адрес слишком длинный (длина {len(url)}), можно не больше {MAX_FEED_URL_LENGTH} символов."
    )
    async with session_factory() as session:
        assert await list_feeds(session) == []
