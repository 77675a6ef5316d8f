"""The Bot API emulator behaves like Telegram towards a real aiogram client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import struct
import sys
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from testing.telegram import (
    DEFAULT_TOKEN,
    NOT_MODIFIED,
    BotApiEmulator,
    EntityParseError,
    parse_html,
    parse_markdown_v2,
    utf16_length,
)


def make_bot(api: BotApiEmulator, token: str = DEFAULT_TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))


@contextlib.asynccontextmanager
async def running(api: BotApiEmulator, token: str = DEFAULT_TOKEN) -> AsyncIterator[Bot]:
    bot = make_bot(api, token)
    try:
        yield bot
    finally:
        await bot.session.close()


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(api: BotApiEmulator) -> AsyncIterator[Bot]:
    async with running(api) as client:
        yield client


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data)] for text, data in pairs
        ]
    )


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 3 + b"\x00" + b"\x00\x00\xff" * 3)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ sending


async def test_send_message_is_recorded_with_parsed_entities(api: BotApiEmulator, bot: Bot) -> None:
    markup = keyboard(("Узбекистан", "country:UZ"))
    message = await bot.send_message(
        501,
        '<b>Омск и Ташкент</b> 🇺🇿 подписали <a href="https://example.ru/a?x=1&amp;y=2">соглашение</a>',
        parse_mode="HTML",
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )

    assert message.message_id == 1
    assert message.text == "Омск и Ташкент 🇺🇿 подписали соглашение"
    assert message.entities is not None
    bold, link = message.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 0, 14)
    # the flag is two astral characters: four UTF-16 code units
    assert (link.type, link.offset, link.url) == ("text_link", 30, "https://example.ru/a?x=1&y=2")
    record = api.messages_for(501)[0]
    assert record.text is not None and record.text.startswith("<b>Омск")
    assert record.plain_text == message.text
    assert record.parse_mode == "HTML"
    assert record.button_data() == ["country:UZ"]
    assert record.link_preview_options == {"is_disabled": True}
    assert record.method == "sendMessage"
    assert api.sent_messages == [record]

    second = await bot.send_message(501, "ещё одно")
    assert second.message_id == 2


async def test_text_limits_count_utf16_after_entity_parsing(bot: Bot) -> None:
    exactly_full = "<b>" + "ж" * 4096 + "</b>"
    assert (await bot.send_message(7, exactly_full, parse_mode="HTML")).text == "ж" * 4096

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(7, "ж" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(7, "😀" * 2049)  # 4098 UTF-16 code units in 2049 characters
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(7, "  \n ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(7, "<b></b>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Рост <b>товарооборота", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>жирный <i>курсив</b></i>", 'Unmatched end tag at byte offset 31, expected "</i>"'),
        ("строка<br>перенос", 'Unsupported start tag "br" at byte offset 12'),
        ("цены 5 < 7", 'Unsupported start tag "" at byte offset 11'),
        ("ООО «Рога & копыта»", 'Character "&" must be escaped'),
        ("конец</b>", "Unexpected end tag at byte offset 10"),
        ('<span class="x">текст</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_bad_html_is_rejected_with_the_reason(bot: Bot, text: str, reason: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as caught:
        await bot.send_message(8, text, parse_mode="HTML")
    assert reason in caught.value.message


def test_html_parser_matches_telegram_entities() -> None:
    text, entities = parse_html(
        "<strong>a</strong>&lt;&#1046;&#x416;&quot;<tg-spoiler>s</tg-spoiler>"
        '<span class="tg-spoiler">t</span><pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>цитата</blockquote><a href='ya.ru'>ya</a><u>u</u><del>d</del>"
    )
    assert text == 'a<ЖЖ"stx = 1цитатаyaud'
    assert [entity["type"] for entity in entities] == [
        "bold",
        "spoiler",
        "spoiler",
        "pre",
        "expandable_blockquote",
        "text_link",
        "underline",
        "strikethrough",
    ]
    assert entities[3] == {"type": "pre", "offset": 7, "length": 5, "language": "python"}
    assert entities[5]["url"] == "http://ya.ru"
    assert utf16_length("🇺🇿ж") == 5
    assert parse_html("AT&T", strict_ampersand=False) == ("AT&T", [])
    with pytest.raises(EntityParseError, match="byte offset 2"):
        parse_html("AT&T")


def test_markdown_v2_requires_escaping() -> None:
    assert parse_markdown_v2(r"*жирный* и _курсив_ \.") == (
        "жирный и курсив .",
        [
            {"type": "bold", "offset": 0, "length": 6},
            {"type": "italic", "offset": 9, "length": 6},
        ],
    )
    with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("Итоги года.")


async def test_inline_keyboard_validation(bot: Bot) -> None:
    long_data = "subscribe:" + "x" * 55  # 65 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(9, "Выберите", reply_markup=keyboard(("Да", long_data)))
    cyrillic_data = "c:" + "ж" * 32  # 66 bytes in 34 characters
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(9, "Выберите", reply_markup=keyboard(("Да", cyrillic_data)))
    with pytest.raises(TelegramBadRequest, match="Text must be non-empty"):
        await bot.send_message(9, "Выберите", reply_markup=keyboard(("", "ok")))
    accepted = await bot.send_message(9, "Выберите", reply_markup=keyboard(("Да", "y" * 64)))
    assert accepted.reply_markup is not None


async def test_photo_caption_limit_and_upload(api: BotApiEmulator, bot: Bot) -> None:
    picture = BufferedInputFile(tiny_png(), filename="chart.png")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(10, picture, caption="п" * 1025)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(10, BufferedInputFile(b"not an image", filename="x.png"))

    sent = await bot.send_photo(10, picture, caption="<b>Статьи по странам</b>", parse_mode="HTML")
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    assert sent.caption == "Статьи по странам"
    record = api.messages_for(10)[-1]
    assert record.method == "sendPhoto"
    assert record.file_id == sent.photo[-1].file_id
    assert api.files[record.file_id].content == tiny_png()


# ------------------------------------------------------------------ errors and limits


async def test_global_rate_limit_answers_retry_after_and_counts_sends_during_pause() -> None:
    async with (
        BotApiEmulator(global_rate=5, private_chat_rate=None, retry_after=3) as api,
        running(api) as bot,
    ):
        for chat_id in range(1, 6):
            await bot.send_message(chat_id, "Новости")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(6, "Новости")
        assert caught.value.retry_after == 3
        assert "Too Many Requests: retry after 3" in caught.value.message
        for chat_id in (7, 8):
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(chat_id, "Новости")
        assert api.count_429 == 3
        assert api.sends_during_pause == 2
        assert [rejection.reason for rejection in api.rejected] == [
            "global_rate_limit",
            "paused",
            "paused",
        ]
        assert len(api.sent_messages) == 5
        assert api.max_rate_observed() == 5.0


async def test_computed_retry_after_and_recovery() -> None:
    async with BotApiEmulator(global_rate=2, private_chat_rate=None) as api, running(api) as bot:
        await bot.send_message(1, "раз")
        await bot.send_message(2, "два")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(3, "три")
        assert caught.value.retry_after == 1
        await asyncio.sleep(1.05)
        assert (await bot.send_message(3, "три")).message_id == 1
        assert api.sends_during_pause == 0


async def test_private_chat_burst_then_per_chat_limit(api: BotApiEmulator, bot: Bot) -> None:
    for part in range(3):
        await bot.send_message(20, f"Часть {part + 1}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(20, "Часть 4")
    assert caught.value.retry_after == 1
    assert (await bot.send_message(21, "Другой чат")).message_id == 1
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(20, "Часть 4")
    assert api.sends_during_chat_pause == 1
    assert api.sends_during_pause == 0


async def test_group_limit_is_per_minute() -> None:
    async with BotApiEmulator(group_rate_per_minute=3) as api, running(api) as bot:
        api.add_group(-100, "Экспортёры", admins=[1])
        for _ in range(3):
            await bot.send_message(-100, "Дайджест")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(-100, "Дайджест")
        assert 55 <= caught.value.retry_after <= 60
        assert api.rejected[-1].reason == "group_rate_limit"


async def test_blocked_chat_is_forbidden(api: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(30, "Добро пожаловать")
    api.block_chat(30)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(30, "Дайджест")
    assert api.rejected[-1].error_code == 403
    api.send_user_message(30, "/start")  # writing to the bot again unblocks it
    assert (await bot.send_message(30, "С возвращением")).message_id == 3


async def test_migrated_group_points_to_the_supergroup(api: BotApiEmulator, bot: Bot) -> None:
    api.add_group(-555, "Минэкономики", admins=[11, 12])
    api.migrate_group(-555, -1001234567890)
    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(-555, "Дайджест")
    assert caught.value.migrate_to_chat_id == -1001234567890
    sent = await bot.send_message(-1001234567890, "Дайджест")
    assert sent.chat.type == "supergroup"
    members = await bot.get_chat_administrators(-1001234567890)
    assert [(member.status, member.user.id) for member in members] == [
        ("creator", 11),
        ("administrator", 12),
    ]


async def test_chat_members_and_unknown_chats(api: BotApiEmulator, bot: Bot) -> None:
    api.add_group(-42, "Аналитики", admins=[1, 2], members=[3])
    statuses = [(await bot.get_chat_member(-42, user)).status for user in (1, 2, 3, 4)]
    assert statuses == ["creator", "administrator", "member", "left"]
    chat = await bot.get_chat(-42)
    assert (chat.type, chat.title) == ("group", "Аналитики")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-43, "кому?")
    with pytest.raises(TelegramBadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(5)


async def test_injected_failures_delays_and_dropped_connections(
    api: BotApiEmulator, bot: Bot
) -> None:
    api.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(Exception, match="Internal Server Error"):
            await bot.send_message(40, "раз")
    assert (await bot.send_message(40, "раз")).text == "раз"

    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", {"retry_after": 2})
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(41, "два")
    assert caught.value.retry_after == 2
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(42, "три")
    assert api.sends_during_pause == 1

    api2 = BotApiEmulator(rate_limits=False)
    async with api2, running(api2) as second:
        api2.drop_connection_next("sendMessage")
        with pytest.raises(TelegramNetworkError):
            await second.send_message(43, "потеряно")
        assert api2.messages_for(43) == []
        api2.drop_connection_next("sendMessage", after_processing=True)
        with pytest.raises(TelegramNetworkError):
            await second.send_message(43, "доставлено, ответ потерян")
        assert [record.text for record in api2.messages_for(43)] == ["доставлено, ответ потерян"]
        assert api2.dropped_connections == 2

        api2.set_delay("sendMessage", 0.3)
        started = time.monotonic()
        await second.send_message(43, "медленно")
        assert time.monotonic() - started >= 0.3


async def test_tokens_and_unknown_methods(api: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot{DEFAULT_TOKEN}/sendSticker") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{api.base_url}/botnot-a-token/getMe") as response:
            assert response.status == 404
        async with http.get(f"{api.base_url}/bot{DEFAULT_TOKEN}/GETME") as response:
            assert (await response.json())["result"]["username"] == "regdigest_bot"
    async with BotApiEmulator(token=DEFAULT_TOKEN) as strict, running(strict, "1:wrong") as bot:
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    async with running(api) as bot:
        with pytest.raises(TelegramNotFound):
            await bot.send_sticker(1, "sticker-id")


# ------------------------------------------------------------------ updates


async def test_long_poll_returns_injected_update_within_timeout(
    api: BotApiEmulator, bot: Bot
) -> None:
    async def write_later() -> None:
        await asyncio.sleep(0.2)
        api.send_user_message(60, "/agreements@regdigest_bot Узбекистан", username="ivanova")

    started = time.monotonic()
    writer = asyncio.create_task(write_later())
    updates = await bot.get_updates(timeout=5)
    await writer
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.from_user is not None
    assert message.text == "/agreements@regdigest_bot Узбекистан"
    assert message.entities is not None
    assert (message.entities[0].type, message.entities[0].length) == ("bot_command", 25)
    assert message.from_user.language_code == "ru"
    assert message.from_user.username == "ivanova"

    # unconfirmed updates are delivered again; confirmed ones are forgotten
    assert [update.update_id for update in await bot.get_updates()] == [updates[0].update_id]
    started = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9
    assert api.pending_updates() == []


async def test_allowed_updates_and_limit(api: BotApiEmulator, bot: Bot) -> None:
    api.send_user_message(61, "первое")
    api.send_user_message(61, "второе")
    api.press_button(61, 1, "noop")
    batch = await bot.get_updates(limit=1)
    assert [update.message.text for update in batch if update.message] == ["первое"]
    only_callbacks = await bot.get_updates(allowed_updates=["callback_query"])
    assert [update.callback_query is not None for update in only_callbacks] == [True]


async def test_second_long_poll_terminates_the_first(api: BotApiEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    async with running(api) as other:
        second = asyncio.create_task(other.get_updates(timeout=5))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await first
        api.send_user_message(62, "привет")
        assert len(await second) == 1
    assert api.conflicts == 1


async def test_webhook_delivers_updates_and_runs_the_reply_method(api: BotApiEmulator) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> SendMessage:
        return message.answer("Ответ через вебхук")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = make_bot(api)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, handle_in_background=False, secret_token="s3cret"
    ).register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        assert api.webhook is not None and api.webhook["secret_token"] == "s3cret"
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        api.send_user_message(63, "/start")
        replies = await api.wait_for_reply(63, timeout=5)
        assert [record.text for record in replies] == ["Ответ через вебхук"]
        assert api.webhook_deliveries == 1
        assert (await bot.get_webhook_info()).pending_update_count == 0

        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong")
        api.send_user_message(63, "/start")
        await api.wait_until(lambda: api.webhook_failures >= 1, timeout=5)
        assert len(api.pending_updates()) == 1  # refused updates are kept and retried
        await bot.delete_webhook(drop_pending_updates=True)
        assert api.webhook is None and api.pending_updates() == []
    finally:
        await runner.cleanup()
        await bot.session.close()


async def test_webhook_posts_chats_in_parallel_and_each_chat_in_order(api: BotApiEmulator) -> None:
    """As Telegram does: several requests open at once (up to max_connections), one at a
    time per chat."""
    open_now = 0
    most_open = 0
    per_chat_open: dict[int, int] = {}
    overlapping_in_one_chat = 0
    seen: dict[int, list[str]] = {}

    async def hook(request: web.Request) -> web.Response:
        nonlocal open_now, most_open, overlapping_in_one_chat
        update = await request.json()
        chat = update["message"]["chat"]["id"]
        open_now += 1
        most_open = max(most_open, open_now)
        per_chat_open[chat] = per_chat_open.get(chat, 0) + 1
        overlapping_in_one_chat += per_chat_open[chat] > 1
        await asyncio.sleep(0.2)
        seen.setdefault(chat, []).append(update["message"]["text"])
        per_chat_open[chat] -= 1
        open_now -= 1
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    bot = make_bot(api)
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", max_connections=4)
        for number in range(3):
            for chat in range(64, 70):
                api.send_user_message(chat, f"сообщение {number}")
        await api.wait_until(lambda: api.webhook_deliveries == 18, timeout=10)
        assert most_open == 4
        assert overlapping_in_one_chat == 0
        assert all(texts == [f"сообщение {n}" for n in range(3)] for texts in seen.values())
        assert len(seen) == 6
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
        await bot.session.close()


# ------------------------------------------------------------------ edits, buttons, files


async def test_edits_update_the_record_and_keep_history(api: BotApiEmulator, bot: Bot) -> None:
    markup = keyboard(("☐ Узбекистан", "toggle:UZ"))
    sent = await bot.send_message(70, "Выберите страны", reply_markup=markup)
    ticked = keyboard(("✅ Узбекистан", "toggle:UZ"))
    await bot.edit_message_reply_markup(chat_id=70, message_id=sent.message_id, reply_markup=ticked)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_reply_markup(
            chat_id=70, message_id=sent.message_id, reply_markup=ticked
        )
    assert caught.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Выберите страны", chat_id=70, message_id=sent.message_id, reply_markup=ticked
        )
    await bot.edit_message_text(
        "<b>Готово</b>", chat_id=70, message_id=sent.message_id, parse_mode="HTML"
    )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("нет такого", chat_id=70, message_id=999)

    record = api.message(70, sent.message_id)
    assert (record.plain_text, record.reply_markup) == ("Готово", None)
    assert [version.method for version in record.history] == [
        "editMessageReplyMarkup",
        "editMessageText",
    ]
    assert record.history[0].reply_markup == markup.model_dump(exclude_none=True)
    assert record.history[1].reply_markup == ticked.model_dump(exclude_none=True)
    assert record.edit_date is not None

    assert await bot.delete_message(70, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(70, sent.message_id)


async def test_dispatcher_round_trip_with_buttons(api: BotApiEmulator) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            "Здравствуйте! Выберите страны:", reply_markup=keyboard(("Узбекистан", "c:UZ"))
        )

    @router.message(Command("help"))
    async def help_command(message: Message) -> None:
        await message.answer("Команды: /start, /help")

    @router.callback_query(F.data.startswith("c:"))
    async def choose(query: CallbackQuery) -> None:
        await query.answer("Добавлено")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Вы выбрали: Узбекистан")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = make_bot(api)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    try:
        api.send_user_message(80, "/start", language_code="en")
        (greeting,) = await api.wait_for_reply(80, timeout=5)
        assert greeting.button_data() == ["c:UZ"]

        query_id = api.press_button(80, greeting.message_id, "c:UZ")
        answer = await api.wait_for_answer(query_id, timeout=5)
        assert answer["text"] == "Добавлено"
        edited = await api.wait_for_edit(80, greeting.message_id, timeout=5)
        assert edited.plain_text == "Вы выбрали: Узбекистан"

        api.send_user_message(80, "/help")
        (help_reply,) = await api.wait_for_reply(80, timeout=5)
        assert help_reply.text == "Команды: /start, /help"
        assert len(api.messages_for(80)) == 2
    finally:
        await dispatcher.stop_polling()
        await polling
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        async with running(api) as late:
            await late.answer_callback_query(query_id)


async def test_file_round_trip(api: BotApiEmulator, bot: Bot) -> None:
    opml = b'<?xml version="1.0"?><opml version="2.0"><body/></opml>'
    update = api.send_document(90, "ленты.opml", opml, mime_type="text/x-opml")
    file_id = update["message"]["document"]["file_id"]
    telegram_file = await bot.get_file(file_id)
    assert telegram_file.file_size == len(opml)
    assert telegram_file.file_path is not None
    downloaded = io.BytesIO()
    await bot.download_file(telegram_file.file_path, downloaded)
    assert downloaded.getvalue() == opml

    sent = await bot.send_document(90, BufferedInputFile(b"id;title\n1;x\n", "feeds.csv"))
    assert sent.document is not None and sent.document.file_name == "feeds.csv"
    again = await bot.get_file(sent.document.file_id)
    assert again.file_path is not None and again.file_path.endswith(".csv")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("no-such-file")


async def test_in_local_mode_files_are_read_where_the_server_keeps_them(tmp_path: Path) -> None:
    opml = b'<?xml version="1.0"?><opml version="2.0"><body/></opml>'
    async with BotApiEmulator(local_files=tmp_path / "bot-api") as api:
        update = api.send_document(90, "ленты.opml", opml, mime_type="text/x-opml")
        file_id = update["message"]["document"]["file_id"]
        local = TelegramAPIServer.from_base(api.base_url, is_local=True)
        bot = Bot(DEFAULT_TOKEN, session=AiohttpSession(api=local))
        try:
            telegram_file = await bot.get_file(file_id)
            assert telegram_file.file_path is not None
            path = Path(telegram_file.file_path)
            assert path.is_absolute() and path.is_relative_to(tmp_path / "bot-api")
            downloaded = io.BytesIO()
            await bot.download_file(telegram_file.file_path, downloaded)
            assert downloaded.getvalue() == opml
            # Files are not served over HTTP in local mode, not even under their own name.
            async with aiohttp.ClientSession() as client:
                url = local.file_url(DEFAULT_TOKEN, api.files[file_id].file_path)
                async with client.get(url) as response:
                    assert response.status == 404
        finally:
            await bot.session.close()


async def test_bot_settings_methods_are_recorded(api: BotApiEmulator, bot: Bot) -> None:
    commands = [BotCommand(command="agreements", description="Соглашения по стране")]
    assert await bot.set_my_commands(commands, language_code="ru")
    stored = await bot.get_my_commands(language_code="ru")
    assert [(item.command, item.description) for item in stored] == [
        ("agreements", "Соглашения по стране")
    ]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Соглашения", description="нет")])
    assert await bot.delete_my_commands(language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == []
    assert await bot.set_my_description("Дайджест региональной прессы")
    assert await bot.set_my_short_description("Сотрудничество региона")
    assert api.descriptions[""] == "Дайджест региональной прессы"
    assert api.short_descriptions[""] == "Сотрудничество региона"
    assert await bot.send_chat_action(5, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(5, "dancing")
    assert api.chat_actions == [(5, "typing")]


# ------------------------------------------------------------------ other processes


async def test_control_interface_drives_the_emulator_over_http(api: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as http, running(api) as bot:
        control = f"{api.base_url}/_emulator"
        async with http.post(f"{control}/block_chat", json={"chat_id": 95}) as response:
            assert response.status == 200
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(95, "Дайджест")
        content = base64.b64encode("Привет".encode()).decode()
        payload = {"chat_id": 96, "filename": "a.txt", "content_base64": content}
        async with http.post(f"{control}/send_document", json=payload) as response:
            assert (await response.json())["result"]["message"]["document"]["file_size"] == 12
        await bot.send_message(96, "Файл получен")
        async with http.get(f"{control}/messages", params={"chat_id": "96"}) as response:
            records = (await response.json())["result"]
        assert [record["text"] for record in records] == ["Файл получен"]
        async with http.get(f"{control}/stats") as response:
            stats = (await response.json())["result"]
        assert stats["sent"] == 1 and stats["rejected"] == 1


async def test_standalone_process_prints_its_base_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testing.telegram",
        "--port",
        "0",
        "--no-rate-limits",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}/bot{DEFAULT_TOKEN}/getMe") as response,
        ):
            assert (await response.json())["result"]["id"] == 100000
    finally:
        process.terminate()
        _, errors = await asyncio.wait_for(process.communicate(), 10)
    assert json.loads(errors.decode().strip().splitlines()[-1])["call_counts"] == {"getMe": 1}


async def test_group_updates_and_markers(api: BotApiEmulator, bot: Bot) -> None:
    added = api.bot_added_to_group(-200, "Экспортёры Омска", added_by=7, as_admin=True)
    assert added["my_chat_member"]["new_chat_member"]["status"] == "administrator"
    assert (await bot.get_chat_member(-200, 7)).status == "creator"
    update = api.send_user_message(-200, "/subscribe@regdigest_bot", user_id=8)
    assert update["message"]["chat"] == {"id": -200, "type": "group", "title": "Экспортёры Омска"}
    assert update["message"]["from"]["id"] == 8
    assert (await bot.get_chat_member(-200, 8)).status == "member"

    await bot.send_message(-200, "Первый дайджест")
    marker = api.marker()
    waiting = asyncio.create_task(
        api.wait_for_messages(-200, since=marker, predicate=lambda r: "Второй" in (r.text or ""))
    )
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await bot.send_message(-200, "Второй дайджест")
    assert [record.text for record in await waiting] == ["Второй дайджест"]
    with pytest.raises(TimeoutError, match="expected 3 message"):
        await api.wait_for_messages(-200, count=3, timeout=0.1)

    blocked = api.user_blocks_bot(77)
    assert blocked["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert [u["update_id"] for u in api.pending_updates()] == [
        added["update_id"],
        update["update_id"],
        blocked["update_id"],
    ]
