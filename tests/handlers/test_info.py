from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.screens import LanguagePick
from testing.telegram import Conversation, answers, keyboard, texts
from tests.handlers.conftest import ADMIN_ID, ArticleSeeder, ConversationFactory
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]


async def test_help_lists_the_commands(private: Conversation) -> None:
    text = texts(await private.send("/help"))[0]
    for command in (
        "/agreements",
        "/news",
        "/trade",
        "/export",
        "/topic",
        "/search",
        "/digest",
        "/stop",
    ):
        assert command in text
    assert "/feeds" not in text


async def test_help_for_an_admin_lists_feed_commands(conversation: ConversationFactory) -> None:
    admin = conversation(ADMIN_ID)
    text = texts(await admin.send("/help"))[0]
    assert "/feeds" in text and "/addfeed" in text and "/export_opml" in text


async def test_countries_lists_all_with_counts_and_marks_mine(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Узбекская новость", countries={"UZ": 0.9})
    await articles.add("Ещё одна", countries={"UZ": 0.8, "KZ": 0.9})
    await subscribe(private, "KZ")

    text = texts(await private.send("/countries"))[0]
    assert "🇺🇿 Узбекистан (uz) — 2" in text
    assert "🇰🇿 Казахстан (kz) — 1 ✅" in text
    assert "🇻🇳 Вьетнам (vn) — 0" in text
    assert "Центральная Азия: uz, tj, kz, kg, tm" in text


async def test_countries_lists_the_offered_groups_in_english(
    conversation: ConversationFactory,
) -> None:
    text = texts(await conversation(2002, language_code="en").send("/countries"))[0]

    groups = text.split("Groups (in /settings)\n")[1].split("\n\n")[0].splitlines()
    assert groups == [
        "Central Asia: uz, tj, kz, kg, tm",
        "EAEU: kz, kg, by, am",
        "CIS: az, am, by, kz, kg, tj, tm, uz",
    ]


async def test_language_switch(private: Conversation, session_factory: Sessions) -> None:
    asked = await private.send("/language")
    assert texts(asked)[0] == "Выберите язык бота в этом чате:"
    assert [text for text, _ in keyboard(asked)] == ["🇷🇺 Русский", "🇬🇧 English"]

    switched = await private.press(LanguagePick(code="en"))
    assert texts(switched)[0].startswith("Done: I speak English in this chat now.")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.language == "en"
    assert "<b>What I can do</b>" not in texts(await private.send("/help"))[0]
    assert texts(await private.send("/help"))[0].startswith("What I can do")
    assert "Agreements · 🇺🇿 Uzbekistan" in texts(await private.send("/agreements uz"))[0]

    back = await private.press(LanguagePick(code="ru"))
    assert texts(back)[0].startswith("Готово: теперь я говорю в этом чате по-русски.")
    assert texts(await private.send("/help"))[0].startswith("Что я умею")


async def test_stored_language_beats_the_client_language(
    conversation: ConversationFactory,
) -> None:
    chat = conversation(3003, language_code="ru")
    await chat.send("/start")
    await chat.press(LanguagePick(code="en"))
    assert texts(await chat.send("/pause"))[0].startswith("This chat is not subscribed yet")


async def test_language_with_a_forged_code_is_refused(private: Conversation) -> None:
    await private.send("/language")
    sent = await private.press("lang:de")
    (answer,) = answers(sent)
    assert answer.text == "Эта кнопка устарела. Отправьте команду ещё раз."
    assert texts(sent) == []
