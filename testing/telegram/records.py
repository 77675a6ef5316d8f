"""What the fake Telegram remembers: chats, sent messages and their edits, files, callback
queries, calls and refusals. Plain data; the rules that change them are in ``state.py`` and
``methods.py``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from testing.telegram.entities import JsonDict

DEFAULT_BOT_ID: Final = 100000
DEFAULT_BOT_USERNAME: Final = "regdigest_bot"
DEFAULT_TOKEN: Final = f"{DEFAULT_BOT_ID}:AAEmulatedTokenForLocalTests_0123456789"
"""A well-formed token whose numeric part is the emulated bot's id (aiogram derives
``Bot.id`` from it)."""

DEFAULT_GROUP_USER_ID: Final = 424242
"""Sender of ``send_user_message`` in a group when no ``user_id`` is given."""

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
GETUPDATES_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class ApiError(Exception):
    """An error answer of a Bot API method."""

    def __init__(
        self,
        status: int,
        description: str,
        parameters: JsonDict | None = None,
        reason: str = "bad_request",
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.reason = reason


@dataclass(slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    content: bytes


@dataclass(slots=True)
class StoredFile:
    """A file known to the server: downloadable through getFile and the file route."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None
    mime_type: str | None
    kind: str


@dataclass(slots=True)
class MessageVersion:
    """A former state of a sent message, kept in :attr:`SentMessage.history` on each edit."""

    text: str | None
    plain_text: str | None
    entities: list[JsonDict]
    parse_mode: str | None
    reply_markup: JsonDict | None
    timestamp: float
    method: str


@dataclass(slots=True, eq=False)
class SentMessage:
    """A message the bot sent; edits update it in place and push the old state to ``history``.

    ``text`` is the text (or caption) as the bot sent it, e.g. HTML source; ``plain_text`` is
    what the user sees after entity parsing, and ``entities`` its formatting. ``timestamp``
    is ``time.monotonic()`` at acceptance, ``date`` the Unix time of the message.
    ``seq`` is the position in ``sent_messages`` (see ``marker()``).
    """

    seq: int
    chat_id: int
    message_id: int
    method: str
    text: str | None
    plain_text: str | None
    parse_mode: str | None
    entities: list[JsonDict]
    reply_markup: JsonDict | None
    timestamp: float
    date: int
    link_preview_options: JsonDict | None = None
    reply_to_message_id: int | None = None
    file_id: str | None = None
    media: Any = None
    disable_notification: bool = False
    message_thread_id: int | None = None
    deleted: bool = False
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    params: JsonDict = field(default_factory=dict)

    def button_data(self) -> list[str]:
        """All ``callback_data`` values of the current inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            button["callback_data"] for row in rows for button in row if "callback_data" in button
        ]

    def button_texts(self) -> list[str]:
        """All button captions of the current inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button["text"] for row in rows for button in row]


@dataclass(slots=True)
class RejectedRequest:
    """A method call answered with an error. ``reason`` is a short machine-readable code:
    ``global_rate_limit``, ``chat_rate_limit``, ``group_rate_limit``, ``paused``,
    ``chat_paused``, ``forbidden``, ``migrated``, ``injected``, ``bad_request``,
    ``not_found``, ``unauthorized``, ``conflict``, ``emulator_error``."""

    method: str
    chat_id: Any
    error_code: int
    description: str
    reason: str
    timestamp: float
    parameters: JsonDict | None = None

    @property
    def retry_after(self) -> int | None:
        return (self.parameters or {}).get("retry_after")


@dataclass(slots=True)
class ApiCall:
    """A method call as received (``params`` are the raw request fields)."""

    method: str
    params: JsonDict
    timestamp: float


@dataclass(slots=True)
class CallbackQueryState:
    """A pressed button waiting for (or given) ``answerCallbackQuery``."""

    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    created: float
    answer: JsonDict | None = None


@dataclass(slots=True, eq=False)
class ChatState:
    """A chat known to the server."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    forbidden: str | None = None
    migrated_to: int | None = None
    creator_id: int | None = None
    admin_ids: set[int] = field(default_factory=set)
    member_ids: set[int] = field(default_factory=set)
    bot_is_admin: bool = False
    bot_left: bool = False
    next_message_id: int = 1
    sent: list[SentMessage] = field(default_factory=list)
    messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, JsonDict] = field(default_factory=dict)
    reply_marker: int = 0
    tokens: float = 0.0
    tokens_at: float = 0.0
    window: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0
    is_forum: bool = False
    # Forum topics: message thread id -> name (the general topic has no thread id).
    forum_topics: dict[int, str] = field(default_factory=dict)
    json: JsonDict = field(default_factory=dict)

    def refresh_json(self) -> None:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or f"Пользователь {self.id}"
        else:
            data["title"] = self.title or f"Чат {self.id}"
        if self.username:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        self.json = data
