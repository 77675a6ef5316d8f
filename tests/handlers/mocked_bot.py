"""A Bot API double at the HTTP-session boundary, and builders of incoming updates.

`MockedSession` replaces aiogram's HTTP session: every method the bot calls is recorded
and answered the way Telegram answers it (a Message for sendMessage, True for
answerCallbackQuery …), after Telegram's own checks that matter here: well-formed HTML,
the 4096-character text limit, 64-byte callback data, "message is not modified".
Everything above it (the Dispatcher, middlewares, routers, storage) is the real code.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChatMember,
    GetFile,
    GetMe,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Update

BOT_ID = 4242
BOT_USERNAME = "regdigest_test_bot"
BOT_TOKEN = f"{BOT_ID}:AAE-test-token-for-handler-tests-0123"
ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler"}
)
_TAG = re.compile(r"<[^>]+>")


class _TelegramHtmlChecker(HTMLParser):
    """Telegram rejects unknown tags, unbalanced tags and stray '<' or '&'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"unsupported start tag {tag!r}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected end tag {tag!r}")
        else:
            self.stack.pop()


def html_errors(text: str) -> list[str]:
    checker = _TelegramHtmlChecker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        checker.errors.append(f"unclosed tags {checker.stack}")
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        checker.errors.append("unescaped '&'")
    stripped = _TAG.sub("", text)
    if "<" in stripped or ">" in stripped.replace("&gt;", ""):
        checker.errors.append("unescaped '<' or '>'")
    return checker.errors


def visible_text(text: str) -> str:
    import html

    return html.unescape(_TAG.sub("", text))


@dataclass
class Sent:
    """One recorded call and, for calls that create or edit a message, its id."""

    method: TelegramMethod[Any]
    message_id: int | None = None


class MockedSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[Sent] = []
        self.chat_types: dict[int, str] = {}
        self.chat_admins: dict[int, set[int]] = {}
        self.files: dict[str, bytes] = {}
        self.failures: dict[type[TelegramMethod[Any]], list[tuple[int, str]]] = {}
        self.texts: dict[tuple[int, int], tuple[str, str]] = {}
        self.on_request: Callable[[TelegramMethod[Any]], None] | None = None
        self.rejections: list[str] = []
        self.answered_callbacks: set[str] = set()
        self._message_ids = itertools.count(5000)

    @property
    def requests(self) -> list[TelegramMethod[Any]]:
        return [sent.method for sent in self.log]

    async def close(self) -> None:
        return None

    def fail(
        self, method: type[TelegramMethod[Any]], status: int, description: str, *, times: int = 1
    ) -> None:
        """The next `times` calls of `method` get this error answer."""
        self.failures.setdefault(method, []).extend([(status, description)] * times)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - the signature of BaseSession
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        path = url.rsplit("/", 1)[-1]
        yield self.files[path]

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109 - the signature of BaseSession
    ) -> Any:
        sent = Sent(method)
        self.log.append(sent)
        if self.on_request is not None:
            self.on_request(method)
        planned = self.failures.get(type(method))
        if planned:
            status, result = planned.pop(0)
        else:
            status, result = self._respond(bot, method, sent)
            if status != 200:
                self.rejections.append(f"{type(method).__name__}: {result}")
        if status == 200:
            content = json.dumps({"ok": True, "result": result})
        else:
            content = json.dumps({"ok": False, "error_code": status, "description": result})
        return self.check_response(bot, method, status, content).result

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        chat_id = int(chat_id)
        chat_type = self.chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Test"
        else:
            chat["title"] = "Test group"
        return chat

    def _check_text(self, text: str, markup: Any) -> str | None:
        errors = html_errors(text)
        if errors:
            return "Bad Request: can't parse entities: " + "; ".join(errors)
        if len(visible_text(text).encode("utf-16-le")) // 2 > 4096:
            return "Bad Request: message is too long"
        if not visible_text(text).strip():
            return "Bad Request: message text is empty"
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for button in row:
                    data = button.callback_data
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        return "Bad Request: BUTTON_DATA_INVALID"
        return None

    def _message(self, chat_id: int | str, text: str, message_id: int) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Digest"},
            "text": visible_text(text),
        }

    def _respond(self, bot: Bot, method: TelegramMethod[Any], sent: Sent) -> tuple[int, Any]:
        if isinstance(method, GetMe):
            return 200, {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Digest",
                "username": BOT_USERNAME,
            }
        if isinstance(method, SendMessage):
            error = self._check_text(method.text, method.reply_markup)
            if error:
                return 400, error
            message_id = next(self._message_ids)
            sent.message_id = message_id
            self.texts[(int(method.chat_id), message_id)] = (
                method.text,
                _markup_key(method.reply_markup),
            )
            return 200, self._message(method.chat_id, method.text, message_id)
        if isinstance(method, EditMessageText):
            text = method.text or ""
            error = self._check_text(text, method.reply_markup)
            if error:
                return 400, error
            assert method.chat_id is not None and method.message_id is not None
            key = (int(method.chat_id), method.message_id)
            new = (text, _markup_key(method.reply_markup))
            if self.texts.get(key) == new:
                return 400, "Bad Request: message is not modified"
            self.texts[key] = new
            sent.message_id = method.message_id
            return 200, self._message(method.chat_id, text, method.message_id)
        if isinstance(method, EditMessageReplyMarkup):
            return 200, True
        if isinstance(method, AnswerCallbackQuery):
            if method.text is not None and len(method.text) > 200:
                return 400, "Bad Request: MESSAGE_TOO_LONG"
            if method.callback_query_id in self.answered_callbacks:
                return 400, (
                    "Bad Request: query is too old and response timeout expired "
                    "or query ID is invalid"
                )
            self.answered_callbacks.add(method.callback_query_id)
            return 200, True
        if isinstance(method, SendChatAction):
            return 200, True
        if isinstance(method, GetChatMember):
            admins = self.chat_admins.get(int(method.chat_id), set())
            user = {"id": method.user_id, "is_bot": False, "first_name": "Member"}
            if method.user_id in admins:
                return 200, {
                    "status": "administrator",
                    "user": user,
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_send_welcome_messages": False,
                }
            return 200, {"status": "member", "user": user}
        if isinstance(method, GetFile):
            return 200, {
                "file_id": method.file_id,
                "file_unique_id": f"u-{method.file_id}",
                "file_size": len(self.files.get(method.file_id, b"")),
                "file_path": method.file_id,
            }
        if isinstance(method, SendPhoto):
            caption = method.caption or ""
            errors = html_errors(caption)
            if errors:
                return 400, "Bad Request: can't parse entities: " + "; ".join(errors)
            if len(visible_text(caption).encode("utf-16-le")) // 2 > 1024:
                return 400, "Bad Request: message caption is too long"
            if not isinstance(method.photo, BufferedInputFile) or not method.photo.data:
                return 400, "Bad Request: there is no photo in the request"
            message_id = next(self._message_ids)
            sent.message_id = message_id
            message = self._message(method.chat_id, "photo", message_id)
            del message["text"]
            message["photo"] = [
                {"file_id": f"photo-{message_id}", "file_unique_id": "p", "width": 1, "height": 1}
            ]
            if caption:
                message["caption"] = visible_text(caption)
            return 200, message
        if isinstance(method, SendDocument):
            message_id = next(self._message_ids)
            sent.message_id = message_id
            message = self._message(method.chat_id, "document", message_id)
            del message["text"]
            message["document"] = {"file_id": f"doc-{message_id}", "file_unique_id": "d"}
            return 200, message
        # setMyCommands, setMyDescription, deleteWebhook … succeed with True.
        return 200, True


def _markup_key(markup: Any) -> str:
    return markup.model_dump_json(exclude_none=True) if markup is not None else ""


# Incoming updates ----------------------------------------------------------------------------


_update_ids = itertools.count(1)


class Conversation:
    """One chat with the bot: builds real Update objects and feeds them to the Dispatcher."""

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
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.session = session
        self.chat_id = chat_id
        self.user_id = user_id if user_id is not None else chat_id
        self.language_code = language_code
        self.chat_type = chat_type
        self.title = title
        self._message_ids = itertools.count(1)
        session.chat_types[chat_id] = chat_type

    def _chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.chat_id, "type": self.chat_type}
        if self.chat_type == "private":
            chat["first_name"] = "Анна"
        else:
            chat["title"] = self.title or "Группа"
        return chat

    def _user(self, user_id: int | None) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id if user_id is not None else self.user_id,
            "is_bot": False,
            "first_name": "Анна",
        }
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    async def feed(self, update: dict[str, Any]) -> list[Sent]:
        start = len(self.session.log)
        update = {"update_id": next(_update_ids), **update}
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        return self.session.log[start:]

    def _message(self, user_id: int | None, **fields: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(),
            **fields,
        }
        if self.chat_type == "channel":
            message["sender_chat"] = self._chat()
        else:
            message["from"] = self._user(user_id)
        return message

    async def send(self, text: str, *, user_id: int | None = None) -> list[Sent]:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        message = self._message(user_id, text=text, entities=entities)
        key = "channel_post" if self.chat_type == "channel" else "message"
        return await self.feed({key: message})

    async def send_document(
        self, filename: str, content: bytes, *, user_id: int | None = None
    ) -> list[Sent]:
        file_id = f"file-{next(_update_ids)}"
        self.session.files[file_id] = content
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": filename,
            "mime_type": "text/x-opml",
            "file_size": len(content),
        }
        return await self.feed({"message": self._message(user_id, document=document)})

    async def press(
        self,
        data: str | CallbackData,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> list[Sent]:
        packed = data.pack() if isinstance(data, CallbackData) else data
        if message_id is None:
            message_id = self.last_keyboard_message_id()
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Digest"},
            "text": self.session.texts.get((self.chat_id, message_id), ("…", ""))[0][:100] or "…",
        }
        callback = {
            "id": str(next(_update_ids)),
            "from": self._user(user_id),
            "chat_instance": f"ci{self.chat_id}",
            "message": message,
            "data": packed,
        }
        return await self.feed({"callback_query": callback})

    async def member_status(self, old: str, new: str, *, user_id: int | None = None) -> list[Sent]:
        bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Digest"}
        update = {
            "chat": self._chat(),
            "from": self._user(user_id),
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot_user},
            "new_chat_member": {"status": new, "user": bot_user}
            if new != "kicked"
            else {"status": "kicked", "user": bot_user, "until_date": 0},
        }
        if old == "kicked":
            update["old_chat_member"] = {"status": old, "user": bot_user, "until_date": 0}
        return await self.feed({"my_chat_member": update})

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
