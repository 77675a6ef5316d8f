"""The latest articles after subscribing come after the reply: requested with the
subscription, composed into the outbox by the bot's WelcomeComposer, sent by the sender."""

from __future__ import annotations

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.welcome import WELCOME_KIND
from handlers.screens import ZonePick
from storage.chats import get_chat, sent_article_ids
from storage.models import OutboxMessage
from testing.telegram import Conversation, MockedSession, calls, texts
from tests.handlers.conftest import ArticleSeeder, ConversationFactory
from tests.handlers.helpers import reach_the_zone_step

Sessions = async_sessionmaker[AsyncSession]


async def press_zone_without_waiting(chat: Conversation, dispatcher: Dispatcher, bot: Bot) -> None:
    """The zone tap as the bot gets it, returning when the update is handled, not when its
    welcome message is composed and sent (Conversation.press waits for all of it)."""
    chat.telegram.press_button(
        chat.chat_id,
        chat.last_keyboard_message_id(),
        ZonePick(action="s", value="Asia/Omsk").pack(),
        chat.user_id,
        language_code=chat.language_code,
    )
    update = chat.telegram.updates[-1]
    chat.telegram.confirm_updates(update["update_id"] + 1)
    await dispatcher.feed_update(bot, Update.model_validate(update, context={"bot": bot}))


@pytest.fixture
async def uzbek_article(articles: ArticleSeeder) -> int:
    return await articles.add(
        "Омская область и Ташкент договорились о поставках техники",
        countries={"UZ": 0.95},
        topics={"agreements": 0.9},
    )


async def test_the_reply_comes_first_then_the_latest_articles(
    private: Conversation, uzbek_article: int
) -> None:
    await reach_the_zone_step(private, "UZ")

    done = await private.press(ZonePick(action="s", value="Asia/Omsk"))

    messages = [
        item.method for item in done if isinstance(item.method, SendMessage | EditMessageText)
    ]
    assert [type(method) for method in messages] == [EditMessageText, SendMessage]
    summary, latest = texts(done)
    assert "Подписка оформлена!" in summary
    assert "Свежее по вашим странам" in latest and "поставках техники" in latest


async def test_the_latest_articles_are_in_the_chat_language(
    conversation: ConversationFactory, uzbek_article: int
) -> None:
    english = conversation(2002, language_code="en")
    await reach_the_zone_step(english, "UZ")

    done = await english.press(ZonePick(action="s", value="Asia/Omsk"))

    assert "Latest on your countries" in texts(done)[-1]


async def test_a_stop_leaves_the_messages_in_the_outbox_for_the_sender(
    conversation: ConversationFactory,
    dispatcher: Dispatcher,
    bot: Bot,
    mocked_session: MockedSession,
    session_factory: Sessions,
    uzbek_article: int,
) -> None:
    chats = [conversation(3000 + number) for number in range(5)]
    for chat in chats:
        await reach_the_zone_step(chat, "UZ")
    for chat in chats:
        await press_zone_without_waiting(chat, dispatcher, bot)

    await dispatcher.emit_shutdown(bot=bot)

    assert not [
        method
        for method in calls(mocked_session.log, SendMessage)
        if "Свежее по вашим странам" in (method.text or "")
    ]
    async with session_factory() as session:
        queued = list(
            await session.scalars(
                select(OutboxMessage.chat_id).where(OutboxMessage.kind == WELCOME_KIND)
            )
        )
        assert sorted(queued) == [chat.chat_id for chat in chats]
        for chat in chats:
            assert await sent_article_ids(session, chat.chat_id) == {uzbek_article}
    # The next process's sender.
    await chats[0].send_outbox()
    latest_to = [
        int(method.chat_id)
        for method in calls(mocked_session.log, SendMessage)
        if "Свежее по вашим странам" in (method.text or "")
    ]
    assert sorted(latest_to) == [chat.chat_id for chat in chats]


@pytest.mark.rejections_expected
async def test_a_chat_that_blocked_the_bot_does_not_hold_up_the_next(
    conversation: ConversationFactory,
    mocked_session: MockedSession,
    session_factory: Sessions,
    uzbek_article: int,
) -> None:
    blocked, next_chat = conversation(4001), conversation(4002)
    await reach_the_zone_step(blocked, "UZ")
    await reach_the_zone_step(next_chat, "UZ")
    mocked_session.telegram.fail_next(
        "sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=blocked.chat_id
    )

    blocked_done = await blocked.press(ZonePick(action="s", value="Asia/Omsk"))
    next_done = await next_chat.press(ZonePick(action="s", value="Asia/Omsk"))

    assert "Подписка оформлена!" in texts(blocked_done)[0]
    assert "Свежее по вашим странам" in texts(next_done)[-1]
    async with session_factory() as session:
        blocked_chat = await get_chat(session, blocked.chat_id)
        assert blocked_chat is not None and not blocked_chat.active
        assert await sent_article_ids(session, next_chat.chat_id) == {uzbek_article}


async def test_an_empty_archive_says_so(private: Conversation) -> None:
    await reach_the_zone_step(private, "UZ")

    done = await private.press(ZonePick(action="s", value="Asia/Omsk"))

    assert texts(done)[-1].startswith("В архиве пока нет материалов по вашим странам")
