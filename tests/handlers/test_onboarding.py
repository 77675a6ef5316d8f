from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import EditMessageText
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import screens
from handlers.screens import CountryPick, SettingsMenu, TimePick, TopicPick, ZonePick
from storage.chats import sent_article_ids
from tagging import preset_list
from testing.telegram import (
    Conversation,
    Sent,
    answers,
    button,
    calls,
    keyboard,
    texts,
)
from tests.handlers.conftest import ArticleSeeder, ConversationFactory
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]


async def test_start_greets_in_russian_and_shows_countries(private: Conversation) -> None:
    sent = await private.send("/start")

    greeting, countries_step = texts(sent)
    assert greeting.startswith("👋 Здравствуйте, Анна!")
    assert "Шаг 1 из 4. Страны" in countries_step
    buttons = [text for text, _ in keyboard(sent)]
    assert "🇺🇿 Узбекистан" in buttons
    assert {"Центральная Азия", "ЕАЭС", "СНГ"} <= set(buttons)
    assert "Далее ➡️" in buttons


async def test_start_greets_in_english_for_an_english_client(
    conversation: ConversationFactory,
) -> None:
    chat = conversation(2002, language_code="en-US")
    sent = await chat.send("/start")

    assert texts(sent)[0].startswith("👋 Hello, Анна!")
    assert "Step 1 of 4. Countries" in texts(sent)[1]
    assert "🇺🇿 Uzbekistan" in [text for text, _ in keyboard(sent)]


async def test_country_toggles_edit_the_same_message(
    private: Conversation, session_factory: Sessions
) -> None:
    start = await private.send("/start")
    message_id = private.last_keyboard_message_id()

    toggled = await private.press(button(start, "Узбекистан"))
    edits = calls(toggled, EditMessageText)
    assert len(edits) == 1 and edits[0].message_id == message_id
    assert "✅ 🇺🇿 Узбекистан" in [text for text, _ in keyboard(toggled)]
    assert "Выбрано: 🇺🇿 Узбекистан" in texts(toggled)[0]

    untoggled = await private.press(button(toggled, "Узбекистан"))
    assert "🇺🇿 Узбекистан" in [text for text, _ in keyboard(untoggled)]
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == frozenset()


async def test_preset_selects_and_deselects_its_countries(
    private: Conversation, session_factory: Sessions
) -> None:
    start = await private.send("/start")

    selected = await private.press(button(start, "Центральная Азия"))
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == {"UZ", "TJ", "KZ", "KG", "TM"}
    assert "✅ Центральная Азия" in [text for text, _ in keyboard(selected)]

    await private.press(button(selected, "Центральная Азия"))
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == frozenset()


def _preset_buttons(sent: list[Sent]) -> list[str]:
    return [text for text, data in keyboard(sent) if data.startswith("oc:p:")]


async def test_preset_buttons_are_named_from_the_data_file(
    conversation: ConversationFactory,
) -> None:
    offered = [preset for preset in preset_list() if preset.offered]

    russian = await conversation(2001, language_code="ru").send("/start")
    assert _preset_buttons(russian) == [preset.name_ru for preset in offered]
    assert _preset_buttons(russian) == ["Центральная Азия", "ЕАЭС", "СНГ"]

    english = await conversation(2002, language_code="en").send("/start")
    assert _preset_buttons(english) == [preset.name_en for preset in offered]
    assert _preset_buttons(english) == ["Central Asia", "EAEU", "CIS"]


async def test_a_preset_the_data_file_offers_gets_a_button(
    private: Conversation, session_factory: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = tuple(
        dataclasses.replace(preset, offered=True) if preset.id == "caucasus" else preset
        for preset in preset_list()
    )
    monkeypatch.setattr(screens, "preset_list", lambda: every)

    start = await private.send("/start")
    assert _preset_buttons(start)[-1] == "Закавказье"
    selected = await private.press(button(start, "Закавказье"))

    assert "✅ Закавказье" in _preset_buttons(selected)
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == {"AZ", "AM", "GE"}


async def test_a_preset_the_data_file_does_not_offer_is_refused(
    private: Conversation, session_factory: Sessions
) -> None:
    await private.send("/start")
    sent = await private.press(CountryPick(action="p", value="sco"))

    assert answers(sent)[0].text == "Эта кнопка устарела. Отправьте команду ещё раз."
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == frozenset()


async def test_done_without_countries_is_refused(private: Conversation) -> None:
    await private.send("/start")
    sent = await private.press(CountryPick(action="d"))

    assert answers(sent)[0].text == "Выберите хотя бы одну страну."
    assert answers(sent)[0].show_alert
    assert not calls(sent, EditMessageText)


async def test_full_onboarding_subscribes_and_shows_latest_articles(
    private: Conversation, session_factory: Sessions, articles: ArticleSeeder
) -> None:
    uzbek = await articles.add(
        "Омская область и Ташкент подписали соглашение о поставках зерна",
        countries={"UZ": 0.95},
        topics={"agreements": 0.9, "trade": 0.7},
    )
    await articles.add("Делегация Китая посетила Омск", countries={"CN": 0.9}, topics={})

    await private.send("/start")
    await private.press(CountryPick(action="t", value="UZ"))
    await private.press(CountryPick(action="t", value="TJ"))
    topics_step = await private.press(CountryPick(action="d"))
    assert "Шаг 2 из 4. Темы" in texts(topics_step)[0]
    assert "Выбрано: все темы" in texts(topics_step)[0]

    untick = await private.press(TopicPick(action="t", value="youth"))
    assert "Молодёжь" not in texts(untick)[0].split("Выбрано:")[1]
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and "youth" not in chat.topics and "agreements" in chat.topics
    await private.press(TopicPick(action="a"))

    time_step = await private.press(TopicPick(action="d"))
    assert "Шаг 3 из 4. Время дайджеста" in texts(time_step)[0]
    assert "✅ 09:00" in [text for text, _ in keyboard(time_step)]

    zone_step = await private.press(TimePick(action="s", value="0800"))
    assert "Шаг 4 из 4. Часовой пояс" in texts(zone_step)[0]
    assert any("Омск · UTC+6" in text for text, _ in keyboard(zone_step))

    done = await private.press(ZonePick(action="s", value="Asia/Tashkent"))
    summary, latest = texts(done)
    assert "Подписка оформлена!" in summary
    assert "Страны: 🇺🇿 Узбекистан, 🇹🇯 Таджикистан" in summary
    assert "каждый день в 08:00, Asia/Tashkent (UTC+5)" in summary
    assert "Свежее по вашим странам" in latest
    assert "подписали соглашение о поставках зерна" in latest
    assert "Китая" not in latest

    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.subscribed and not chat.paused
    assert chat.digest_time == "08:00" and chat.timezone == "Asia/Tashkent"
    assert chat.next_digest_at is not None and chat.next_digest_at > datetime.now(UTC)
    local = chat.next_digest_at.astimezone(ZoneInfo("Asia/Tashkent"))
    assert (local.hour, local.minute) == (8, 0)
    async with session_factory() as session:
        assert await sent_article_ids(session, private.chat_id) == {uzbek}


async def test_free_input_of_time_and_zone(
    private: Conversation, session_factory: Sessions
) -> None:
    await private.send("/start")
    await private.press(CountryPick(action="t", value="KZ"))
    await private.press(CountryPick(action="d"))
    await private.press(TopicPick(action="d"))

    prompt = await private.press(TimePick(action="i"))
    assert "Напишите время дайджеста" in texts(prompt)[0]
    wrong = await private.send("в обед")
    assert "Не понял время «в обед»" in texts(wrong)[0]
    typed = await private.send("7.45")
    assert texts(typed)[0] == "Время дайджеста: 07:45"
    assert "Шаг 4 из 4" in texts(typed)[1]

    await private.press(ZonePick(action="i"))
    unknown = await private.send("Марс")
    assert "Не знаю часовой пояс «Марс»" in texts(unknown)[0]
    done = await private.send("UTC+5")
    assert "Часовой пояс: Etc/GMT-5 (UTC+5)" in texts(done)[0]
    assert "Подписка оформлена!" in texts(done)[1]

    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.subscribed
    assert (chat.digest_time, chat.timezone) == ("07:45", "Etc/GMT-5")


async def test_cancel_leaves_free_input(private: Conversation) -> None:
    await private.send("/start")
    await private.press(TimePick(action="i", flow="s"))
    assert texts(await private.send("/cancel")) == ["Отменено."]
    # Plain text is no longer taken as a time.
    assert "Я отвечаю на команды" in texts(await private.send("08:30"))[0]


async def test_settings_reopens_a_step_and_returns_to_the_menu(
    private: Conversation, session_factory: Sessions
) -> None:
    await private.send("/start")
    await private.press(CountryPick(action="t", value="UZ"))
    await private.press(CountryPick(action="d"))
    await private.press(TopicPick(action="d"))
    await private.press(TimePick(action="s", value="0900"))
    await private.press(ZonePick(action="s", value="Asia/Omsk"))

    menu = await private.send("/settings")
    assert "Настройки" in texts(menu)[0]
    assert "Страны: 🇺🇿 Узбекистан" in texts(menu)[0]

    step = await private.press(SettingsMenu(item="time"))
    assert "Время дайджеста" in texts(step)[0] and "Шаг" not in texts(step)[0]
    back = await private.press(TimePick(action="s", value="1800", flow="s"))
    assert "каждый день в 18:00" in texts(back)[0]
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.digest_time == "18:00"
    assert chat.next_digest_at is not None
    local = chat.next_digest_at.astimezone(ZoneInfo("Asia/Omsk"))
    assert local.hour == 18


async def test_start_on_a_subscribed_chat_shows_its_settings(private: Conversation) -> None:
    await subscribe(private, "AM")

    again = await private.send("/start")
    assert "С возвращением" in texts(again)[0]
    assert "Армения" in texts(again)[0]


async def test_start_reactivates_a_chat_that_blocked_the_bot(
    private: Conversation, session_factory: Sessions
) -> None:
    await private.send("/start")
    await private.member_status("member", "kicked")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and not chat.active

    await private.member_status("kicked", "member")
    await private.send("/start")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.active
