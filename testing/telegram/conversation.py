"""One chat with the bot in handler tests, and readers of what the bot did.

A :class:`Conversation` acts through the fake Telegram behind a :class:`MockedSession`
(a person writes, sends a file, presses a button, blocks the bot), takes the update
Telegram would deliver and feeds it straight to the real Dispatcher; each action returns
the calls the bot made in answer. ``texts``, ``keyboard``, ``button`` … read those calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, Update

from testing.telegram.entities import JsonDict, visible_text
from testing.telegram.session import MockedSession, Sent

USER_FIRST_NAME = "Анна"
DEFAULT_GROUP_TITLE = "Группа"
OPML_MIME_TYPE = "text/x-opml"


class Conversation:
    """One chat with the bot: a person's actions become real updates for the Dispatcher."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        session: MockedSession,
        chat_id: int,
        *,
        user_id: int | None = None,
        language_code: str | None = "ru",
        chat_type: str = "private",
        title: str | None = None,
        drain_outbox: bool = True,
    ) -> None:
        """`drain_outbox=False` leaves what an update queued in the outbox (the latest
        articles after subscribing) to a sender the caller runs, as the bot process runs
        one; by default each update waits for it and sends it, as the person sees it."""
        self.dispatcher = dispatcher
        self.bot = bot
        self.session = session
        self.telegram = session.telegram
        self.chat_id = chat_id
        self.user_id = user_id if user_id is not None else chat_id
        self.language_code = language_code
        self.chat_type = chat_type
        self.title = title
        self.drain_outbox = drain_outbox
        group_title = None if chat_type == "private" else title or DEFAULT_GROUP_TITLE
        self.telegram.ensure_chat(chat_id, chat_type, title=group_title)

    async def feed(self, update: JsonDict) -> list[Sent]:
        """Deliver a hand-made update (``{"message": {...}}``; Telegram numbers it)."""
        kinds = [key for key in update if key != "update_id"]
        if len(kinds) != 1:
            raise ValueError(f"an update has one kind, not {kinds}")
        return await self._deliver(self.telegram.push_update(kinds[0], update[kinds[0]]))

    async def _deliver(self, update: JsonDict) -> list[Sent]:
        start = len(self.session.log)
        self.telegram.confirm_updates(update["update_id"] + 1)
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        # What the update left to do after its reply (the latest articles after
        # subscribing, composed into the outbox and sent by the sender) is part of the
        # bot's answer as the person sees it.
        welcome = self.dispatcher.workflow_data.get("welcome")
        if welcome is not None and self.drain_outbox:
            queued = welcome.report.messages
            await welcome.join()
            if welcome.report.messages > queued:
                await self.send_outbox()
        return self.session.log[start:]

    async def send_outbox(self) -> None:
        """What the bot's sender would send now, sent (the outbox drained)."""
        from delivery.sender import Sender

        sender = Sender(self.bot, self.dispatcher["session_factory"], rate=1000.0, idle_poll=0.05)
        await sender.run_until_empty()

    def _sender(self, user_id: int | None) -> int:
        return user_id if user_id is not None else self.user_id

    async def send(
        self, text: str, *, user_id: int | None = None, thread_id: int | None = None
    ) -> list[Sent]:
        """A person writes `text` (inside forum topic `thread_id` when given)."""
        update = self.telegram.send_user_message(
            self.chat_id,
            text,
            self._sender(user_id),
            self.language_code,
            self.chat_type,
            first_name=USER_FIRST_NAME,
            message_thread_id=thread_id,
        )
        return await self._deliver(update)

    async def send_document(
        self, filename: str, content: bytes, *, user_id: int | None = None
    ) -> list[Sent]:
        update = self.telegram.send_document(
            self.chat_id,
            filename,
            content,
            self._sender(user_id),
            mime_type=OPML_MIME_TYPE,
            language_code=self.language_code,
            chat_type=self.chat_type,
            first_name=USER_FIRST_NAME,
        )
        return await self._deliver(update)

    async def press(
        self,
        data: str | CallbackData,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> list[Sent]:
        """Press a button with ``data`` under ``message_id`` (by default the last message
        with a keyboard); the bot sees that message as Telegram has it now."""
        packed = data.pack() if isinstance(data, CallbackData) else data
        if message_id is None:
            message_id = self.last_keyboard_message_id()
        self.telegram.press_button(
            self.chat_id,
            message_id,
            packed,
            self._sender(user_id),
            language_code=self.language_code,
            first_name=USER_FIRST_NAME,
        )
        return await self._deliver(self.telegram.updates[-1])

    async def member_status(self, old: str, new: str, *, user_id: int | None = None) -> list[Sent]:
        """Someone changes the bot's status in this chat (``kicked`` in a private chat:
        the user blocked the bot)."""
        update = self.telegram.bot_status_changed(
            self.chat_id,
            old,
            new,
            self._sender(user_id),
            language_code=self.language_code,
            first_name=USER_FIRST_NAME,
        )
        return await self._deliver(update)

    def last_keyboard_message_id(self) -> int:
        for sent in reversed(self.session.log):
            method = sent.method
            if (
                isinstance(method, SendMessage | EditMessageText)
                and isinstance(method.reply_markup, InlineKeyboardMarkup)
                and str(method.chat_id) == str(self.chat_id)
                and sent.message_id is not None
            ):
                return sent.message_id
        raise AssertionError("the bot has not sent a keyboard to this chat")


# Reading what the bot did ----------------------------------------------------------------------


def texts(sent: Sequence[Sent]) -> list[str]:
    """Texts of sent and edited messages, as the user sees them (tags removed)."""
    return [visible_text(text) for text in html_texts(sent)]


def html_texts(sent: Sequence[Sent]) -> list[str]:
    return [
        item.method.text or ""
        for item in sent
        if isinstance(item.method, SendMessage | EditMessageText)
    ]


def answers(sent: Sequence[Sent]) -> list[AnswerCallbackQuery]:
    return [item.method for item in sent if isinstance(item.method, AnswerCallbackQuery)]


def keyboard(sent: Sequence[Sent]) -> list[tuple[str, str]]:
    """(text, callback_data) of the buttons of the last message with an inline keyboard."""
    for item in reversed(sent):
        method = item.method
        if isinstance(method, SendMessage | EditMessageText) and isinstance(
            method.reply_markup, InlineKeyboardMarkup
        ):
            return [
                (button.text, button.callback_data or "")
                for row in method.reply_markup.inline_keyboard
                for button in row
            ]
    return []


def button(sent: Sequence[Sent], text_part: str) -> str:
    """The callback data of the button whose text contains `text_part`."""
    for text, data in keyboard(sent):
        if text_part in text:
            return data
    raise AssertionError(f"no button with {text_part!r} in {keyboard(sent)}")


def calls(sent: Sequence[Sent], method: type[TelegramMethod[Any]]) -> list[Any]:
    return [item.method for item in sent if isinstance(item.method, method)]
