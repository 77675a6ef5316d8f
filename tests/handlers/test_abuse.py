from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_dispatcher
from core.settings import Settings
from handlers.middlewares import TokenBucket
from testing.telegram import Conversation, MockedSession, answers, calls, texts
from tests.handlers.conftest import ConversationFactory, generous_bucket

Sessions = async_sessionmaker[AsyncSession]
SLOW_DOWN = "Слишком много запросов. Подождите несколько секунд и попробуйте снова."


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_warns_once_per_flood() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=3, rate=1.0, clock=clock)
    results = [bucket.take(1) for _ in range(10)]
    assert results[:3] == [(True, False)] * 3
    assert results[3] == (False, True)
    assert results[4:] == [(False, False)] * 6
    assert bucket.take(2) == (True, False)

    clock.now += 1.0
    assert bucket.take(1) == (True, False)
    assert bucket.take(1) == (False, False)

    clock.now += 10.0
    assert [bucket.take(1) for _ in range(4)][-1] == (False, True)


async def test_a_flood_gets_one_slow_down(
    settings: Settings, session_factory: Sessions, bot: Bot, mocked_session: MockedSession
) -> None:
    clock = FakeClock()
    dispatcher = create_dispatcher(
        settings=settings,
        session_factory=session_factory,
        message_bucket=TokenBucket(capacity=5, rate=1.0, clock=clock),
        callback_bucket=TokenBucket(capacity=5, rate=1.0, clock=clock),
    )
    chat = Conversation(dispatcher, bot, mocked_session, 1001)
    replies: list[str] = []
    for _ in range(50):
        replies += texts(await chat.send("/help"))
    assert replies.count(SLOW_DOWN) == 1
    assert len(replies) == 6

    other = Conversation(dispatcher, bot, mocked_session, 1002)
    assert texts(await other.send("/help"))[0].startswith("Что я умею")

    clock.now += 30
    assert texts(await chat.send("/help"))[0].startswith("Что я умею")

    pressed = [answers(await chat.press("garbage", message_id=1)) for _ in range(8)]
    slow = [a for group in pressed for a in group if a.text == SLOW_DOWN]
    assert len(slow) == 1


async def test_unknown_command_and_plain_text_in_private(private: Conversation) -> None:
    assert texts(await private.send("/weather")) == ["Не знаю такой команды. Что я умею — /help."]
    assert texts(await private.send("привет"))[0].startswith("Я отвечаю на команды.")


@pytest.mark.errors_expected
async def test_a_failing_handler_is_logged_and_answered(
    private: Conversation, session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    async with session_factory() as session:
        await session.execute(text("DROP TABLE articles_fts"))
        await session.commit()
    sent = await private.send("/search соглашение")
    assert texts(sent) == ["Что-то пошло не так с моей стороны. Попробуйте ещё раз через минуту."]
    assert any("update" in record.getMessage() for record in caplog.records)


@pytest.mark.errors_expected
async def test_a_failing_button_is_answered(
    private: Conversation, session_factory: Sessions
) -> None:
    async with session_factory() as session:
        await session.execute(text("DROP TABLE articles_fts"))
        await session.commit()
    sent = await private.press("ar:s:::0:1:соглашение", message_id=1)
    (answer,) = calls(sent, AnswerCallbackQuery)
    assert answer.text == "Что-то пошло не так с моей стороны. Попробуйте ещё раз через минуту."
    assert answer.show_alert


async def test_telegram_refusing_an_edit_falls_back_to_a_new_message(
    private: Conversation, mocked_session: MockedSession
) -> None:
    from aiogram.methods import EditMessageText

    (reply,) = await private.send("/agreements uz")
    assert reply.message_id is not None
    mocked_session.fail(EditMessageText, 400, "Bad Request: message can't be edited")
    sent = await private.press("ar:a:UZ::0:0:", message_id=reply.message_id)
    refused = [call for call in sent if isinstance(call.method, EditMessageText)]
    assert refused and refused[0].result is None
    assert calls(sent, SendMessage)


async def test_generous_bucket_lets_a_quick_user_through(private: Conversation) -> None:
    bucket = generous_bucket()
    assert all(bucket.take(1)[0] for _ in range(100))


@pytest.mark.errors_expected
async def test_a_broken_database_still_gets_an_answer(
    conversation: ConversationFactory, session_factory: Sessions
) -> None:
    async with session_factory() as session:
        await session.execute(text("PRAGMA foreign_keys=OFF"))
        await session.execute(text("DROP TABLE chats"))
        await session.commit()
    english = conversation(4004, language_code="en")
    assert texts(await english.send("/help"))[0].startswith("What I can do")
    assert texts(await english.send("/start")) == [
        "Something went wrong on my side. Please try again in a minute."
    ]
