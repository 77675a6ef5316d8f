from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.screens import CountryPick, TimePick, TopicPick, ZonePick
from storage.chats import ChatRecord, get_chat
from testing.telegram import Conversation


async def reach_the_zone_step(chat: Conversation, *codes: str, user_id: int | None = None) -> None:
    """Goes through /start with the given countries, all topics, 09:00, up to the last
    step: the time zone."""
    await chat.send("/start", user_id=user_id)
    for code in codes:
        await chat.press(CountryPick(action="t", value=code), user_id=user_id)
    await chat.press(CountryPick(action="d"), user_id=user_id)
    await chat.press(TopicPick(action="d"), user_id=user_id)
    await chat.press(TimePick(action="s", value="0900"), user_id=user_id)


async def subscribe(
    chat: Conversation, *codes: str, user_id: int | None = None, zone: str = "Asia/Omsk"
) -> None:
    """Goes through /start with the given countries, all topics, 09:00 and `zone`."""
    await reach_the_zone_step(chat, *codes, user_id=user_id)
    await chat.press(ZonePick(action="s", value=zone), user_id=user_id)


async def load_chat(
    session_factory: async_sessionmaker[AsyncSession], chat_id: int
) -> ChatRecord | None:
    async with session_factory() as session:
        return await get_chat(session, chat_id)
