"""The fake Telegram's memory and its house rules, independent of any transport.

:class:`TelegramState` knows the chats and users, the messages the bot sent, the files,
the queue of updates for the bot, and the rules that are not a single method's business:
who may be written to (blocked users, kicked bots, migrated groups), Telegram's flood
limits (the 429 answers with ``retry_after``) and failures a test plans. The Bot API
methods built on it are in ``methods.py``; the test-side controls in ``control.py``.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import Any, Final

from testing.telegram.entities import JsonDict
from testing.telegram.records import (
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USERNAME,
    ApiCall,
    ApiError,
    CallbackQueryState,
    ChatState,
    RejectedRequest,
    SentMessage,
    StoredFile,
)

SEND_METHODS: Final = frozenset({"sendmessage", "sendphoto", "senddocument"})
"""Methods that post a message, i.e. the ones Telegram's flood limits apply to."""


@dataclass(slots=True)
class _Injection:
    status: int
    description: str
    parameters: JsonDict | None
    remaining: int
    chat_id: int | None


class TelegramState:
    """Chats, messages, files, updates and the rules around them (see the module docstring).

    Construction arguments:

    * ``bot_id``, ``bot_username``, ``bot_first_name`` – the bot as ``getMe`` returns it.
    * ``global_rate`` – sends per second across all chats (sliding one-second window);
      None disables it. ``private_chat_rate`` / ``private_chat_burst`` – a token bucket per
      private chat (1 message per second, bursts of 3). ``group_rate_per_minute`` – per group,
      supergroup or channel (sliding minute). ``rate_limits=False`` disables all three.
    * ``retry_after`` – the ``retry_after`` of every 429; None computes the seconds until a
      slot frees (at least 1).
    * ``callback_query_ttl`` – seconds after which a callback query can't be answered.
    * ``strict_html_ampersand`` – reject a bare ``&`` in HTML (see ``entities.parse_html``).

    Counters and records (read them directly): ``sent_messages``, ``rejected``, ``calls``,
    ``call_counts``, ``count_429``, ``sends_during_pause``, ``sends_during_chat_pause``,
    ``pauses``, ``updates``, ``callback_queries``, ``files``, ``commands``,
    ``descriptions``, ``short_descriptions``, ``chat_actions``.
    """

    def __init__(
        self,
        *,
        bot_id: int = DEFAULT_BOT_ID,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "Региональный дайджест",
        global_rate: float | None = 30.0,
        private_chat_rate: float | None = 1.0,
        private_chat_burst: int = 3,
        group_rate_per_minute: int | None = 20,
        rate_limits: bool = True,
        retry_after: int | None = None,
        callback_query_ttl: float = 15.0,
        strict_html_ampersand: bool = True,
        local_files: Path | None = None,
    ) -> None:
        self.bot_id = bot_id
        # As a server started with --local: getFile writes the file under this directory
        # and answers with its absolute path, and files are not served over HTTP.
        self.local_files = local_files
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.global_rate = global_rate if rate_limits else None
        self.private_chat_rate = private_chat_rate if rate_limits else None
        self.private_chat_burst = private_chat_burst
        self.group_rate_per_minute = group_rate_per_minute if rate_limits else None
        self.retry_after = retry_after
        self.callback_query_ttl = callback_query_ttl
        self.strict_html_ampersand = strict_html_ampersand

        self.sent_messages: list[SentMessage] = []
        self.rejected: list[RejectedRequest] = []
        self.calls: list[ApiCall] = []
        self.call_counts: Counter[str] = Counter()
        self.count_429 = 0
        self.sends_during_pause = 0
        self.sends_during_chat_pause = 0
        self.pauses: list[tuple[float, float]] = []
        self.updates: list[JsonDict] = []
        self.callback_queries: dict[str, CallbackQueryState] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.chat_actions: list[tuple[int, str]] = []

        self._bot_user: JsonDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, JsonDict] = {}
        self._pending: deque[JsonDict] = deque()
        self._next_update_id = 1
        self._next_file_number = 1
        self._global_window: deque[float] = deque()
        self._paused_until = 0.0
        self._injections: dict[str, list[_Injection]] = {}
        self._events: dict[Any, asyncio.Event] = {}

    @property
    def bot_user(self) -> JsonDict:
        """The bot's ``User`` object as ``getMe`` returns it."""
        return self._bot_user

    # ----------------------------------------------------------------- configuration

    def set_rate_limits(
        self,
        *,
        global_rate: float | EllipsisType | None = ...,
        private_chat_rate: float | EllipsisType | None = ...,
        private_chat_burst: int | EllipsisType = ...,
        group_rate_per_minute: int | EllipsisType | None = ...,
        retry_after: int | EllipsisType | None = ...,
    ) -> None:
        """Change the given rate limits (None disables one); the others stay as they are."""
        if not isinstance(global_rate, EllipsisType):
            self.global_rate = global_rate
        if not isinstance(private_chat_rate, EllipsisType):
            self.private_chat_rate = private_chat_rate
        if not isinstance(private_chat_burst, EllipsisType):
            self.private_chat_burst = private_chat_burst
        if not isinstance(group_rate_per_minute, EllipsisType):
            self.group_rate_per_minute = group_rate_per_minute
        if not isinstance(retry_after, EllipsisType):
            self.retry_after = retry_after

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        parameters: JsonDict | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` if given) with an error.

        A 429 with ``parameters={"retry_after": N}`` also starts a bot-wide pause of N
        seconds, like a real flood wait: sends before it ends are answered 429 and counted in
        ``sends_during_pause``.
        """
        self._injections.setdefault(method.lower(), []).append(
            _Injection(status, description, parameters, times, chat_id)
        )

    def clear_failures(self) -> None:
        """Forget every planned failure (``fail_next``)."""
        self._injections.clear()

    def reset_counters(self) -> None:
        """Forget sent messages, rejections, calls and counters (chats and files stay)."""
        self.sent_messages.clear()
        self.rejected.clear()
        self.calls.clear()
        self.call_counts.clear()
        self.count_429 = 0
        self.sends_during_pause = 0
        self.sends_during_chat_pause = 0
        self.pauses.clear()
        self._global_window.clear()
        self._paused_until = 0.0
        for chat in self._chats.values():
            chat.sent.clear()
            chat.reply_marker = 0
            chat.window.clear()
            chat.paused_until = 0.0
            chat.tokens_at = 0.0

    @staticmethod
    def _take(table: dict[str, list[Any]], key: str, params: JsonDict) -> Any:
        """The first planned entry of ``table[key]`` for this call's chat, used up once."""
        entries = table.get(key)
        if not entries:
            return None
        for entry in entries:
            if entry.chat_id is not None and str(entry.chat_id) != str(params.get("chat_id")):
                continue
            entry.remaining -= 1
            if entry.remaining <= 0:
                entries.remove(entry)
                if not entries:
                    del table[key]
            return entry
        return None

    # ----------------------------------------------------------------- chats

    def chat(self, chat_id: int) -> ChatState:
        """The state of a known chat (KeyError if unknown)."""
        return self._chats[chat_id]

    def add_group(
        self,
        chat_id: int,
        title: str,
        admins: Iterable[int] = (),
        type: str = "group",
        *,
        creator_id: int | None = None,
        members: Iterable[int] = (),
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> ChatState:
        """Create a group, supergroup or channel with the bot in it.

        The creator is ``creator_id`` or else the first of ``admins``; getChatMember answers
        ``creator`` for them, ``administrator`` for the other admins, ``member`` for
        ``members`` and users who wrote in the chat, ``left`` for anyone else.
        """
        if type not in {"group", "supergroup", "channel"}:
            raise ValueError(f"not a group type: {type}")
        admin_list = list(admins)
        chat = ChatState(id=chat_id, type=type, title=title, username=username)
        chat.creator_id = creator_id if creator_id is not None else next(iter(admin_list), None)
        chat.admin_ids = set(admin_list)
        if chat.creator_id is not None:
            chat.admin_ids.add(chat.creator_id)
        chat.member_ids = set(members) | chat.admin_ids
        chat.bot_is_admin = bot_is_admin or type == "channel"
        chat.refresh_json()
        self._chats[chat_id] = chat
        return chat

    def create_forum_topic(self, chat_id: int, name: str) -> int:
        """Turns the supergroup into a forum (if it is not one) and opens a topic; returns
        its message thread id (the id of the topic's service message, as in Telegram)."""
        chat = self._chats[chat_id]
        if chat.type != "supergroup":
            raise ValueError("only supergroups have topics")
        if not chat.is_forum:
            chat.is_forum = True
            chat.refresh_json()
        thread_id = chat.next_message_id
        chat.next_message_id += 1
        chat.forum_topics[thread_id] = name
        return thread_id

    def delete_forum_topic(self, chat_id: int, thread_id: int) -> None:
        """A topic is deleted: sends to it get 400 "message thread not found"."""
        del self._chats[chat_id].forum_topics[thread_id]

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: sends and edits get 403 "bot was blocked by the user"."""
        self._ensure_chat(chat_id, "private").forbidden = "Forbidden: bot was blocked by the user"

    def unblock_chat(self, chat_id: int) -> None:
        """Undo ``block_chat`` / ``kick_bot`` / ``deactivate_user``."""
        chat = self._ensure_chat(chat_id, "private")
        chat.forbidden = None
        chat.bot_left = False

    def deactivate_user(self, chat_id: int) -> None:
        """The user deleted their account: 403 "user is deactivated"."""
        self._ensure_chat(chat_id, "private").forbidden = "Forbidden: user is deactivated"

    def kick_bot(self, chat_id: int) -> None:
        """The bot was removed from a group: 403 "bot was kicked from the … chat"."""
        chat = self._chats[chat_id]
        chat.bot_left = True
        if chat.type == "channel":
            chat.forbidden = "Forbidden: bot is not a member of the channel chat"
        else:
            chat.forbidden = f"Forbidden: bot was kicked from the {chat.type} chat"

    def migrate_group(self, old_id: int, new_id: int) -> ChatState:
        """Upgrade a group to a supergroup: sends to ``old_id`` get 400 with
        ``migrate_to_chat_id=new_id``; ``new_id`` becomes a supergroup with the same people."""
        old = self._chats.get(old_id) or self.add_group(old_id, f"Группа {old_id}")
        new = self.add_group(
            new_id,
            old.title or f"Группа {new_id}",
            old.admin_ids,
            "supergroup",
            creator_id=old.creator_id,
            members=old.member_ids,
            bot_is_admin=old.bot_is_admin,
        )
        old.migrated_to = new_id
        return new

    def ensure_chat(
        self, chat_id: int, chat_type: str = "private", *, title: str | None = None
    ) -> ChatState:
        """The chat, created with this type (and title) when unknown; a known chat takes
        the type and title given."""
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_type == "private":
                return self._ensure_chat(chat_id, "private")
            return self.add_group(chat_id, title or f"Группа {abs(chat_id)}", (), chat_type)
        if chat.type != chat_type or (title and title != chat.title):
            chat.type = chat_type
            chat.title = title or chat.title
            chat.bot_is_admin = chat.bot_is_admin or chat_type == "channel"
            chat.refresh_json()
        return chat

    def _ensure_chat(self, chat_id: int, chat_type: str) -> ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_type == "private":
                chat = ChatState(id=chat_id, type="private")
                user = self._users.get(chat_id)
                if user is not None:
                    chat.first_name = user.get("first_name")
                    chat.username = user.get("username")
                chat.refresh_json()
                self._chats[chat_id] = chat
            else:
                chat = self.add_group(chat_id, f"Группа {abs(chat_id)}", (), chat_type)
        return chat

    def _find_chat(self, params: JsonDict) -> ChatState:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            username = raw[1:].lower()
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == username:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError) as error:
            raise ApiError(400, "Bad Request: chat not found") from error
        known = self._chats.get(chat_id)
        if known is None:
            if chat_id > 0:
                return self._ensure_chat(chat_id, "private")
            raise ApiError(400, "Bad Request: chat not found")
        return known

    def _writable_chat(self, params: JsonDict) -> ChatState:
        """The chat of a send or edit, after the 400 of a migrated group and the 403s."""
        chat = self._find_chat(params)
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
                reason="migrated",
            )
        if chat.forbidden is not None:
            raise ApiError(403, chat.forbidden, reason="forbidden")
        return chat

    # ----------------------------------------------------------------- users and members

    def _user(
        self,
        user_id: int,
        *,
        language_code: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> JsonDict:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": f"Пользователь {user_id}"}
            self._users[user_id] = user
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _member_json(self, chat: ChatState, user_id: int) -> JsonDict:
        user = self._bot_user if user_id == self.bot_id else self._user(user_id)
        if user_id == self.bot_id:
            if chat.bot_left:
                return {"status": "left", "user": user}
            if not chat.bot_is_admin:
                return {"status": "member", "user": user}
            return self._admin_json(chat, user)
        if chat.type == "private":
            return {"status": "member", "user": user}
        if user_id == chat.creator_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admin_ids:
            return self._admin_json(chat, user)
        if user_id in chat.member_ids:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    def _admin_json(self, chat: ChatState, user: JsonDict) -> JsonDict:
        data: JsonDict = {
            "status": "administrator",
            "user": user,
            "can_be_edited": user["id"] == self.bot_id,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": True,
            "can_edit_stories": True,
            "can_delete_stories": True,
            "can_send_welcome_messages": True,
            "can_pin_messages": True,
        }
        if chat.type == "channel":
            data["can_post_messages"] = True
            data["can_edit_messages"] = True
        return data

    # ----------------------------------------------------------------- rate limits

    def _retry_value(self, seconds: float) -> int:
        if self.retry_after is not None:
            return self.retry_after
        return max(1, math.ceil(seconds))

    def _start_pause(self, now: float, retry_after: int) -> None:
        until = now + retry_after
        if until > self._paused_until:
            self._paused_until = until
            self.pauses.append((now, until))

    def _too_many(self, retry: int, reason: str) -> ApiError:
        return ApiError(
            429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}, reason=reason
        )

    def _check_pause(self, key: str, now: float) -> None:
        """A send during a bot-wide flood wait is answered 429 (and counted)."""
        if key in SEND_METHODS and now < self._paused_until:
            self.sends_during_pause += 1
            retry = max(1, math.ceil(self._paused_until - now))
            raise self._too_many(retry, "paused")

    def _check_chat_pause(self, chat: ChatState, now: float) -> None:
        if now < chat.paused_until:
            self.sends_during_chat_pause += 1
            retry = max(1, math.ceil(chat.paused_until - now))
            raise self._too_many(retry, "chat_paused")

    def _admit_send(self, chat: ChatState, now: float) -> None:
        """Count a send against the global, per-chat and per-group limits, or answer 429."""
        window = self._global_window
        if self.global_rate is not None:
            cutoff = now - 1.0
            while window and window[0] <= cutoff:
                window.popleft()
            if len(window) >= self.global_rate:
                retry = self._retry_value(window[0] + 1.0 - now)
                self._start_pause(now, retry)
                raise self._too_many(retry, "global_rate_limit")
        if chat.type == "private":
            rate = self.private_chat_rate
            if rate is not None:
                burst = max(1, self.private_chat_burst)
                if chat.tokens_at == 0.0:
                    tokens = float(burst)
                else:
                    tokens = min(float(burst), chat.tokens + (now - chat.tokens_at) * rate)
                if tokens < 1.0:
                    retry = self._retry_value((1.0 - tokens) / rate)
                    chat.paused_until = now + retry
                    raise self._too_many(retry, "chat_rate_limit")
                chat.tokens = tokens - 1.0
                chat.tokens_at = now
        elif self.group_rate_per_minute is not None:
            group_window = chat.window
            cutoff = now - 60.0
            while group_window and group_window[0] <= cutoff:
                group_window.popleft()
            if len(group_window) >= self.group_rate_per_minute:
                retry = self._retry_value(group_window[0] + 60.0 - now)
                chat.paused_until = now + retry
                raise self._too_many(retry, "group_rate_limit")
            group_window.append(now)
        if self.global_rate is not None:
            window.append(now)

    # ----------------------------------------------------------------- updates for the bot

    def push_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        """Queue an arbitrary update (``update_id`` is assigned)."""
        update = {"update_id": self._next_update_id, update_type: payload}
        self._next_update_id += 1
        self.updates.append(update)
        self._pending.append(update)
        self._update_queued()
        return update

    def _update_queued(self) -> None:
        """Called after an update joins the queue; the HTTP front wakes its pollers here."""

    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (through getUpdates offset or the webhook)."""
        return list(self._pending)

    def confirm_updates(self, offset: int) -> None:
        """The bot has the updates before ``offset`` (getUpdates semantics: a negative
        offset keeps only the last ``-offset`` updates)."""
        pending = self._pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        elif offset < 0:
            while len(pending) > -offset:
                pending.popleft()

    # ----------------------------------------------------------------- messages and files

    def _message_json(self, record: SentMessage, chat: ChatState) -> JsonDict:
        """A sent message as the Bot API's ``Message`` object."""
        message: JsonDict = {
            "message_id": record.message_id,
            "date": record.date,
            "chat": chat.json,
        }
        if chat.type == "channel":
            message["sender_chat"] = chat.json
        else:
            message["from"] = self._bot_user
        if record.method == "sendMessage":
            message["text"] = record.plain_text
            if record.entities:
                message["entities"] = record.entities
            if record.link_preview_options:
                message["link_preview_options"] = record.link_preview_options
        else:
            message["photo" if record.method == "sendPhoto" else "document"] = record.media
            if record.plain_text:
                message["caption"] = record.plain_text
                if record.entities:
                    message["caption_entities"] = record.entities
        if record.reply_markup is not None and "inline_keyboard" in record.reply_markup:
            message["reply_markup"] = record.reply_markup
        if record.message_thread_id is not None:
            message["message_thread_id"] = record.message_thread_id
            message["is_topic_message"] = True
        if record.edit_date is not None:
            message["edit_date"] = record.edit_date
        if record.reply_to_message_id is not None:
            replied = chat.user_messages.get(record.reply_to_message_id)
            if replied is None:
                replied_record = chat.messages[record.reply_to_message_id]
                replied = {
                    "message_id": replied_record.message_id,
                    "date": replied_record.date,
                    "chat": chat.json,
                }
            message["reply_to_message"] = replied
        return message

    def _thread(self, chat: ChatState, params: JsonDict) -> int | None:
        """The forum topic a send goes to: None for the chat (or its general topic); a
        topic that does not exist (or a chat without topics) is Telegram's 400."""
        raw = params.get("message_thread_id")
        if raw is None or raw == "":
            return None
        try:
            thread_id = int(raw)
        except (TypeError, ValueError) as error:
            raise ApiError(400, "Bad Request: message thread not found") from error
        if not chat.is_forum or thread_id not in chat.forum_topics:
            raise ApiError(400, "Bad Request: message thread not found")
        return thread_id

    def _record(
        self,
        chat: ChatState,
        method: str,
        params: JsonDict,
        now: float,
        formatted: tuple[str | None, str | None, list[JsonDict], str | None],
        reply_markup: JsonDict | None,
        reply_to: int | None,
        *,
        link_preview_options: JsonDict | None = None,
        file_id: str | None = None,
        media: Any = None,
        disable_notification: bool = False,
    ) -> SentMessage:
        """Keep an accepted message: it gets the chat's next message id."""
        thread_id = self._thread(chat, params)
        raw, plain, entities, parse_mode = formatted
        message_id = chat.next_message_id
        chat.next_message_id += 1
        record = SentMessage(
            seq=len(self.sent_messages),
            chat_id=chat.id,
            message_id=message_id,
            method=method,
            text=raw,
            plain_text=plain,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=reply_markup,
            timestamp=now,
            date=int(time.time()),
            link_preview_options=link_preview_options,
            reply_to_message_id=reply_to,
            file_id=file_id,
            media=media,
            disable_notification=disable_notification,
            message_thread_id=thread_id,
            params=params,
        )
        self.sent_messages.append(record)
        chat.sent.append(record)
        chat.messages[message_id] = record
        self._notify(("chat", chat.id))
        return record

    def _store_file(
        self, content: bytes, folder: str, filename: str | None, mime_type: str | None
    ) -> StoredFile:
        number = self._next_file_number
        self._next_file_number += 1
        suffix = ""
        if filename and "." in filename:
            suffix = "." + filename.rsplit(".", 1)[1][:10]
        elif folder == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=f"AgAC{folder[:3]}{number:08d}{secrets.token_hex(6)}",
            file_unique_id=f"AQAD{number:08d}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
            file_name=filename,
            mime_type=mime_type,
            kind=folder,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_at(self, file_path: str) -> StoredFile | None:
        """The file that getFile gave this ``file_path``, if any."""
        for stored in self.files.values():
            if stored.file_path == file_path:
                return stored
        return None

    # ----------------------------------------------------------------- waking waiters

    def _notify(self, key: Any) -> None:
        """Wake whoever waits on ``key`` (a chat, a callback query) and on any change."""
        event = self._events.pop(key, None)
        if event is not None:
            event.set()
        event = self._events.pop("*", None)
        if event is not None:
            event.set()
