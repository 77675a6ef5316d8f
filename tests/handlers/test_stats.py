from __future__ import annotations

import struct

from aiogram.methods import SendChatAction, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile

from digests.chart import HEIGHT, WIDTH
from testing.telegram import Conversation, calls, html_errors, texts, visible_text
from testing.telegram import Sent as SentCall
from tests.handlers.conftest import ArticleSeeder, ConversationFactory
from tests.handlers.helpers import subscribe

RANGE_RU = "Число недель — от 1 до 26, например: /stats 12"


def _photo(sent: list[SentCall]) -> SendPhoto:
    (photo,) = calls(sent, SendPhoto)
    assert isinstance(photo, SendPhoto)
    return photo


def _png_size(photo: SendPhoto) -> tuple[int, int]:
    assert isinstance(photo.photo, BufferedInputFile)
    data = photo.photo.data
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def _seed(articles: ArticleSeeder) -> None:
    for days_ago in (0.1, 8, 15):
        await articles.add("Узбекские партнёры", countries={"UZ": 0.9}, days_ago=days_ago)
    await articles.add("Таджикская делегация", countries={"TJ": 0.8, "UZ": 0.6}, days_ago=3)
    await articles.add("Казахстанский экспорт", countries={"KZ": 0.9}, days_ago=2)
    await articles.add("Слабый тег", countries={"UZ": 0.2, "TJ": 0.3}, days_ago=2)
    # Ten weeks ago: outside the default eight weeks, inside twelve.
    await articles.add("Давнее соглашение", countries={"TJ": 0.9}, days_ago=70)


async def test_stats_sends_a_chart_of_the_chats_countries(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await subscribe(private, "UZ", "TJ")
    await _seed(articles)

    sent = await private.send("/stats")

    assert calls(sent, SendMessage) == []
    assert len(calls(sent, SendChatAction)) == 1
    photo = _photo(sent)
    assert _png_size(photo) == (WIDTH, HEIGHT)
    caption = photo.caption or ""
    assert html_errors(caption) == []
    lines = visible_text(caption).splitlines()
    assert lines[0] == "Статьи по странам по неделям"
    assert lines[1].endswith("(8 недель)")
    assert lines[3:] == ["🇺🇿 Узбекистан — 4", "🇹🇯 Таджикистан — 1"]
    assert "<b>Статьи по странам по неделям</b>" in caption


async def test_stats_takes_a_number_of_weeks(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await subscribe(private, "UZ", "TJ")
    await _seed(articles)

    caption = visible_text(_photo(await private.send("/stats 12")).caption or "")

    assert "(12 недель)" in caption
    assert "🇹🇯 Таджикистан — 2" in caption and "🇺🇿 Узбекистан — 4" in caption


async def test_stats_refuses_a_number_out_of_range(private: Conversation) -> None:
    for command in ("/stats 99", "/stats 0", "/stats -3", "/stats много", "/stats 27"):
        sent = await private.send(command)
        assert calls(sent, SendPhoto) == [], command
        assert texts(sent) == [RANGE_RU], command


async def test_stats_without_articles_says_so_in_text(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await subscribe(private, "MN")
    await articles.add("Казахстанский экспорт", countries={"KZ": 0.9}, days_ago=2)

    sent = await private.send("/stats 3")

    assert calls(sent, SendPhoto) == []
    assert texts(sent) == ["О ваших странах нет статей за последние 3 недели."]


async def test_stats_in_an_unknown_chat_without_articles(private: Conversation) -> None:
    sent = await private.send("/stats 1")

    assert calls(sent, SendPhoto) == []
    assert texts(sent) == ["О странах-партнёрах нет статей за последнюю 1 неделю."]


async def test_stats_in_english_shows_the_countries_with_most_articles(
    conversation: ConversationFactory, articles: ArticleSeeder
) -> None:
    english = conversation(4101, language_code="en")
    await _seed(articles)

    sent = await english.send("/stats")

    caption = visible_text(_photo(sent).caption or "")
    lines = caption.splitlines()
    assert lines[0] == "Articles per country by week"
    assert lines[1].endswith("(8 weeks)")
    assert lines[3:6] == ["🇺🇿 Uzbekistan — 4", "🇰🇿 Kazakhstan — 1", "🇹🇯 Tajikistan — 1"]
    assert lines[-1] == "The countries with the most articles. Yours: /settings"

    refusal = texts(await english.send("/stats 30"))
    assert refusal == ["The number of weeks must be from 1 to 26, for example: /stats 12"]


async def test_stats_works_in_a_group_for_any_member(
    conversation: ConversationFactory, articles: ArticleSeeder
) -> None:
    group = conversation(-100777, chat_type="supergroup", user_id=31337, title="Экспортёры")
    await articles.add("Китайские инвестиции", countries={"CN": 0.9}, days_ago=1)

    caption = visible_text(_photo(await group.send("/stats")).caption or "")

    assert "🇨🇳 Китай — 1" in caption
