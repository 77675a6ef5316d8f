from __future__ import annotations

from aiogram.methods import GetChatMember, SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.screens import CountryPick
from testing.telegram import (
    BOT_USERNAME,
    Conversation,
    MockedSession,
    answers,
    calls,
    texts,
)
from tests.handlers.conftest import ArticleSeeder, ConversationFactory
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]
GROUP_ID = -1001234567890
GROUP_ADMIN = 5001
MEMBER = 5002


def _group(conversation: ConversationFactory, session: MockedSession) -> Conversation:
    session.chat_admins[GROUP_ID] = {GROUP_ADMIN}
    return conversation(GROUP_ID, chat_type="supergroup", user_id=MEMBER, title="Экспортёры")


async def test_a_group_admin_subscribes_the_group(
    conversation: ConversationFactory, mocked_session: MockedSession, session_factory: Sessions
) -> None:
    group = _group(conversation, mocked_session)
    started = await group.send("/start", user_id=GROUP_ADMIN)
    assert calls(started, GetChatMember)[0].user_id == GROUP_ADMIN
    assert "Настроим подписку этого чата" in texts(started)[0]

    await subscribe(group, "KZ", user_id=GROUP_ADMIN)
    chat = await load_chat(session_factory, GROUP_ID)
    assert chat is not None and chat.subscribed and chat.type == "supergroup"
    assert chat.title == "Экспортёры" and chat.countries == {"KZ"}


async def test_members_are_refused_politely(
    conversation: ConversationFactory, mocked_session: MockedSession, session_factory: Sessions
) -> None:
    group = _group(conversation, mocked_session)
    refusal = "Менять подписку этого чата могут только его администраторы."
    for command in ("/start", "/settings", "/pause", "/resume", "/stop", "/language"):
        assert texts(await group.send(command)) == [refusal], command

    await group.send("/start", user_id=GROUP_ADMIN)
    pressed = await group.press(CountryPick(action="t", value="UZ"))
    (answer,) = answers(pressed)
    assert answer.text == refusal and answer.show_alert
    chat = await load_chat(session_factory, GROUP_ID)
    assert chat is not None and chat.countries == frozenset()


async def test_anonymous_group_admin_is_an_admin(
    conversation: ConversationFactory, mocked_session: MockedSession
) -> None:
    group = _group(conversation, mocked_session)
    update = {
        "message": {
            "message_id": 77,
            "date": 0,
            "chat": {"id": GROUP_ID, "type": "supergroup", "title": "Экспортёры"},
            "from": {"id": 1087968824, "is_bot": True, "first_name": "Group"},
            "sender_chat": {"id": GROUP_ID, "type": "supergroup", "title": "Экспортёры"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        }
    }
    sent = await group.feed(update)
    assert "Настроим подписку этого чата" in texts(sent)[0]
    assert not calls(sent, GetChatMember)


async def test_everyone_can_read_the_archive_with_a_mention(
    conversation: ConversationFactory, mocked_session: MockedSession, articles: ArticleSeeder
) -> None:
    await articles.add("Казахстанские инвестиции", countries={"KZ": 0.9}, topics={})
    group = _group(conversation, mocked_session)

    answer = await group.send(f"/news@{BOT_USERNAME} Казахстан")
    assert "Казахстанские инвестиции" in texts(answer)[0]
    ignored = await group.send("/news@other_bot Казахстан")
    assert not calls(ignored, SendMessage)


async def test_unknown_commands_in_groups_are_answered_only_when_addressed(
    conversation: ConversationFactory, mocked_session: MockedSession
) -> None:
    group = _group(conversation, mocked_session)
    assert not calls(await group.send("/weather"), SendMessage)
    assert not calls(await group.send("/weather@other_bot"), SendMessage)
    hint = texts(await group.send(f"/weather@{BOT_USERNAME}"))
    assert hint == ["Не знаю такой команды. Что я умею — /help."]
    assert not calls(await group.send("просто разговор"), SendMessage)


async def test_a_channel_subscribes_through_posts(
    conversation: ConversationFactory, session_factory: Sessions
) -> None:
    channel = conversation(-1009876543210, chat_type="channel", title="Новости экспорта")
    started = await channel.send("/start")
    assert "Настроим подписку этого чата" in texts(started)[0]
    chat = await load_chat(session_factory, channel.chat_id)
    assert chat is not None and chat.type == "channel"


async def test_the_bot_added_to_a_group_introduces_itself(
    conversation: ConversationFactory, mocked_session: MockedSession
) -> None:
    group = _group(conversation, mocked_session)
    sent = await group.member_status("left", "member", user_id=GROUP_ADMIN)
    assert "Спасибо, что добавили меня!" in texts(sent)[0]
