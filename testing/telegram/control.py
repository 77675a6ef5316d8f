"""The test side of the fake Telegram: people writing to the bot, pressing its buttons,
blocking it or adding it to groups, and waiting for what the bot does in return.

:class:`FakeTelegram` is the whole fake without a transport: the state, the Bot API
methods and these controls. The HTTP emulator (``server.py``) serves it over HTTP; the
in-process aiogram session (``session.py``) calls it directly. Every action queues the
update Telegram would send the bot and returns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from testing.telegram.entities import JsonDict, utf16_length
from testing.telegram.methods import BotApiMethods
from testing.telegram.records import (
    DEFAULT_GROUP_USER_ID,
    ApiCall,
    CallbackQueryState,
    ChatState,
    SentMessage,
)

T = TypeVar("T")

_LEADING_COMMAND: Final = re.compile(r"/\w{1,64}(?:@\w{3,64})?(?![\w@])", re.ASCII)


class FakeTelegram(BotApiMethods):
    """Telegram for tests, without a transport (see the module docstring).

    The test-side methods must be called from the event loop the bot's requests run on.
    """

    # ----------------------------------------------------------------- people (test side)

    def send_user_message(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        language_code: str | None = "ru",
        chat_type: str = "private",
        username: str | None = None,
        *,
        first_name: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> JsonDict:
        """A person writes ``text`` to the bot (inside forum topic ``message_thread_id``
        when given); returns the queued update.

        A leading ``/command`` (or ``/command@botname``) gets a ``bot_command`` entity. In a
        private chat the sender is the chat itself (writing unblocks a blocked chat); in a
        group the sender is ``user_id`` or :data:`DEFAULT_GROUP_USER_ID`. Unknown chats are
        created with ``chat_type``.
        """
        chat, sender = self._user_context(
            chat_id, user_id, chat_type, language_code, username, first_name
        )
        message = self._new_user_message(chat, sender)
        message["text"] = text
        if message_thread_id is not None:
            if not chat.is_forum or message_thread_id not in chat.forum_topics:
                raise ValueError(f"chat {chat_id} has no topic {message_thread_id}")
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        command = _LEADING_COMMAND.match(text)
        if command is not None:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group())}
            ]
        if reply_to_message_id is not None:
            replied = chat.messages.get(reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = self._message_json(replied, chat)
            elif reply_to_message_id in chat.user_messages:
                message["reply_to_message"] = chat.user_messages[reply_to_message_id]
        return self.push_update("channel_post" if chat.type == "channel" else "message", message)

    def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        user_id: int | None = None,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        language_code: str | None = "ru",
        chat_type: str = "private",
        first_name: str | None = None,
    ) -> JsonDict:
        """A person sends a file; it can be fetched through getFile and the file route."""
        chat, sender = self._user_context(
            chat_id, user_id, chat_type, language_code, None, first_name
        )
        stored = self._store_file(content, "documents", filename, mime_type)
        message = self._new_user_message(chat, sender)
        document: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "file_size": len(content),
        }
        if mime_type:
            document["mime_type"] = mime_type
        message["document"] = document
        if caption:
            message["caption"] = caption
        return self.push_update("message", message)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        user_id: int | None = None,
        *,
        language_code: str | None = "ru",
        first_name: str | None = None,
    ) -> str:
        """A person taps an inline button; returns the callback query id.

        The data is not checked against the keyboard, so forged or stale data can be sent.
        The query carries the message as it is now, or an inaccessible message (date 0) when
        the bot never sent or has deleted it.
        """
        chat = self._chats.get(chat_id) or self._ensure_chat(chat_id, "private")
        if user_id is None:
            user_id = chat_id if chat.type == "private" else DEFAULT_GROUP_USER_ID
        sender = self._user(user_id, language_code=language_code, first_name=first_name)
        query_id = str(secrets.randbits(63))
        record = chat.messages.get(message_id)
        message = (
            self._message_json(record, chat)
            if record is not None and not record.deleted
            else {"chat": chat.json, "message_id": message_id, "date": 0}
        )
        self.callback_queries[query_id] = CallbackQueryState(
            id=query_id,
            chat_id=chat_id,
            message_id=message_id,
            user_id=user_id,
            data=callback_data,
            created=time.monotonic(),
        )
        chat.reply_marker = len(self.sent_messages)
        self.push_update(
            "callback_query",
            {
                "id": query_id,
                "from": sender,
                "message": message,
                "chat_instance": str(abs(chat_id) * 7919 % 10**12),
                "data": callback_data,
            },
        )
        return query_id

    def bot_added_to_group(
        self,
        chat_id: int,
        title: str,
        added_by: int,
        chat_type: str = "group",
        *,
        as_admin: bool = False,
    ) -> JsonDict:
        """Someone adds the bot to a group: a ``my_chat_member`` update (group created if new)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self.add_group(chat_id, title, [added_by], chat_type, bot_is_admin=as_admin)
        chat.bot_left = False
        chat.forbidden = None
        chat.bot_is_admin = as_admin
        new_status = self._member_json(chat, self.bot_id)
        return self.push_update(
            "my_chat_member",
            {
                "chat": chat.json,
                "from": self._user(added_by),
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self._bot_user},
                "new_chat_member": new_status,
            },
        )

    def user_blocks_bot(self, chat_id: int) -> JsonDict:
        """``block_chat`` plus the ``my_chat_member`` update Telegram sends for it."""
        self.block_chat(chat_id)
        chat = self._chats[chat_id]
        return self.push_update(
            "my_chat_member",
            {
                "chat": chat.json,
                "from": self._user(chat_id),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": self._bot_user},
                "new_chat_member": {"status": "kicked", "user": self._bot_user, "until_date": 0},
            },
        )

    def bot_status_changed(
        self,
        chat_id: int,
        old: str,
        new: str,
        user_id: int | None = None,
        *,
        language_code: str | None = "ru",
        first_name: str | None = None,
    ) -> JsonDict:
        """Someone changes the bot's membership from ``old`` to ``new`` (``member``,
        ``administrator``, ``left``, ``kicked``): the ``my_chat_member`` update, and the
        chat follows – after ``kicked`` or ``left`` sends get 403 (a private chat is blocked),
        after ``member`` or ``administrator`` they go through again."""
        chat = self._chats.get(chat_id) or self._ensure_chat(chat_id, "private")
        if user_id is None:
            user_id = chat_id if chat.type == "private" else DEFAULT_GROUP_USER_ID
        sender = self._user(user_id, language_code=language_code, first_name=first_name)
        if new in {"kicked", "left"}:
            if chat.type == "private":
                self.block_chat(chat_id)
            else:
                self.kick_bot(chat_id)
        elif new in {"member", "administrator"}:
            chat.forbidden = None
            chat.bot_left = False
            chat.bot_is_admin = new == "administrator" or chat.type == "channel"

        def status(name: str) -> JsonDict:
            member: JsonDict = {"status": name, "user": self._bot_user}
            if name == "kicked":
                member["until_date"] = 0
            return member

        return self.push_update(
            "my_chat_member",
            {
                "chat": chat.json,
                "from": sender,
                "date": int(time.time()),
                "old_chat_member": status(old),
                "new_chat_member": status(new),
            },
        )

    def _user_context(
        self,
        chat_id: int,
        user_id: int | None,
        chat_type: str,
        language_code: str | None,
        username: str | None,
        first_name: str | None,
    ) -> tuple[ChatState, JsonDict]:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._ensure_chat(chat_id, chat_type)
        if user_id is None:
            user_id = chat_id if chat.type == "private" else DEFAULT_GROUP_USER_ID
        sender = self._user(
            user_id, language_code=language_code, username=username, first_name=first_name
        )
        if chat.type == "private":
            if chat.forbidden is not None and not chat.forbidden.endswith("deactivated"):
                chat.forbidden = None
            if chat.first_name != sender["first_name"] or chat.username != sender.get("username"):
                chat.first_name = sender["first_name"]
                chat.username = sender.get("username")
                chat.refresh_json()
        else:
            chat.member_ids.add(user_id)
        chat.reply_marker = len(self.sent_messages)
        return chat, sender

    def _new_user_message(self, chat: ChatState, sender: JsonDict) -> JsonDict:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JsonDict = {"message_id": message_id, "date": int(time.time()), "chat": chat.json}
        if chat.type == "channel":
            message["sender_chat"] = chat.json
        else:
            message["from"] = sender
        chat.user_messages[message_id] = message
        return message

    # ----------------------------------------------------------------- what the bot did

    def marker(self) -> int:
        """A position in ``sent_messages``; pass it as ``since`` to ``wait_for_messages``."""
        return len(self.sent_messages)

    def messages_for(self, chat_id: int, *, include_deleted: bool = True) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id``, oldest first."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        if include_deleted:
            return list(chat.sent)
        return [record for record in chat.sent if not record.deleted]

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        """A message the bot sent (KeyError if there is none)."""
        return self._chats[chat_id].messages[message_id]

    def max_rate_observed(self, window: float = 1.0, *, chat_id: int | None = None) -> float:
        """The highest number of accepted sends within any ``window`` seconds, per second."""
        stamps = [
            record.timestamp
            for record in (self.sent_messages if chat_id is None else self.messages_for(chat_id))
        ]
        best = 0
        left = 0
        for right, stamp in enumerate(stamps):
            while stamp - stamps[left] >= window:
                left += 1
            best = max(best, right - left + 1)
        return best / window

    def stats(self) -> JsonDict:
        """Counters as plain data (also served at ``GET {base}/_emulator/stats``)."""
        return {
            "sent": len(self.sent_messages),
            "rejected": len(self.rejected),
            "count_429": self.count_429,
            "sends_during_pause": self.sends_during_pause,
            "sends_during_chat_pause": self.sends_during_chat_pause,
            "max_rate_observed": self.max_rate_observed(),
            "pending_updates": len(self._pending),
            "call_counts": dict(self.call_counts),
        }

    # ----------------------------------------------------------------- waiting for the bot

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        since: int | None = None,
    ) -> list[SentMessage]:
        """Wait until the bot has sent ``count`` messages (matching ``predicate``) to the chat.

        Counts messages with ``seq >= since`` (a ``marker()``), or all when ``since`` is None.
        Returns all matching messages found (possibly more than ``count``); raises
        ``TimeoutError`` listing what did arrive.
        """

        def matching() -> list[SentMessage]:
            chat = self._chats.get(chat_id)
            if chat is None:
                return []
            records = chat.sent
            if since is not None:
                records = [record for record in records if record.seq >= since]
            if predicate is not None:
                records = [record for record in records if predicate(record)]
            return list(records)

        def check() -> list[SentMessage] | None:
            found = matching()
            return found if len(found) >= count else None

        def describe() -> str:
            texts = [record.plain_text for record in matching()]
            return f"chat {chat_id}: expected {count} message(s), got {len(texts)}: {texts!r}"

        return await self._wait(("chat", chat_id), check, timeout, describe)

    async def wait_for_reply(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
        predicate: Callable[[SentMessage], bool] | None = None,
    ) -> list[SentMessage]:
        """Like ``wait_for_messages`` but only messages sent after the latest
        ``send_user_message`` / ``send_document`` / ``press_button`` in that chat."""
        chat = self._chats.get(chat_id)
        since = chat.reply_marker if chat is not None else 0
        return await self.wait_for_messages(chat_id, count, timeout, predicate, since=since)

    async def wait_for_edit(
        self,
        chat_id: int,
        message_id: int,
        timeout: float = 10.0,  # noqa: ASYNC109
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        edits: int | None = None,
    ) -> SentMessage:
        """Wait until the message has been edited (``edits`` times in total, default: once
        more than now) and matches ``predicate``."""
        target = edits
        if target is None:
            existing = self._chats.get(chat_id)
            record = existing.messages.get(message_id) if existing is not None else None
            target = (len(record.history) if record is not None else 0) + 1

        def check() -> SentMessage | None:
            chat = self._chats.get(chat_id)
            current = chat.messages.get(message_id) if chat is not None else None
            if current is None or len(current.history) < target:
                return None
            if predicate is not None and not predicate(current):
                return None
            return current

        def describe() -> str:
            chat = self._chats.get(chat_id)
            current = chat.messages.get(message_id) if chat is not None else None
            state = None if current is None else (len(current.history), current.plain_text)
            return f"message {chat_id}/{message_id}: no matching edit, state {state!r}"

        return await self._wait(("chat", chat_id), check, timeout, describe)

    async def wait_for_answer(
        self,
        callback_query_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> JsonDict:
        """Wait for ``answerCallbackQuery`` of a pressed button; returns its parameters."""

        def check() -> JsonDict | None:
            query = self.callback_queries.get(callback_query_id)
            return query.answer if query is not None else None

        return await self._wait(
            ("answer", callback_query_id),
            check,
            timeout,
            lambda: f"callback query {callback_query_id} was not answered",
        )

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
        predicate: Callable[[ApiCall], bool] | None = None,
    ) -> list[ApiCall]:
        """Wait until ``method`` has been called ``count`` times (matching ``predicate``)."""
        key = method.lower()

        def matching() -> list[ApiCall]:
            return [
                call
                for call in self.calls
                if call.method.lower() == key and (predicate is None or predicate(call))
            ]

        def check() -> list[ApiCall] | None:
            found = matching()
            return found if len(found) >= count else None

        return await self._wait(
            "*", check, timeout, lambda: f"{method}: {len(matching())} of {count} call(s)"
        )

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``condition()`` is true; it is re-checked after every API call."""

        def check() -> bool | None:
            return True if condition() else None

        await self._wait("*", check, timeout, lambda: "condition not met")

    async def _wait(
        self,
        key: Any,
        check: Callable[[], T | None],
        timeout: float,  # noqa: ASYNC109
        describe: Callable[[], str],
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(describe())
            event = self._events.get(key)
            if event is None:
                event = self._events[key] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
