"""The Bot API methods the bot uses, with Telegram's checks and error answers.

:class:`BotApiMethods` adds to :class:`~testing.telegram.state.TelegramState` one
coroutine per method (``sendMessage``, ``editMessageText``, ``answerCallbackQuery`` …) and
:meth:`BotApiMethods.invoke`, which runs a method on already-decoded request fields the
same way whatever carried them: the HTTP front (``server.py``) and the in-process aiogram
session (``session.py``) both end up here. Every call is recorded in ``calls``; every
error answer in ``rejected``.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from testing.telegram.entities import CALLBACK_ANSWER_TEXT_LIMIT, JsonDict, utf16_length
from testing.telegram.params import (
    Formatted,
    bool_param,
    compact_json,
    formatted_text,
    int_param,
    json_param,
    link_preview,
    reply_markup,
    str_param,
)
from testing.telegram.records import (
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiCall,
    ApiError,
    ChatState,
    MessageVersion,
    RejectedRequest,
    SentMessage,
    StoredFile,
    Upload,
)
from testing.telegram.state import TelegramState

_logger = logging.getLogger("testing.telegram")

DOWNLOAD_SIZE_LIMIT: Final = 20 * 1024 * 1024
UPLOAD_SIZE_LIMIT: Final = 50 * 1024 * 1024

CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_BOT_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
NOT_FOUND_PAYLOAD: Final = {"ok": False, "error_code": 404, "description": "Not Found"}

Handler = Callable[[JsonDict, dict[str, Upload]], Awaitable[Any]]


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG, WEBP or BMP image; None if it is not one."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        return int.from_bytes(content[6:8], "little"), int.from_bytes(content[8:10], "little")
    if content.startswith(b"BM") and len(content) >= 26:
        return (
            int.from_bytes(content[18:22], "little"),
            abs(int.from_bytes(content[22:26], "little", signed=True)),
        )
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return 512, 512
    if content.startswith(b"\xff\xd8\xff"):
        index = 2
        while index + 9 < len(content):
            if content[index] != 0xFF:
                index += 1
                continue
            marker = content[index + 1]
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(content[index + 5 : index + 7], "big")
                width = int.from_bytes(content[index + 7 : index + 9], "big")
                return width, height
            segment = int.from_bytes(content[index + 2 : index + 4], "big")
            index += 2 + segment
        return 800, 600
    return None


class BotApiMethods(TelegramState):
    """The Bot API on top of the state (see the module docstring)."""

    def _bot_api_methods(self) -> dict[str, Handler]:
        """Method name → implementation; the HTTP front adds getUpdates and the webhook."""
        return {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
        }

    @functools.cached_property
    def _handlers(self) -> dict[str, tuple[str, Handler]]:
        return {name.lower(): (name, handler) for name, handler in self._bot_api_methods().items()}

    # ----------------------------------------------------------------- running a method

    async def call(self, method: str, **params: Any) -> Any:
        """Run a Bot API method in-process (no HTTP); returns the result or raises ApiError."""
        status, payload = await self.invoke(method, params, {})
        if not payload["ok"]:
            raise ApiError(status, payload["description"], payload.get("parameters"))
        return payload["result"]

    async def invoke(
        self, method: str, params: JsonDict, uploads: dict[str, Upload]
    ) -> tuple[int, JsonDict]:
        """Run ``method`` (any case) on request fields; returns the HTTP status and the
        Bot API answer (``{"ok": true, "result": …}`` or the error)."""
        key = method.lower()
        entry = self._handlers.get(key)
        if entry is None:
            self._reject(key, params, ApiError(404, "Not Found", reason="not_found"))
            return 404, dict(NOT_FOUND_PAYLOAD)
        name, handler = entry
        now = time.monotonic()
        self.calls.append(ApiCall(name, params, now))
        self.call_counts[name] += 1
        try:
            self._check_pause(key, now)
            injection = self._take(self._injections, key, params) if self._injections else None
            if injection is not None:
                retry_after = (injection.parameters or {}).get("retry_after")
                if injection.status == 429 and isinstance(retry_after, int):
                    self._start_pause(now, retry_after)
                raise ApiError(
                    injection.status,
                    injection.description,
                    injection.parameters,
                    reason="injected",
                )
            result = await handler(params, uploads)
        except ApiError as error:
            payload = self._reject(name, params, error)
            self._notify("*")
            return error.status, payload
        except Exception:
            _logger.exception("%s failed on %r", name, params)
            failure = ApiError(500, "Internal Server Error", reason="emulator_error")
            return 500, self._reject(name, params, failure)
        self._notify("*")
        return 200, {"ok": True, "result": result}

    def _reject(self, method: str, params: JsonDict, error: ApiError) -> JsonDict:
        """Record an error answer and return its payload."""
        if error.status == 429:
            self.count_429 += 1
        self.rejected.append(
            RejectedRequest(
                method,
                params.get("chat_id"),
                error.status,
                error.description,
                error.reason,
                time.monotonic(),
                error.parameters,
            )
        )
        payload: JsonDict = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        if error.parameters:
            payload["parameters"] = error.parameters
        return payload

    # ----------------------------------------------------------------- request pieces

    def _format(self, params: JsonDict, field_name: str, entities_name: str) -> Formatted:
        return formatted_text(
            params, field_name, entities_name, strict_ampersand=self.strict_html_ampersand
        )

    def _reply_to(self, chat: ChatState, params: JsonDict) -> int | None:
        reply = json_param(params, "reply_parameters")
        allow_missing = bool_param(params, "allow_sending_without_reply")
        message_id: int | None
        if isinstance(reply, dict) and "message_id" in reply:
            message_id = int(reply["message_id"])
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = int_param(params, "reply_to_message_id")
        if message_id is None:
            return None
        exists = message_id in chat.user_messages or (
            message_id in chat.messages and not chat.messages[message_id].deleted
        )
        if not exists:
            if allow_missing:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return message_id

    def _input_file(
        self, params: JsonDict, uploads: dict[str, Upload], name: str, folder: str
    ) -> StoredFile | None:
        """The file of a send request: an upload, an ``attach://`` part or a known file_id."""
        upload = uploads.get(name)
        value = params.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise ApiError(400, f"Bad Request: can't find attached file {value!r}")
        if upload is not None:
            if not upload.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return self._store_file(upload.content, folder, upload.filename, upload.content_type)
        if not isinstance(value, str) or not value:
            return None
        if value.startswith(("http://", "https://")):
            return self._store_file(b"", folder, value.rsplit("/", 1)[-1] or None, None)
        known = self.files.get(value)
        if known is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return known

    # ----------------------------------------------------------------- sending

    async def _get_me(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "text", "entities")
        markup = reply_markup(params)
        reply_to = self._reply_to(chat, params)
        self._thread(chat, params)
        preview = link_preview(params)
        self._admit_send(chat, now)
        record = self._record(
            chat,
            "sendMessage",
            params,
            now,
            formatted,
            markup,
            reply_to,
            link_preview_options=preview,
            disable_notification=bool_param(params, "disable_notification"),
        )
        return self._message_json(record, chat)

    async def _send_photo(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "caption", "caption_entities")
        markup = reply_markup(params)
        reply_to = self._reply_to(chat, params)
        self._thread(chat, params)
        if not params.get("photo") and "photo" not in uploads:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        stored = self._input_file(params, uploads, "photo", "photos")
        if stored is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        size = (512, 512) if not stored.content else image_size(stored.content)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        stored.kind = "photos"
        width, height = size
        scale = min(1.0, 320 / max(width, height, 1))
        media = [
            {
                "file_id": stored.file_id + "s",
                "file_unique_id": stored.file_unique_id + "s",
                "width": max(1, int(width * scale)),
                "height": max(1, int(height * scale)),
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": len(stored.content),
            },
        ]
        self.files[stored.file_id + "s"] = stored
        self._admit_send(chat, now)
        record = self._record(
            chat,
            "sendPhoto",
            params,
            now,
            formatted,
            markup,
            reply_to,
            file_id=stored.file_id,
            media=media,
            disable_notification=bool_param(params, "disable_notification"),
        )
        return self._message_json(record, chat)

    async def _send_document(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "caption", "caption_entities")
        markup = reply_markup(params)
        reply_to = self._reply_to(chat, params)
        self._thread(chat, params)
        stored = self._input_file(params, uploads, "document", "documents")
        if stored is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        media: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            media["file_name"] = stored.file_name
        if stored.mime_type:
            media["mime_type"] = stored.mime_type
        self._admit_send(chat, now)
        record = self._record(
            chat,
            "sendDocument",
            params,
            now,
            formatted,
            markup,
            reply_to,
            file_id=stored.file_id,
            media=media,
            disable_notification=bool_param(params, "disable_notification"),
        )
        return self._message_json(record, chat)

    async def _send_chat_action(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        chat = self._writable_chat(params)
        action = str_param(params, "action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True

    # ----------------------------------------------------------------- editing and deleting

    def _editable(self, params: JsonDict) -> tuple[ChatState, SentMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._writable_chat(params)
        message_id = int_param(params, "message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            if message_id in chat.user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat, record

    def _apply_edit(
        self,
        chat: ChatState,
        record: SentMessage,
        method: str,
        formatted: Formatted | None,
        markup: JsonDict | None,
    ) -> JsonDict:
        if formatted is None:
            unchanged = markup == record.reply_markup
        else:
            unchanged = (
                formatted[1] == record.plain_text
                and formatted[2] == record.entities
                and markup == record.reply_markup
            )
        if unchanged:
            raise ApiError(400, NOT_MODIFIED)
        now = time.monotonic()
        record.history.append(
            MessageVersion(
                record.text,
                record.plain_text,
                record.entities,
                record.parse_mode,
                record.reply_markup,
                now,
                method,
            )
        )
        if formatted is not None:
            record.text, record.plain_text, record.entities, record.parse_mode = formatted
        record.reply_markup = markup
        record.edit_date = int(time.time())
        self._notify(("chat", chat.id))
        return self._message_json(record, chat)

    async def _edit_message_text(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat, record = self._editable(params)
        if record.method != "sendMessage":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        formatted = self._format(params, "text", "entities")
        markup = reply_markup(params)
        preview = link_preview(params)
        result = self._apply_edit(chat, record, "editMessageText", formatted, markup)
        if preview is not None:
            record.link_preview_options = preview
        return result

    async def _edit_message_caption(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat, record = self._editable(params)
        if record.method == "sendMessage":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        formatted = self._format(params, "caption", "caption_entities")
        markup = reply_markup(params)
        return self._apply_edit(chat, record, "editMessageCaption", formatted, markup)

    async def _edit_message_reply_markup(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> JsonDict:
        chat, record = self._editable(params)
        markup = reply_markup(params)
        return self._apply_edit(chat, record, "editMessageReplyMarkup", None, markup)

    async def _delete_message(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        chat = self._writable_chat(params)
        message_id = int_param(params, "message_id")
        record = chat.messages.get(message_id) if message_id is not None else None
        if record is not None and not record.deleted:
            record.deleted = True
            self._notify(("chat", chat.id))
            return True
        if message_id is not None and chat.user_messages.pop(message_id, None) is not None:
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    # ----------------------------------------------------------------- buttons and files

    async def _answer_callback_query(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        query_id = str_param(params, "callback_query_id")
        query = self.callback_queries.get(query_id or "")
        if (
            query is None
            or query.answer is not None
            or time.monotonic() - query.created > self.callback_query_ttl
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        text = str_param(params, "text")
        if text is not None and utf16_length(text) > CALLBACK_ANSWER_TEXT_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = {
            "text": text,
            "show_alert": bool_param(params, "show_alert"),
            "url": str_param(params, "url"),
            "cache_time": int_param(params, "cache_time", 0),
        }
        self._notify(("answer", query.id))
        return True

    async def _get_file(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        file_id = str_param(params, "file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if self.local_files is not None:
            # No download limit in local mode: the bot reads the file where it lies.
            local = self.local_files / stored.file_path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(stored.content)
            file_path = str(local.absolute())
        elif len(stored.content) > DOWNLOAD_SIZE_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        else:
            file_path = stored.file_path
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": file_path,
        }

    # ----------------------------------------------------------------- the bot's profile

    def _commands_key(self, params: JsonDict) -> tuple[str, str]:
        scope = json_param(params, "scope")
        scope_key = compact_json(scope) if isinstance(scope, dict) else '{"type":"default"}'
        return scope_key, str_param(params, "language_code") or ""

    async def _set_my_commands(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        commands = json_param(params, "commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand")
            name = command.get("command")
            if not isinstance(name, str) or _BOT_COMMAND_NAME.fullmatch(name) is None:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> list[JsonDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_my_description(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        description = str_param(params, "description") or ""
        if len(description) > 512:
            raise ApiError(400, "Bad Request: BOT_DESCRIPTION_INVALID")
        self.descriptions[str_param(params, "language_code") or ""] = description
        return True

    async def _get_my_description(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        language = str_param(params, "language_code") or ""
        return {"description": self.descriptions.get(language, "")}

    async def _set_my_short_description(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        description = str_param(params, "short_description") or ""
        if len(description) > 120:
            raise ApiError(400, "Bad Request: BOT_ABOUT_INVALID")
        self.short_descriptions[str_param(params, "language_code") or ""] = description
        return True

    async def _get_my_short_description(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> JsonDict:
        language = str_param(params, "language_code") or ""
        return {"short_description": self.short_descriptions.get(language, "")}

    # ----------------------------------------------------------------- chats and members

    async def _get_chat(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._find_chat(params)
        return {
            **chat.json,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._find_chat(params)
        user_id = int_param(params, "user_id")
        if user_id is None:
            raise ApiError(400, "Bad Request: user_id is empty")
        if chat.type == "private" and user_id not in (chat.id, self.bot_id):
            raise ApiError(400, "Bad Request: user not found")
        return self._member_json(chat, user_id)

    async def _get_chat_administrators(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> list[JsonDict]:
        chat = self._find_chat(params)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        members = []
        if chat.creator_id is not None:
            members.append(self._member_json(chat, chat.creator_id))
        members.extend(
            self._member_json(chat, user_id)
            for user_id in sorted(chat.admin_ids)
            if user_id != chat.creator_id
        )
        if chat.bot_is_admin and not chat.bot_left:
            members.append(self._member_json(chat, self.bot_id))
        return members

    async def _get_chat_member_count(self, params: JsonDict, uploads: dict[str, Upload]) -> int:
        chat = self._find_chat(params)
        if chat.type == "private":
            return 2
        return len(chat.member_ids) + (0 if chat.bot_left else 1)

    async def _leave_chat(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        chat = self._find_chat(params)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        chat.bot_left = True
        chat.forbidden = (
            "Forbidden: bot is not a member of the channel chat"
            if chat.type == "channel"
            else f"Forbidden: bot is not a member of the {chat.type} chat"
        )
        return True
