"""The in-process session answers from the same fake Telegram as the HTTP emulator, and the
one HTML checker flags what Telegram refuses or quietly spoils."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramServerError
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from testing.telegram import BOT_TOKEN, NOT_MODIFIED, MockedSession, html_errors, visible_text


@pytest.fixture
async def session() -> AsyncIterator[MockedSession]:
    yield MockedSession()


@pytest.fixture
async def bot(session: MockedSession) -> AsyncIterator[Bot]:
    client = Bot(BOT_TOKEN, session=session)
    yield client
    await client.session.close()


async def test_bad_html_gets_telegrams_reason(session: MockedSession, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br" at byte offset 12'):
        await bot.send_message(5, "строка<br>перенос", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(5, "ж" * 4097)
    assert [line.split(":")[0] for line in session.rejections] == ["sendMessage"] * 2
    assert session.telegram.sent_messages == []


async def test_messages_keep_one_id_sequence_per_chat_and_edits_are_checked(
    session: MockedSession, bot: Bot
) -> None:
    session.telegram.send_user_message(7, "/start")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data="yes")]]
    )
    sent = await bot.send_message(7, "<b>Привет</b>", parse_mode="HTML", reply_markup=markup)
    assert sent.message_id == 2 and sent.text == "Привет"
    assert session.log[-1].message_id == 2 and isinstance(session.log[-1].method, SendMessage)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<b>Привет</b>", chat_id=7, message_id=2, parse_mode="HTML", reply_markup=markup
        )
    assert session.rejections == [f"editMessageText: {NOT_MODIFIED}"]
    query = session.telegram.press_button(7, 2, "yes")
    assert session.telegram.updates[-1]["callback_query"]["message"]["text"] == "Привет"
    assert await bot.answer_callback_query(query)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query)


async def test_planned_failures_are_not_rejections(session: MockedSession, bot: Bot) -> None:
    session.fail(SendMessage, 500, "Internal Server Error")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(8, "Дайджест")
    assert session.rejections == []
    assert (await bot.send_message(8, "Дайджест")).message_id == 1


async def test_a_blocked_chat_is_refused(session: MockedSession, bot: Bot) -> None:
    session.telegram.bot_status_changed(9, "member", "kicked")
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(9, "Дайджест")
    session.telegram.bot_status_changed(9, "kicked", "member")
    assert (await bot.send_message(9, "Дайджест")).text == "Дайджест"


async def test_files_go_both_ways(session: MockedSession, bot: Bot) -> None:
    update = session.telegram.send_document(10, "feeds.opml", b"<opml/>", mime_type="text/x-opml")
    file = await bot.get_file(update["message"]["document"]["file_id"])
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"<opml/>"
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(10, BufferedInputFile(b"not an image", filename="chart.png"))


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("a & b", 'Character "&" must be escaped'),
        ('<a href="https://x.ru/?a=1&b=2">x</a>', 'Character "&" must be escaped'),
        ('<a href="javascript:x">x</a>', "would drop or rewrite"),
        ('<a href="ya.ru">ya</a>', "would drop or rewrite"),
        ('<a href="https://x.ru">a <a href="https://y.ru">b</a></a>', "a link inside a link"),
        ("\ud83d", "must be encoded in UTF-8"),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_html_errors_names_the_problem(markup: str, reason: str) -> None:
    errors = html_errors(markup)
    assert errors and reason in errors[0], errors


def test_html_errors_accepts_what_telegram_takes_as_written() -> None:
    markup = '<b>5 > 3</b> <a href="https://x.ru/?a=1&amp;b=2">x</a> <blockquote>ц</blockquote>'
    assert html_errors(markup) == []
    assert visible_text(markup) == "5 > 3 x ц"
