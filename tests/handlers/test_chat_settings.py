from __future__ import annotations

from datetime import UTC, datetime

from aiogram.methods import EditMessageText
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.subscriptions import next_digest_for
from handlers.screens import CountryPick, SettingsMenu, ZonePick
from testing.telegram import Conversation, button, calls, keyboard, texts
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]


async def test_settings_menu_language_round_trip(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ")

    menu = await private.send("/settings")
    assert texts(menu)[0].startswith("Настройки\nСтраны: 🇺🇿 Узбекистан")
    assert "Язык: русский" in texts(menu)[0]
    prompt = await private.press(button(menu, "Язык"))
    assert texts(prompt) == ["Выберите язык бота в этом чате:"]
    assert calls(prompt, EditMessageText), "the menu message is edited in place"
    assert [text for text, _ in keyboard(prompt)] == ["🇷🇺 Русский", "🇬🇧 English"]

    switched = await private.press(button(prompt, "English"))
    assert texts(switched)[0].startswith("Done: I speak English in this chat now.")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.language == "en"

    menu = await private.send("/settings")
    assert texts(menu)[0].startswith("Settings\nCountries: 🇺🇿 Uzbekistan")
    assert "Language: English" in texts(menu)[0]
    prompt = await private.press(button(menu, "Language"))
    assert texts(prompt) == ["Choose the language of the bot in this chat:"]

    back = await private.press(button(prompt, "Русский"))
    assert texts(back)[0].startswith("Готово: теперь я говорю в этом чате по-русски.")
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.language == "ru"
    assert "Язык: русский" in texts(await private.send("/settings"))[0]


async def test_settings_close_leaves_the_summary_without_buttons(private: Conversation) -> None:
    await subscribe(private, "KZ")
    await private.send("/settings")

    closed = await private.press(SettingsMenu(item="close"))
    (edit,) = calls(closed, EditMessageText)
    assert edit.reply_markup is None
    assert texts(closed)[0].startswith("Настройки\nСтраны: 🇰🇿 Казахстан")
    assert "Что изменить?" not in texts(closed)[0]


async def test_settings_before_subscribing_opens_the_first_step(private: Conversation) -> None:
    sent = await private.send("/settings")

    assert "Шаг 1 из 4. Страны" in texts(sent)[0]
    assert "Далее ➡️" in [text for text, _ in keyboard(sent)]


async def test_a_step_opened_from_the_menu_returns_to_it(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ")
    await private.send("/settings")

    step = await private.press(SettingsMenu(item="countries"))
    assert texts(step)[0].startswith("Страны\n")
    assert "Готово ✔️" in [text for text, _ in keyboard(step)]
    await private.press(CountryPick(action="t", value="TJ", flow="s"))
    back = await private.press(CountryPick(action="d", flow="s"))

    assert "Страны: 🇺🇿 Узбекистан, 🇹🇯 Таджикистан" in texts(back)[0]
    assert "Что изменить?" in texts(back)[0]
    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.countries == {"UZ", "TJ"}


async def test_a_new_zone_from_the_menu_moves_the_next_digest(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ", zone="Asia/Omsk")
    before = await load_chat(session_factory, private.chat_id)
    assert before is not None and before.next_digest_at is not None

    await private.send("/settings")
    await private.press(SettingsMenu(item="zone"))
    start = datetime.now(UTC)
    await private.press(ZonePick(action="s", value="Asia/Vladivostok", flow="s"))
    end = datetime.now(UTC)

    chat = await load_chat(session_factory, private.chat_id)
    assert chat is not None and chat.timezone == "Asia/Vladivostok"
    assert chat.next_digest_at in {next_digest_for(chat, start), next_digest_for(chat, end)}
    assert chat.next_digest_at != before.next_digest_at
