"""The bot's HTTP session against the Bot API emulator: the same answers and errors as
aiogram's own session, requests posted as JSON, the keyboard sent reused in the answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    BanChatMember,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
)

from bot.telegram_session import TelegramSession
from testing.telegram import DEFAULT_TOKEN, NOT_MODIFIED, BotApiEmulator

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="🇺🇿 Узбекистан", callback_data="oc:t:UZ:o"),
            InlineKeyboardButton(text="🇹🇯 Таджикистан", callback_data="oc:t:TJ:o"),
        ],
        [InlineKeyboardButton(text="Далее ➡️", callback_data="oc:d::o")],
    ]
)


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(rate_limits=False) as emulator:
        yield emulator


@pytest.fixture
async def bot(api: BotApiEmulator) -> AsyncIterator[Bot]:
    client = Bot(
        DEFAULT_TOKEN,
        session=TelegramSession(api=TelegramAPIServer.from_base(api.base_url)),
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )
    try:
        yield client
    finally:
        await client.session.close()


async def test_a_sent_message_comes_back_whole_with_the_keyboard_sent(
    api: BotApiEmulator, bot: Bot
) -> None:
    sent = await bot.send_message(
        501, "<b>Шаг 1 из 4.</b> Страны: пока ничего", reply_markup=KEYBOARD
    )
    assert isinstance(sent, Message)
    assert sent.reply_markup is KEYBOARD
    assert sent.bot is bot
    stored = api.messages_for(501)[-1]
    assert (sent.message_id, sent.chat.id, sent.text) == (
        stored.message_id,
        501,
        "Шаг 1 из 4. Страны: пока ничего",
    )
    assert [entity.type for entity in sent.entities or []] == ["bold"]
    assert stored.button_data() == ["oc:t:UZ:o", "oc:t:TJ:o", "oc:d::o"]
    # Posted as JSON: the keyboard arrived as an object, the bot's defaults applied.
    params = api.calls[-1].params
    assert params["reply_markup"] == json.loads(KEYBOARD.model_dump_json(exclude_none=True))
    assert params["parse_mode"] == "HTML"
    assert params["link_preview_options"] == {"is_disabled": True}


async def test_an_edit_comes_back_as_the_edited_message(api: BotApiEmulator, bot: Bot) -> None:
    first = await bot.send_message(502, "Шаг 1 из 4")
    edited = await bot.edit_message_text(
        "Шаг 2 из 4", chat_id=502, message_id=first.message_id, reply_markup=KEYBOARD
    )
    assert isinstance(edited, Message)
    assert (edited.message_id, edited.text, edited.reply_markup) == (
        first.message_id,
        "Шаг 2 из 4",
        KEYBOARD,
    )
    assert api.messages_for(502)[-1].plain_text == "Шаг 2 из 4"
    # Without a keyboard: nothing to reuse, the answer is read as aiogram reads it.
    plain = await bot.edit_message_text("Шаг 3 из 4", chat_id=502, message_id=first.message_id)
    assert isinstance(plain, Message)
    assert (plain.text, plain.reply_markup) == ("Шаг 3 из 4", None)


async def test_false_and_zero_fields_are_sent(api: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(
        503,
        "Превью включено",
        link_preview_options=LinkPreviewOptions(is_disabled=False),
        disable_notification=False,
    )
    params = api.calls[-1].params
    assert params["link_preview_options"] == {"is_disabled": False}
    assert params["disable_notification"] is False


async def test_flood_control_still_raises_retry_after(api: BotApiEmulator, bot: Bot) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", {"retry_after": 7})
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(504, "Дайджест", reply_markup=KEYBOARD)
    assert caught.value.retry_after == 7
    assert isinstance(caught.value.method, SendMessage)


async def test_errors_raise_aiogram_exceptions(api: BotApiEmulator, bot: Bot) -> None:
    first = await bot.send_message(505, "Шаг 1 из 4", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match=NOT_MODIFIED):
        await bot.edit_message_text(
            "Шаг 1 из 4", chat_id=505, message_id=first.message_id, reply_markup=KEYBOARD
        )
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("no-such-query")
    api.block_chat(505)
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(505, "Дайджест", reply_markup=KEYBOARD)
    api.add_group(-556, "Минэкономики", admins=[11])
    api.migrate_group(-556, -1001234567891)
    with pytest.raises(TelegramMigrateToChat) as migrated:
        await bot.send_message(-556, "Дайджест", reply_markup=KEYBOARD)
    assert migrated.value.migrate_to_chat_id == -1001234567891
    api.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(TelegramServerError):
        await bot.send_message(506, "Дайджест", reply_markup=KEYBOARD)


async def test_a_file_goes_as_multipart(api: BotApiEmulator, bot: Bot) -> None:
    content = b"id,country\n1,UZ\n"
    sent = await bot.send_document(
        507,
        BufferedInputFile(content, filename="agreements.csv"),
        caption="Соглашения",
        reply_markup=KEYBOARD,
    )
    assert sent.document is not None
    assert sent.document.file_name == "agreements.csv"
    assert sent.reply_markup == KEYBOARD
    assert api.files[sent.document.file_id].content == content


def test_an_echo_unlike_the_keyboard_sent_is_read_from_the_echo(bot: Bot) -> None:
    method = SendMessage(chat_id=508, text="Дайджест", reply_markup=KEYBOARD)
    echoed = {"inline_keyboard": [[{"text": "Другое", "callback_data": "x"}]]}
    content = json.dumps(
        {
            "ok": True,
            "result": {
                "message_id": 1,
                "date": 1_790_000_000,
                "chat": {"id": 508, "type": "private"},
                "text": "Дайджест",
                "reply_markup": echoed,
            },
        }
    )
    session = bot.session
    assert isinstance(session, TelegramSession)
    sent_markup = json.loads(KEYBOARD.model_dump_json(exclude_none=True))
    message = session.read_response(bot, method, 200, content, sent_markup=sent_markup).result
    assert message is not None
    assert message.reply_markup is not KEYBOARD
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump(exclude_none=True) == echoed
    same = content.replace(json.dumps(echoed), json.dumps(sent_markup))
    reused = session.read_response(bot, method, 200, same, sent_markup=sent_markup).result
    assert reused is not None and reused.reply_markup is KEYBOARD


async def test_a_pressed_message_comes_with_the_keyboard_sent(
    api: BotApiEmulator, bot: Bot
) -> None:
    sent = await bot.send_message(509, "Шаг 1 из 4", reply_markup=KEYBOARD)
    api.press_button(509, sent.message_id, "oc:t:UZ:o")
    other = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Далее ➡️", callback_data="ot:d::o")]]
    )
    elsewhere = Bot(
        DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    )
    try:
        unknown = await elsewhere.send_message(510, "Шаг 2 из 4", reply_markup=other)
    finally:
        await elsewhere.session.close()
    api.press_button(510, unknown.message_id, "ot:d::o")
    updates = await bot.get_updates()
    pressed = [update.callback_query for update in updates if update.callback_query]
    assert [query.data for query in pressed] == ["oc:t:UZ:o", "ot:d::o"]
    messages = [query.message for query in pressed]
    assert isinstance(messages[0], Message) and isinstance(messages[1], Message)
    assert messages[0].reply_markup is KEYBOARD
    # A keyboard this session never sent is read from the update as aiogram reads it.
    assert messages[1].reply_markup is not None and messages[1].reply_markup is not other
    assert messages[1].reply_markup.model_dump() == other.model_dump()
    assert (messages[0].message_id, messages[0].text) == (sent.message_id, "Шаг 1 из 4")


def _aiogram_fields(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """The fields as aiogram's own `prepare_value` makes them, value by value."""
    session = AiohttpSession()
    files: dict[str, InputFile] = {}
    fields: dict[str, Any] = {}
    for key, value in method.model_dump(warnings=False).items():
        prepared = session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
        if prepared is not None and prepared != "":
            fields[key] = prepared
    return fields


def test_posted_fields_are_what_aiogram_prepares(bot: Bot) -> None:
    session = cast(TelegramSession, bot.session)
    moment = datetime(2026, 5, 12, 9, 30, tzinfo=UTC)
    methods: list[TelegramMethod[Any]] = [
        SendMessage(chat_id=601, text="Шаг 1", reply_markup=KEYBOARD),
        SendMessage(
            chat_id=601,
            text="<b>Дайджест</b>",
            message_thread_id=7,
            disable_notification=True,
            link_preview_options=LinkPreviewOptions(is_disabled=False, url="https://example.org/"),
        ),
        EditMessageText(chat_id=601, message_id=3, text="Шаг 2", reply_markup=KEYBOARD),
        AnswerCallbackQuery(callback_query_id="42", text="Готово", show_alert=False),
        SendMessage(chat_id="@press", text="Срочно", parse_mode=ParseMode.MARKDOWN_V2),
        SendMessage(chat_id=601, text="Ваш часовой пояс?", reply_markup=ForceReply(selective=True)),
        SendMessage(
            chat_id=601,
            text="Выберите",
            reply_markup=ReplyKeyboardMarkup(
                keyboard=[[KeyboardButton(text="Узбекистан"), KeyboardButton(text="Китай")]],
                resize_keyboard=True,
            ),
        ),
        BanChatMember(chat_id=601, user_id=5, until_date=moment),
    ]
    for method in methods:
        for _attempt in range(2):  # the second time with the keyboard already prepared
            posted = session.json_fields(bot, method, {})
            # What the emulator receives is what aiogram would have sent.
            assert posted == _aiogram_fields(bot, method)
    # The bot's default parse mode is filled in, as aiogram does.
    assert session.json_fields(bot, methods[1], {})["parse_mode"] == "HTML"
