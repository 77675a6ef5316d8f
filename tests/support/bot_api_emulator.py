"""A local Telegram Bot API server for tests and benchmarks.

``BotApiEmulator`` speaks the Bot API over HTTP on 127.0.0.1 the way Telegram's own
server does for the methods the bot uses, with Telegram's validation (HTML entity parsing, text and
caption limits, inline keyboards, edits), its rate limits and its error answers, so that the
real bot (aiogram) can be run against it unchanged::

    async with BotApiEmulator() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(DEFAULT_TOKEN, session=session)
        api.send_user_message(42, "/start")          # a person writes to the bot
        replies = await api.wait_for_reply(42)      # what the bot answered

Routes: ``{base}/bot{token}/{method}`` (GET or POST; query string, urlencoded form,
multipart form data or a JSON body) and ``{base}/file/bot{token}/{file_path}``.
A JSON control interface drives an emulator that runs in another process
(``python -m tests.support.bot_api_emulator --port N`` prints its base URL on stdout and its
counters as one JSON line on stderr when stopped): ``POST {base}/_emulator/{action}`` with a
JSON object of keyword arguments for ``send_user_message``, ``press_button``,
``send_document`` (``content_base64`` instead of ``content``), ``bot_added_to_group``,
``user_blocks_bot``, ``block_chat``, ``unblock_chat``, ``deactivate_user``, ``kick_bot``,
``add_group``, ``migrate_group``, ``fail_next``, ``set_delay``, ``drop_connection_next``,
``set_rate_limits``, ``clear_failures``, ``reset_counters``, ``marker``,
``wait_for_messages``, ``wait_for_reply``, ``wait_for_answer`` (408 on timeout); and
``GET {base}/_emulator/stats``, ``messages?chat_id=N``, ``sent_messages?since=N``,
``rejected``. Answers are ``{"ok": true, "result": ...}``.

Everything runs on the event loop that called :meth:`BotApiEmulator.start`; the test-side
methods (``send_user_message``, ``block_chat`` …) must be called from that loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import math
import re
import secrets
import signal
import sys
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, Final, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout, MultipartReader, web
from aiohttp.web_request import FileField

JsonDict = dict[str, Any]
T = TypeVar("T")
_logger = logging.getLogger(__name__)

DEFAULT_BOT_ID: Final = 100000
DEFAULT_BOT_USERNAME: Final = "regdigest_bot"
DEFAULT_TOKEN: Final = f"{DEFAULT_BOT_ID}:AAEmulatedTokenForLocalTests_0123456789"
"""A well-formed token whose numeric part is the emulated bot's id (aiogram derives
``Bot.id`` from it)."""

MESSAGE_TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
CALLBACK_DATA_LIMIT_BYTES: Final = 64
CALLBACK_ANSWER_TEXT_LIMIT: Final = 200
INLINE_KEYBOARD_BUTTON_LIMIT: Final = 100
DOWNLOAD_SIZE_LIMIT: Final = 20 * 1024 * 1024
UPLOAD_SIZE_LIMIT: Final = 50 * 1024 * 1024
DEFAULT_GROUP_USER_ID: Final = 424242
"""Sender of ``send_user_message`` in a group when no ``user_id`` is given."""

SEND_METHODS: Final = frozenset({"sendmessage", "sendphoto", "senddocument"})
"""Methods that post a message, i.e. the ones Telegram's flood limits apply to."""

DEFAULT_ALLOWED_UPDATES: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

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

_TOKEN_PATTERN: Final = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,120}")
_LEADING_COMMAND: Final = re.compile(r"/\w{1,64}(?:@\w{3,64})?(?![\w@])", re.ASCII)
_BOT_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WHITESPACE: Final = " \t\n\r\v\f"


# --------------------------------------------------------------------------------------
# Entity parsing (HTML, MarkdownV2, Markdown), following Telegram's server-side parser
# --------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Text could not be parsed in the given parse mode; ``str()`` is Telegram's reason."""


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_SIMPLE_ENTITIES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL: Final = re.compile(r"[<&]")
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_NAME_TOKEN_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
)


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"``.

    Returns the character and the index after the reference, or None when ``&`` does not
    start one. Like Telegram: only ``lt gt amp quot`` and numeric references; the closing
    semicolon is optional.
    """
    size = len(text)
    end = pos + 1
    if end < size and text[end] == "#":
        end += 1
        value = 0
        if end < size and text[end] in "xX":
            end += 1
            while end < size and text[end] in _HEX_DIGITS:
                value = value * 16 + int(text[end], 16)
                end += 1
                if value >= 0x10FFFF:
                    return None
        else:
            while end < size and "0" <= text[end] <= "9":
                value = value * 10 + ord(text[end]) - 48
                end += 1
                if value >= 0x10FFFF:
                    return None
        if value == 0 or 0xD800 <= value <= 0xDFFF:
            return None
        character = chr(value)
    else:
        while end < size and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _HTML_NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        character = named
    if end < size and text[end] == ";":
        end += 1
    return character, end


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int
    piece_index: int
    expandable: bool
    language: str | None = None


class _HtmlParser:
    """Telegram's HTML subset: the same tags, attributes, references and error reasons."""

    def __init__(self, text: str, strict_ampersand: bool) -> None:
        self.text = text
        self.size = len(text)
        self.strict_ampersand = strict_ampersand
        self.pieces: list[str] = []
        self.entities: list[JsonDict] = []
        self.stack: list[_OpenTag] = []
        self.offset = 0

    def error(self, reason: str) -> EntityParseError:
        return EntityParseError(reason)

    def at(self, index: int) -> str:
        return f"at byte offset {_byte_offset(self.text, index)}"

    def parse(self) -> tuple[str, list[JsonDict]]:
        text = self.text
        position = 0
        search = _HTML_SPECIAL.search
        while True:
            match = search(text, position)
            if match is None:
                if position < self.size:
                    self.pieces.append(text[position:])
                break
            start = match.start()
            if start > position:
                chunk = text[position:start]
                self.pieces.append(chunk)
                self.offset += utf16_length(chunk)
            if text[start] == "&":
                decoded = _decode_html_entity(text, start)
                if decoded is None:
                    if self.strict_ampersand:
                        raise self.error(
                            f'Character "&" must be escaped as "&amp;" {self.at(start)}'
                        )
                    self.pieces.append("&")
                    self.offset += 1
                    position = start + 1
                else:
                    character, position = decoded
                    self.pieces.append(character)
                    self.offset += 2 if ord(character) > 0xFFFF else 1
            elif start + 1 < self.size and text[start + 1] == "/":
                position = self.close_tag(start)
            else:
                position = self.open_tag(start)
        if self.stack:
            name = self.stack[-1].name
            raise self.error(f'Can\'t find end tag corresponding to start tag "{name}"')
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.pieces), self.entities

    def skip_spaces(self, index: int) -> int:
        while index < self.size and self.text[index] in _WHITESPACE:
            index += 1
        return index

    def open_tag(self, begin: int) -> int:
        text, size = self.text, self.size
        index = begin + 1
        while index < size and text[index] not in _WHITESPACE and text[index] != ">":
            index += 1
        if index >= size:
            raise self.error(f"Unclosed start tag {self.at(begin)}")
        name = text[begin + 1 : index].lower()
        if name not in _HTML_TAGS:
            raise self.error(f'Unsupported start tag "{name}" {self.at(begin)}')
        argument = ""
        expandable = False
        while True:
            index = self.skip_spaces(index)
            if index >= size:
                raise self.error(f'Unclosed start tag "{name}" {self.at(begin)}')
            if text[index] == ">":
                break
            attribute_begin = index
            while index < size and text[index] not in _WHITESPACE and text[index] not in "=>":
                index += 1
            attribute = text[attribute_begin:index].lower()
            if not attribute:
                raise self.error(f'Empty attribute name in the tag "{name}" {self.at(begin)}')
            index = self.skip_spaces(index)
            if index >= size:
                raise self.error(f'Unclosed start tag "{name}" {self.at(begin)}')
            if text[index] != "=":
                if name == "blockquote" and attribute == "expandable":
                    expandable = True
                    continue
                raise self.error(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" {self.at(begin)}'
                )
            index = self.skip_spaces(index + 1)
            if index >= size:
                raise self.error(f'Unclosed start tag "{name}" {self.at(begin)}')
            quote = text[index]
            if quote in "\"'":
                index += 1
                value_pieces: list[str] = []
                while index < size and text[index] != quote:
                    if text[index] == "&":
                        decoded = _decode_html_entity(text, index)
                        if decoded is not None:
                            value_pieces.append(decoded[0])
                            index = decoded[1]
                            continue
                    value_pieces.append(text[index])
                    index += 1
                if index >= size:
                    raise self.error(f'Unclosed start tag "{name}" {self.at(begin)}')
                index += 1
                value = "".join(value_pieces)
            else:
                token_begin = index
                while index < size and text[index] in _NAME_TOKEN_CHARS:
                    index += 1
                value = text[token_begin:index].lower()
                if index < size and text[index] not in _WHITESPACE and text[index] != ">":
                    raise self.error(f"Unexpected end of name token {self.at(token_begin)}")
            if name == "a" and attribute == "href":
                argument = value
            elif name == "code" and attribute == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attribute == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attribute == "emoji-id":
                argument = value
            elif name == "blockquote" and attribute == "expandable":
                expandable = True
        if name == "span" and argument != "spoiler":
            raise self.error(f'Tag "span" must have class "tg-spoiler" {self.at(begin)}')
        if name == "tg-emoji" and not argument.isdigit():
            raise self.error(f"Expected a valid custom emoji identifier {self.at(begin)}")
        self.stack.append(_OpenTag(name, argument, self.offset, len(self.pieces), expandable))
        return index + 1

    def close_tag(self, begin: int) -> int:
        if not self.stack:
            raise self.error(f"Unexpected end tag {self.at(begin)}")
        end = self.text.find(">", begin + 2)
        if end < 0:
            raise self.error(f"Unclosed end tag {self.at(begin)}")
        end_name = self.text[begin + 2 : end].lower()
        top = self.stack[-1]
        if end_name and end_name != top.name:
            raise self.error(
                f'Unmatched end tag {self.at(begin)}, expected "</{top.name}>", '
                f'found "</{end_name}>"'
            )
        self.stack.pop()
        self.emit(top)
        return end + 1

    def emit(self, tag: _OpenTag) -> None:
        length = self.offset - tag.offset
        if length <= 0:
            return
        name = tag.name
        entity: JsonDict
        simple = _HTML_SIMPLE_ENTITIES.get(name)
        if simple is not None:
            entity = {"type": simple, "offset": tag.offset, "length": length}
        elif name == "code":
            parent = self.stack[-1] if self.stack else None
            if parent is not None and parent.name == "pre" and parent.offset == tag.offset:
                parent.language = tag.argument
                return
            entity = {"type": "code", "offset": tag.offset, "length": length}
        elif name == "pre":
            entity = {"type": "pre", "offset": tag.offset, "length": length}
            if tag.language:
                entity["language"] = tag.language
        elif name == "a":
            url = tag.argument or "".join(self.pieces[tag.piece_index :])
            checked = checked_url(url)
            if checked is None:
                return
            entity = {"type": "text_link", "offset": tag.offset, "length": length, "url": checked}
        elif name == "tg-emoji":
            entity = {
                "type": "custom_emoji",
                "offset": tag.offset,
                "length": length,
                "custom_emoji_id": tag.argument,
            }
        else:
            kind = "expandable_blockquote" if tag.expandable else "blockquote"
            entity = {"type": kind, "offset": tag.offset, "length": length}
        self.entities.append(entity)


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JsonDict]]:
    """Parse Telegram HTML into plain text and entities (offsets in UTF-16 units).

    Raises :class:`EntityParseError` with Telegram's reason on an unsupported, unclosed or
    mismatched tag, a bare ``<``, and (when ``strict_ampersand``) a bare ``&``. The real
    server keeps a bare ``&`` as a literal character; the strict default reports it because
    Telegram's documentation requires it to be escaped and unescaped text is a bug here.
    """
    return _HtmlParser(text, strict_ampersand).parse()


def checked_url(url: str) -> str | None:
    """The URL Telegram would link to, or None when it would drop the link."""
    url = url.strip()
    if not url or any(character in url for character in " \n\t"):
        return None
    if "://" not in url and not url.lower().startswith(("tg:", "ton:")):
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"tg", "ton"}:
        return url
    if scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname
    if "." not in host and host != "localhost":
        return None
    return url


_MARKDOWN_V2_RESERVED: Final = "_*[]()~`>#+-=|{}.!"
_MARKDOWN_V2_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _char_utf16(character: str) -> int:
    return 2 if ord(character) > 0xFFFF else 1


def parse_markdown_v2(text: str) -> tuple[str, list[JsonDict]]:
    """Parse MarkdownV2 like Telegram (reserved characters must be escaped)."""
    result: list[str] = []
    entities: list[JsonDict] = []
    nested: list[tuple[str, str, int, int, int]] = []  # type, argument, offset, begin, piece
    offset = 0
    size = len(text)
    index = 0
    line_start = True
    quote_start: int | None = None

    def peek(position: int) -> str:
        return text[position] if position < size else ""

    while index < size:
        character = text[index]
        if character == "\n" and quote_start is not None and peek(index + 1) != ">":
            entities.append(
                {"type": "blockquote", "offset": quote_start, "length": offset - quote_start}
            )
            quote_start = None
        if character == "\\" and index + 1 < size and 0 < ord(text[index + 1]) <= 126:
            index += 1
            result.append(text[index])
            offset += 1
            index += 1
            line_start = False
            continue
        if character == ">" and line_start and not nested:
            if quote_start is None:
                quote_start = offset
            index += 1
            line_start = False
            continue
        reserved = _MARKDOWN_V2_RESERVED
        if nested and nested[-1][0] in {"code", "pre"}:
            reserved = "`"
        if character not in reserved:
            result.append(character)
            offset += _char_utf16(character)
            line_start = character == "\n"
            index += 1
            continue
        line_start = False
        top = nested[-1][0] if nested else None
        is_end = {
            "bold": character == "*",
            "italic": character == "_" and peek(index + 1) != "_",
            "code": character == "`",
            "pre": character == "`" and peek(index + 1) == "`" and peek(index + 2) == "`",
            "text_link": character == "]",
            "custom_emoji": character == "]",
            "underline": character == "_" and peek(index + 1) == "_",
            "strikethrough": character == "~",
            "spoiler": character == "|" and peek(index + 1) == "|",
        }.get(top or "", False)
        reserved_error = EntityParseError(
            f"Character '{character}' is reserved and must be escaped with the preceding '\\'"
        )
        if not is_end:
            begin = index
            argument = ""
            if character == "_":
                if peek(index + 1) == "_":
                    kind = "underline"
                    index += 1
                else:
                    kind = "italic"
            elif character == "*":
                kind = "bold"
            elif character == "~":
                kind = "strikethrough"
            elif character == "|":
                if peek(index + 1) != "|":
                    raise reserved_error
                index += 1
                kind = "spoiler"
            elif character == "[":
                kind = "text_link"
            elif character == "`":
                if peek(index + 1) == "`" and peek(index + 2) == "`":
                    index += 3
                    kind = "pre"
                    language_end = index
                    while language_end < size and text[language_end] not in _WHITESPACE + "`":
                        language_end += 1
                    if index != language_end and language_end < size and text[language_end] != "`":
                        argument = text[index:language_end]
                        index = language_end
                    if peek(index) in ("\n", "\r"):
                        pair = peek(index + 1)
                        index += 2 if pair in ("\n", "\r") and pair != text[index] else 1
                    index -= 1
                else:
                    kind = "code"
            elif character == "!":
                if peek(index + 1) != "[":
                    raise reserved_error
                index += 1
                kind = "custom_emoji"
            else:
                raise reserved_error
            nested.append((kind, argument, offset, begin, len(result)))
            index += 1
            continue
        kind, argument, start_offset, _, piece = nested.pop()
        skip = offset == start_offset
        if kind in {"underline", "spoiler"}:
            index += 1
        elif kind == "pre":
            index += 2
        elif kind in {"text_link", "custom_emoji"}:
            if peek(index + 1) != "(":
                url = "".join(result[piece:])
            else:
                index += 2
                url_begin = index
                url_pieces: list[str] = []
                while index < size and text[index] != ")":
                    if text[index] == "\\" and index + 1 < size and 0 < ord(text[index + 1]) <= 126:
                        url_pieces.append(text[index + 1])
                        index += 2
                        continue
                    url_pieces.append(text[index])
                    index += 1
                if index >= size:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(url_pieces)
            if kind == "text_link":
                checked = checked_url(url)
                if checked is None:
                    skip = True
                argument = checked or ""
            else:
                argument = url.rpartition("id=")[2]
        if not skip:
            entity: JsonDict = {
                "type": kind,
                "offset": start_offset,
                "length": offset - start_offset,
            }
            if kind == "text_link":
                entity["url"] = argument
            elif kind == "custom_emoji":
                entity["custom_emoji_id"] = argument
            elif kind == "pre" and argument:
                entity["language"] = argument
            entities.append(entity)
        index += 1
    if quote_start is not None:
        entities.append(
            {"type": "blockquote", "offset": quote_start, "length": offset - quote_start}
        )
    if nested:
        kind, _, _, begin, _ = nested[-1]
        raise EntityParseError(
            f"Can't find end of {_MARKDOWN_V2_NAMES[kind]} entity at byte offset "
            f"{_byte_offset(text, begin)}"
        )
    entities = [entity for entity in entities if entity["length"] > 0]
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(result), entities


def parse_markdown(text: str) -> tuple[str, list[JsonDict]]:
    """Parse legacy Markdown like Telegram (``*bold* _italic_ `code` [text](url)``)."""
    result: list[str] = []
    entities: list[JsonDict] = []
    offset = 0
    size = len(text)
    index = 0
    while index < size:
        character = text[index]
        if character == "\\" and index + 1 < size and text[index + 1] in "_*`[":
            result.append(text[index + 1])
            offset += 1
            index += 2
            continue
        if character not in "_*`[":
            result.append(character)
            offset += _char_utf16(character)
            index += 1
            continue
        begin = index
        end_character = "]" if character == "[" else character
        index += 1
        is_pre = False
        language = ""
        if character == "`" and text[index : index + 2] == "``":
            index += 2
            is_pre = True
            language_end = index
            while language_end < size and text[language_end] not in _WHITESPACE + "`":
                language_end += 1
            if index != language_end and language_end < size and text[language_end] != "`":
                language = text[index:language_end]
                index = language_end
            if index < size and text[index] in "\r\n":
                pair = text[index + 1] if index + 1 < size else ""
                index += 2 if pair in ("\n", "\r") and pair != text[index] else 1
        entity_offset = offset
        piece = len(result)
        while index < size and (
            text[index] != end_character or (is_pre and text[index + 1 : index + 3] != "``")
        ):
            result.append(text[index])
            offset += _char_utf16(text[index])
            index += 1
        if index >= size:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = offset - entity_offset
        if character == "[":
            if index + 1 < size and text[index + 1] == "(":
                close = text.find(")", index + 2)
                url = text[index + 2 : close if close >= 0 else size]
                index = close if close >= 0 else size
            else:
                url = "".join(result[piece:])
            checked = checked_url(url)
            if length > 0 and checked is not None:
                entities.append(
                    {"type": "text_link", "offset": entity_offset, "length": length, "url": checked}
                )
        elif length > 0:
            kind = {"_": "italic", "*": "bold"}.get(character, "pre" if is_pre else "code")
            entity: JsonDict = {"type": kind, "offset": entity_offset, "length": length}
            if language:
                entity["language"] = language
            entities.append(entity)
        if is_pre:
            index += 2
        index += 1
    return "".join(result), entities


def _trim_formatted(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Strip leading and trailing whitespace like Telegram and move the entities along."""
    stripped = text.strip(_WHITESPACE)
    if len(stripped) == len(text):
        return text, entities
    leading = len(text) - len(text.lstrip(_WHITESPACE))
    new_length = utf16_length(stripped)
    trimmed: list[JsonDict] = []
    for entity in entities:
        start = max(entity["offset"] - leading, 0)
        end = min(entity["offset"] + entity["length"] - leading, new_length)
        if end > start:
            moved = dict(entity)
            moved["offset"] = start
            moved["length"] = end - start
            trimmed.append(moved)
    return stripped, trimmed


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


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
    ``seq`` is the position in :attr:`BotApiEmulator.sent_messages` (see ``marker()``).
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
    json: JsonDict = field(default_factory=dict)

    def refresh_json(self) -> None:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or f"Пользователь {self.id}"
        else:
            data["title"] = self.title or f"Чат {self.id}"
        if self.username:
            data["username"] = self.username
        self.json = data


@dataclass(slots=True)
class _Injection:
    status: int
    description: str
    parameters: JsonDict | None
    remaining: int
    chat_id: int | None


@dataclass(slots=True)
class _Drop:
    remaining: int
    after_processing: bool
    chat_id: int | None


@dataclass(slots=True)
class _Poller:
    event: asyncio.Event
    terminated: bool = False


_Handler = Callable[[JsonDict, dict[str, Upload]], Awaitable[Any]]


def _json_dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _json_response(status: int, payload: JsonDict) -> web.Response:
    return web.Response(text=_json_dumps(payload), status=status, content_type="application/json")


_NOT_FOUND_PAYLOAD: Final = {"ok": False, "error_code": 404, "description": "Not Found"}
_UNAUTHORIZED_PAYLOAD: Final = {"ok": False, "error_code": 401, "description": "Unauthorized"}


def _image_size(content: bytes) -> tuple[int, int] | None:
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


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class BotApiEmulator:
    """An in-process Telegram Bot API server on 127.0.0.1 (see the module docstring).

    Construction arguments:

    * ``host``, ``port`` – where to listen; port 0 picks a free port (see ``base_url``).
    * ``token`` – when set, only this token is accepted (others get 401 Unauthorized);
      when None any well-formed token is. A malformed token gets 404 like Telegram.
    * ``bot_id``, ``bot_username``, ``bot_first_name`` – what ``getMe`` returns.
    * ``global_rate`` – sends per second across all chats (sliding one-second window);
      None disables it. ``private_chat_rate`` / ``private_chat_burst`` – a token bucket per
      private chat (1 message per second, bursts of 3). ``group_rate_per_minute`` – per group,
      supergroup or channel (sliding minute). ``rate_limits=False`` disables all three.
    * ``retry_after`` – the ``retry_after`` of every 429; None computes the seconds until a
      slot frees (at least 1).
    * ``callback_query_ttl`` – seconds after which a callback query can't be answered.
    * ``strict_html_ampersand`` – reject a bare ``&`` in HTML (see :func:`parse_html`).
    * ``max_long_poll`` – upper bound of a getUpdates ``timeout`` in seconds.
    * ``webhook_retry_delay`` – pause before re-posting an update the webhook refused.

    Counters and records (read them directly): ``sent_messages``, ``rejected``, ``calls``,
    ``call_counts``, ``count_429``, ``sends_during_pause``, ``sends_during_chat_pause``,
    ``pauses``, ``updates``, ``callback_queries``, ``webhook``, ``webhook_deliveries``,
    ``webhook_failures``, ``dropped_connections``, ``conflicts``, ``commands``,
    ``descriptions``, ``short_descriptions``, ``chat_actions``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
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
        max_long_poll: float = 50.0,
        webhook_retry_delay: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.global_rate = global_rate if rate_limits else None
        self.private_chat_rate = private_chat_rate if rate_limits else None
        self.private_chat_burst = private_chat_burst
        self.group_rate_per_minute = group_rate_per_minute if rate_limits else None
        self.retry_after = retry_after
        self.callback_query_ttl = callback_query_ttl
        self.strict_html_ampersand = strict_html_ampersand
        self.max_long_poll = max_long_poll
        self.webhook_retry_delay = webhook_retry_delay

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
        self.webhook: JsonDict | None = None
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        self.dropped_connections = 0
        self.conflicts = 0
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
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._next_update_id = 1
        self._next_file_number = 1
        self._global_window: deque[float] = deque()
        self._paused_until = 0.0
        self._poller: _Poller | None = None
        self._injections: dict[str, list[_Injection]] = {}
        self._drops: dict[str, list[_Drop]] = {}
        self._delays: dict[str, tuple[float, bool]] = {}
        self._events: dict[Any, asyncio.Event] = {}
        self._webhook_wakeup = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._handlers: dict[str, tuple[str, _Handler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("answerCallbackQuery", self._answer_callback_query),
            ("getFile", self._get_file),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setMyDescription", self._set_my_description),
            ("getMyDescription", self._get_my_description),
            ("setMyShortDescription", self._set_my_short_description),
            ("getMyShortDescription", self._get_my_short_description),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
            ("getChatMemberCount", self._get_chat_member_count),
            ("sendChatAction", self._send_chat_action),
            ("leaveChat", self._leave_chat),
        ):
            self._handlers[name.lower()] = (name, handler)

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> str:
        """Start listening and return :attr:`base_url`."""
        app = web.Application(client_max_size=UPLOAD_SIZE_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_route("*", "/_emulator/{action}", self._handle_control)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_route)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        """Release pending long polls, stop webhook delivery and close the server."""
        self._closing = True
        if self._poller is not None:
            self._poller.event.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; pass it to ``TelegramAPIServer.from_base``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

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

    def set_delay(self, method: str, seconds: float, *, after_processing: bool = False) -> None:
        """Delay answers of ``method`` (``"*"`` for every method); 0 removes the delay.

        By default the request waits before it is processed; with ``after_processing`` it is
        processed (the message is sent) and the answer waits.
        """
        if seconds <= 0:
            self._delays.pop(method.lower(), None)
        else:
            self._delays[method.lower()] = (seconds, after_processing)

    def drop_connection_next(
        self,
        method: str,
        times: int = 1,
        *,
        after_processing: bool = False,
        chat_id: int | None = None,
    ) -> None:
        """Close the socket of the next ``times`` calls of ``method`` without an answer.

        By default nothing is processed; with ``after_processing`` the message is sent and
        only the answer is lost, like a connection that broke on the way back.
        """
        self._drops.setdefault(method.lower(), []).append(_Drop(times, after_processing, chat_id))

    def clear_failures(self) -> None:
        """Forget every ``fail_next``, ``set_delay`` and ``drop_connection_next``."""
        self._injections.clear()
        self._drops.clear()
        self._delays.clear()

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

    # ----------------------------------------------------------------- chats (test side)

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

    # ----------------------------------------------------------------- users (test side)

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
    ) -> JsonDict:
        """A person writes ``text`` to the bot; returns the queued update.

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
        return self._push_update("channel_post" if chat.type == "channel" else "message", message)

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
    ) -> JsonDict:
        """A person sends a file; it can be fetched through getFile and the file route."""
        chat, sender = self._user_context(chat_id, user_id, chat_type, language_code, None, None)
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
        return self._push_update("message", message)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        user_id: int | None = None,
        *,
        language_code: str | None = "ru",
    ) -> str:
        """A person taps an inline button; returns the callback query id.

        The data is not checked against the keyboard, so forged or stale data can be sent.
        The query carries the message as it is now, or an inaccessible message (date 0) when
        the bot never sent or has deleted it.
        """
        chat = self._chats.get(chat_id) or self._ensure_chat(chat_id, "private")
        if user_id is None:
            user_id = chat_id if chat.type == "private" else DEFAULT_GROUP_USER_ID
        sender = self._user(user_id, language_code=language_code)
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
        self._push_update(
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
        return self._push_update(
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
        return self._push_update(
            "my_chat_member",
            {
                "chat": chat.json,
                "from": self._user(chat_id),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": self._bot_user},
                "new_chat_member": {"status": "kicked", "user": self._bot_user, "until_date": 0},
            },
        )

    def push_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        """Queue an arbitrary update (``update_id`` is assigned)."""
        return self._push_update(update_type, payload)

    # ----------------------------------------------------------------- queries (test side)

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

    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (through getUpdates offset or the webhook)."""
        return list(self._pending)

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

    def _notify(self, key: Any) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()
        event = self._events.pop("*", None)
        if event is not None:
            event.set()

    # ----------------------------------------------------------------- HTTP

    async def _handle_unknown_route(self, request: web.Request) -> web.Response:
        return _json_response(404, _NOT_FOUND_PAYLOAD)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if _TOKEN_PATTERN.fullmatch(token) is None:
            return _json_response(404, _NOT_FOUND_PAYLOAD)
        method = request.match_info["method"]
        if self.token is not None and token != self.token:
            self._reject(method, {}, ApiError(401, "Unauthorized", reason="unauthorized"))
            return _json_response(401, _UNAUTHORIZED_PAYLOAD)
        key = method.lower()
        try:
            params, uploads = await self._read_params(request)
        except ApiError as error:
            return _json_response(error.status, self._reject(method, {}, error))
        drop = self._take(self._drops, key, params) if self._drops else None
        delay = (self._delays.get(key) or self._delays.get("*")) if self._delays else None
        if drop is not None and not drop.after_processing:
            return self._drop_connection(request)
        if delay is not None and not delay[1]:
            await asyncio.sleep(delay[0])
        status, payload = await self._invoke(key, params, uploads)
        if drop is not None:
            return self._drop_connection(request)
        if delay is not None and delay[1]:
            await asyncio.sleep(delay[0])
        return _json_response(status, payload)

    def _drop_connection(self, request: web.Request) -> web.StreamResponse:
        self.dropped_connections += 1
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    async def _read_params(self, request: web.Request) -> tuple[JsonDict, dict[str, Upload]]:
        params: JsonDict = dict(request.query) if request.query_string else {}
        uploads: dict[str, Upload] = {}
        if request.method != "POST" or not request.body_exists:
            return params, uploads
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise ApiError(400, "Bad Request: can't parse JSON object") from error
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, FileField):
                    uploads[name] = Upload(
                        value.filename or name, value.content_type, value.file.read()
                    )
                else:
                    params[name] = value
        return params, uploads

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if _TOKEN_PATTERN.fullmatch(token) is None:
            return _json_response(404, _NOT_FOUND_PAYLOAD)
        if self.token is not None and token != self.token:
            return _json_response(401, _UNAUTHORIZED_PAYLOAD)
        path = request.match_info["file_path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.content,
                    content_type=stored.mime_type or "application/octet-stream",
                )
        return _json_response(404, _NOT_FOUND_PAYLOAD)

    async def call(self, method: str, **params: Any) -> Any:
        """Run a Bot API method in-process (no HTTP); returns the result or raises ApiError."""
        status, payload = await self._invoke(method.lower(), params, {})
        if not payload["ok"]:
            raise ApiError(status, payload["description"], payload.get("parameters"))
        return payload["result"]

    async def _invoke(
        self, key: str, params: JsonDict, uploads: dict[str, Upload]
    ) -> tuple[int, JsonDict]:
        entry = self._handlers.get(key)
        if entry is None:
            self._reject(key, params, ApiError(404, "Not Found", reason="not_found"))
            return 404, _NOT_FOUND_PAYLOAD
        name, handler = entry
        now = time.monotonic()
        self.calls.append(ApiCall(name, params, now))
        self.call_counts[name] += 1
        try:
            if key in SEND_METHODS and now < self._paused_until:
                self.sends_during_pause += 1
                retry = max(1, math.ceil(self._paused_until - now))
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {retry}",
                    {"retry_after": retry},
                    reason="paused",
                )
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

    def _take(self, table: dict[str, list[Any]], key: str, params: JsonDict) -> Any:
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

    # ----------------------------------------------------------------- parameters

    @staticmethod
    def _int(params: JsonDict, name: str, default: int | None = None) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError) as error:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from error

    @staticmethod
    def _bool(params: JsonDict, name: str) -> bool:
        value = params.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    @staticmethod
    def _json(params: JsonDict, name: str) -> Any:
        value = params.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError as error:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from error
        return value

    @staticmethod
    def _str(params: JsonDict, name: str) -> str | None:
        value = params.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    # ----------------------------------------------------------------- chats (server side)

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

    def _push_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_update_id, update_type: payload}
        self._next_update_id += 1
        self.updates.append(update)
        self._pending.append(update)
        if self._poller is not None:
            self._poller.event.set()
        self._webhook_wakeup.set()
        return update

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

    def _check_chat_pause(self, chat: ChatState, now: float) -> None:
        if now < chat.paused_until:
            self.sends_during_chat_pause += 1
            retry = max(1, math.ceil(chat.paused_until - now))
            raise self._too_many(retry, "chat_paused")

    def _admit_send(self, chat: ChatState, now: float) -> None:
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

    # ----------------------------------------------------------------- formatting

    def _format(
        self, params: JsonDict, field_name: str, entities_name: str, limit: int
    ) -> tuple[str | None, str | None, list[JsonDict], str | None]:
        """Returns (raw text, plain text, entities, parse_mode) after Telegram's checks."""
        raw = self._str(params, field_name)
        parse_mode = self._str(params, "parse_mode") or None
        is_caption = field_name == "caption"
        if raw is None or raw == "":
            if is_caption:
                return None, None, [], parse_mode
            raise ApiError(400, "Bad Request: message text is empty")
        mode = (parse_mode or "").lower()
        try:
            if mode == "html":
                plain, entities = parse_html(raw, strict_ampersand=self.strict_html_ampersand)
            elif mode == "markdownv2":
                plain, entities = parse_markdown_v2(raw)
            elif mode == "markdown":
                plain, entities = parse_markdown(raw)
            elif mode == "":
                plain = raw
                given = self._json(params, entities_name)
                entities = given if isinstance(given, list) else []
            else:
                raise ApiError(400, "Bad Request: unsupported parse_mode")
        except EntityParseError as error:
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from error
        plain, entities = _trim_formatted(plain, entities)
        if not plain:
            if is_caption:
                return raw, None, [], parse_mode
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_length(plain) > limit:
            if is_caption:
                raise ApiError(400, "Bad Request: message caption is too long")
            raise ApiError(400, "Bad Request: message is too long")
        return raw, plain, entities, parse_mode

    def _reply_markup(self, params: JsonDict) -> JsonDict | None:
        value = params.get("reply_markup")
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                raise ApiError(
                    400, "Bad Request: can't parse reply keyboard markup JSON object"
                ) from error
        if not isinstance(value, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in value:
            rows = value["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                    "must be an Array of Arrays",
                )
            total = 0
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
                    total += 1
            if total > INLINE_KEYBOARD_BUTTON_LIMIT:
                raise ApiError(400, "Bad Request: reply markup is too long")
            if total == 0:
                return None
            return value
        if "keyboard" in value:
            rows = value["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup '
                    "must be an Array of Arrays",
                )
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
            return value
        if "remove_keyboard" in value or "force_reply" in value:
            return value
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        prefix = "Bad Request: can't parse inline keyboard button: "
        if not isinstance(button, dict):
            raise ApiError(400, prefix + "InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str):
            raise ApiError(400, prefix + 'Field "text" must be of type String')
        if not text.strip():
            raise ApiError(400, prefix + "Text must be non-empty")
        actions = {
            "url",
            "callback_data",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        }
        if not actions.intersection(button):
            raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None:
            if not isinstance(data, str):
                raise ApiError(400, prefix + 'Field "callback_data" must be of type String')
            size = len(data.encode("utf-8"))
            if size == 0 or size > CALLBACK_DATA_LIMIT_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and (not isinstance(url, str) or checked_url(url) is None):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _link_preview(self, params: JsonDict) -> JsonDict | None:
        options = self._json(params, "link_preview_options")
        if options is not None and not isinstance(options, dict):
            raise ApiError(400, "Bad Request: can't parse link preview options JSON object")
        if self._bool(params, "disable_web_page_preview"):
            options = dict(options or {})
            options["is_disabled"] = True
        return options

    def _reply_to(self, chat: ChatState, params: JsonDict) -> int | None:
        reply = self._json(params, "reply_parameters")
        allow_missing = self._bool(params, "allow_sending_without_reply")
        message_id: int | None
        if isinstance(reply, dict) and "message_id" in reply:
            message_id = int(reply["message_id"])
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = self._int(params, "reply_to_message_id")
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

    def _message_json(self, record: SentMessage, chat: ChatState) -> JsonDict:
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
    ) -> SentMessage:
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
            disable_notification=self._bool(params, "disable_notification"),
            params=params,
        )
        self.sent_messages.append(record)
        chat.sent.append(record)
        chat.messages[message_id] = record
        self._notify(("chat", chat.id))
        return record

    # ----------------------------------------------------------------- files

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

    # ----------------------------------------------------------------- methods

    async def _get_me(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JsonDict, uploads: dict[str, Upload]) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT, reason="conflict")
        offset = self._int(params, "offset", 0) or 0
        limit = min(max(self._int(params, "limit", 100) or 100, 1), 100)
        timeout = min(max(float(self._int(params, "timeout", 0) or 0), 0.0), self.max_long_poll)
        allowed = self._json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        self._confirm(offset)
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
            self.conflicts += 1
        poller = _Poller(asyncio.Event())
        self._poller = poller
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                batch = self._collect(limit)
                if batch or self._closing:
                    return batch
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                poller.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.event.wait(), remaining)
                if poller.terminated:
                    raise ApiError(409, GETUPDATES_CONFLICT, reason="conflict")
        finally:
            if self._poller is poller:
                self._poller = None

    def _confirm(self, offset: int) -> None:
        pending = self._pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        elif offset < 0:
            while len(pending) > -offset:
                pending.popleft()

    def _collect(self, limit: int) -> list[JsonDict]:
        allowed = self._allowed_updates
        kept: deque[JsonDict] = deque()
        batch: list[JsonDict] = []
        for update in self._pending:
            kind = next(key for key in update if key != "update_id")
            if kind in allowed:
                kept.append(update)
                if len(batch) < limit:
                    batch.append(update)
        self._pending = kept
        return batch

    async def _set_webhook(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        url = self._str(params, "url") or ""
        if not url:
            return await self._delete_webhook(params, uploads)
        if checked_url(url) is None or not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: Failed to resolve host")
        secret = self._str(params, "secret_token")
        if secret is not None and _SECRET_TOKEN.fullmatch(secret) is None:
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = self._json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if self._bool(params, "drop_pending_updates"):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": self._int(params, "max_connections", 40),
            "allowed_updates": allowed,
            "ip_address": self._str(params, "ip_address"),
        }
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhook_updates())
        self._webhook_wakeup.set()
        return True

    async def _delete_webhook(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        self.webhook = None
        if self._bool(params, "drop_pending_updates"):
            self._pending.clear()
        self._webhook_wakeup.set()
        return True

    async def _get_webhook_info(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        info: JsonDict = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _deliver_webhook_updates(self) -> None:
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            while self.webhook is not None and not self._closing:
                if not self._pending:
                    self._webhook_wakeup.clear()
                    await self._webhook_wakeup.wait()
                    continue
                webhook = self.webhook
                update = self._pending[0]
                kind = next(key for key in update if key != "update_id")
                if kind not in self._allowed_updates:
                    self._pending.popleft()
                    continue
                headers = {"Content-Type": "application/json"}
                if webhook["secret_token"]:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
                try:
                    async with session.post(
                        webhook["url"], data=_json_dumps(update).encode(), headers=headers
                    ) as response:
                        if 200 <= response.status < 300:
                            if self._pending and self._pending[0] is update:
                                self._pending.popleft()
                            self.webhook_deliveries += 1
                            await self._run_webhook_reply(response)
                            self._notify("*")
                            continue
                except (ClientError, TimeoutError):
                    pass
                self.webhook_failures += 1
                self._notify("*")
                await asyncio.sleep(self.webhook_retry_delay)

    async def _run_webhook_reply(self, response: Any) -> None:
        params: JsonDict = {}
        uploads: dict[str, Upload] = {}
        content_type = response.content_type
        if content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await response.json()
                if isinstance(body, dict):
                    params = body
        elif content_type.startswith("multipart/"):
            reader = MultipartReader.from_response(response)
            async for part in reader:
                if part is None or isinstance(part, MultipartReader) or part.name is None:
                    continue
                data = await part.read()
                if part.filename:
                    uploads[part.name] = Upload(
                        part.filename, part.headers.get("Content-Type", ""), bytes(data)
                    )
                else:
                    params[part.name] = bytes(data).decode("utf-8")
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self._invoke(method.lower(), params, uploads)

    async def _send_message(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "text", "entities", MESSAGE_TEXT_LIMIT)
        reply_markup = self._reply_markup(params)
        reply_to = self._reply_to(chat, params)
        preview = self._link_preview(params)
        self._admit_send(chat, now)
        record = self._record(
            chat,
            "sendMessage",
            params,
            now,
            formatted,
            reply_markup,
            reply_to,
            link_preview_options=preview,
        )
        return self._message_json(record, chat)

    async def _send_photo(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "caption", "caption_entities", CAPTION_LIMIT)
        reply_markup = self._reply_markup(params)
        reply_to = self._reply_to(chat, params)
        if not params.get("photo") and "photo" not in uploads:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        stored = self._input_file(params, uploads, "photo", "photos")
        if stored is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        size = (512, 512) if not stored.content else _image_size(stored.content)
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
            reply_markup,
            reply_to,
            file_id=stored.file_id,
            media=media,
        )
        return self._message_json(record, chat)

    async def _send_document(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params)
        now = time.monotonic()
        self._check_chat_pause(chat, now)
        formatted = self._format(params, "caption", "caption_entities", CAPTION_LIMIT)
        reply_markup = self._reply_markup(params)
        reply_to = self._reply_to(chat, params)
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
            reply_markup,
            reply_to,
            file_id=stored.file_id,
            media=media,
        )
        return self._message_json(record, chat)

    def _editable(self, params: JsonDict) -> tuple[ChatState, SentMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._writable_chat(params)
        message_id = self._int(params, "message_id")
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
        formatted: tuple[str | None, str | None, list[JsonDict], str | None] | None,
        reply_markup: JsonDict | None,
    ) -> JsonDict:
        if formatted is None:
            unchanged = reply_markup == record.reply_markup
        else:
            unchanged = (
                formatted[1] == record.plain_text
                and formatted[2] == record.entities
                and reply_markup == record.reply_markup
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
        record.reply_markup = reply_markup
        record.edit_date = int(time.time())
        self._notify(("chat", chat.id))
        return self._message_json(record, chat)

    async def _edit_message_text(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat, record = self._editable(params)
        if record.method != "sendMessage":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        formatted = self._format(params, "text", "entities", MESSAGE_TEXT_LIMIT)
        reply_markup = self._reply_markup(params)
        preview = self._link_preview(params)
        result = self._apply_edit(chat, record, "editMessageText", formatted, reply_markup)
        if preview is not None:
            record.link_preview_options = preview
        return result

    async def _edit_message_caption(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        chat, record = self._editable(params)
        if record.method == "sendMessage":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        formatted = self._format(params, "caption", "caption_entities", CAPTION_LIMIT)
        reply_markup = self._reply_markup(params)
        return self._apply_edit(chat, record, "editMessageCaption", formatted, reply_markup)

    async def _edit_message_reply_markup(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> JsonDict:
        chat, record = self._editable(params)
        reply_markup = self._reply_markup(params)
        return self._apply_edit(chat, record, "editMessageReplyMarkup", None, reply_markup)

    async def _delete_message(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        chat = self._writable_chat(params)
        message_id = self._int(params, "message_id")
        record = chat.messages.get(message_id) if message_id is not None else None
        if record is not None and not record.deleted:
            record.deleted = True
            self._notify(("chat", chat.id))
            return True
        if message_id is not None and chat.user_messages.pop(message_id, None) is not None:
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    async def _answer_callback_query(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        query_id = self._str(params, "callback_query_id")
        query = self.callback_queries.get(query_id or "")
        if (
            query is None
            or query.answer is not None
            or time.monotonic() - query.created > self.callback_query_ttl
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        text = self._str(params, "text")
        if text is not None and utf16_length(text) > CALLBACK_ANSWER_TEXT_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = {
            "text": text,
            "show_alert": self._bool(params, "show_alert"),
            "url": self._str(params, "url"),
            "cache_time": self._int(params, "cache_time", 0),
        }
        self._notify(("answer", query.id))
        return True

    async def _get_file(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        file_id = self._str(params, "file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > DOWNLOAD_SIZE_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _commands_key(self, params: JsonDict) -> tuple[str, str]:
        scope = self._json(params, "scope")
        scope_key = _json_dumps(scope) if isinstance(scope, dict) else '{"type":"default"}'
        return scope_key, self._str(params, "language_code") or ""

    async def _set_my_commands(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        commands = self._json(params, "commands")
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
        description = self._str(params, "description") or ""
        if len(description) > 512:
            raise ApiError(400, "Bad Request: BOT_DESCRIPTION_INVALID")
        self.descriptions[self._str(params, "language_code") or ""] = description
        return True

    async def _get_my_description(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        language = self._str(params, "language_code") or ""
        return {"description": self.descriptions.get(language, "")}

    async def _set_my_short_description(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        description = self._str(params, "short_description") or ""
        if len(description) > 120:
            raise ApiError(400, "Bad Request: BOT_ABOUT_INVALID")
        self.short_descriptions[self._str(params, "language_code") or ""] = description
        return True

    async def _get_my_short_description(
        self, params: JsonDict, uploads: dict[str, Upload]
    ) -> JsonDict:
        language = self._str(params, "language_code") or ""
        return {"short_description": self.short_descriptions.get(language, "")}

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
        user_id = self._int(params, "user_id")
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

    async def _send_chat_action(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        chat = self._writable_chat(params)
        action = self._str(params, "action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True

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

    # ----------------------------------------------------------------- control interface

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
            "dropped_connections": self.dropped_connections,
            "conflicts": self.conflicts,
            "webhook": self.webhook,
        }

    async def _handle_control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body: JsonDict = {}
        if request.body_exists:
            try:
                loaded = await request.json()
            except ValueError:
                return _json_response(400, {"ok": False, "description": "body is not JSON"})
            if isinstance(loaded, dict):
                body = loaded
        body.update(request.query)
        try:
            result = await self._control(action, body)
        except TimeoutError as error:
            return _json_response(408, {"ok": False, "description": str(error)})
        except (KeyError, TypeError, ValueError) as error:
            return _json_response(400, {"ok": False, "description": repr(error)})
        if result is _UNKNOWN_ACTION:
            return _json_response(404, {"ok": False, "description": f"no action {action!r}"})
        return _json_response(200, {"ok": True, "result": result})

    async def _control(self, action: str, body: JsonDict) -> Any:
        def chat_id() -> int:
            return int(body.pop("chat_id"))

        simple: dict[str, Callable[..., Any]] = {
            "send_user_message": self.send_user_message,
            "press_button": self.press_button,
            "bot_added_to_group": self.bot_added_to_group,
            "user_blocks_bot": self.user_blocks_bot,
            "block_chat": self.block_chat,
            "unblock_chat": self.unblock_chat,
            "deactivate_user": self.deactivate_user,
            "kick_bot": self.kick_bot,
            "migrate_group": self.migrate_group,
            "fail_next": self.fail_next,
            "set_delay": self.set_delay,
            "drop_connection_next": self.drop_connection_next,
            "set_rate_limits": self.set_rate_limits,
            "clear_failures": self.clear_failures,
            "reset_counters": self.reset_counters,
            "marker": self.marker,
        }
        if action in simple:
            result = simple[action](**body)
            return None if isinstance(result, ChatState) else result
        if action == "stats":
            return self.stats()
        if action == "add_group":
            self.add_group(**body)
            return None
        if action == "send_document":
            content = base64.b64decode(body.pop("content_base64"))
            return self.send_document(content=content, **body)
        if action == "messages":
            return [_record_json(record) for record in self.messages_for(chat_id())]
        if action == "sent_messages":
            since = int(body.get("since", 0))
            return [_record_json(record) for record in self.sent_messages[since:]]
        if action == "rejected":
            return [dataclasses.asdict(rejection) for rejection in self.rejected]
        if action == "wait_for_messages":
            records = await self.wait_for_messages(chat_id(), **_numeric(body))
            return [_record_json(record) for record in records]
        if action == "wait_for_reply":
            records = await self.wait_for_reply(chat_id(), **_numeric(body))
            return [_record_json(record) for record in records]
        if action == "wait_for_answer":
            return await self.wait_for_answer(**_numeric(body))
        return _UNKNOWN_ACTION


_UNKNOWN_ACTION: Final = object()


def _numeric(body: JsonDict) -> JsonDict:
    converted: JsonDict = {}
    for key, value in body.items():
        if key in {"count", "since"}:
            converted[key] = int(value)
        elif key == "timeout":
            converted[key] = float(value)
        else:
            converted[key] = value
    return converted


def _record_json(record: SentMessage) -> JsonDict:
    data = dataclasses.asdict(record)
    data.pop("params", None)
    return data


# --------------------------------------------------------------------------------------
# Standalone process
# --------------------------------------------------------------------------------------


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.bot_api_emulator",
        description="Run the local Telegram Bot API emulator until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="accept only this token")
    parser.add_argument("--username", default=DEFAULT_BOT_USERNAME)
    parser.add_argument("--global-rate", type=float, default=30.0)
    parser.add_argument("--private-chat-rate", type=float, default=1.0)
    parser.add_argument("--private-chat-burst", type=int, default=3)
    parser.add_argument("--group-rate-per-minute", type=int, default=20)
    parser.add_argument("--retry-after", type=int, default=None)
    parser.add_argument("--no-rate-limits", action="store_true")
    return parser.parse_args(argv)


async def _serve(arguments: argparse.Namespace) -> None:
    emulator = BotApiEmulator(
        host=arguments.host,
        port=arguments.port,
        token=arguments.token,
        bot_username=arguments.username,
        global_rate=arguments.global_rate,
        private_chat_rate=arguments.private_chat_rate,
        private_chat_burst=arguments.private_chat_burst,
        group_rate_per_minute=arguments.group_rate_per_minute,
        rate_limits=not arguments.no_rate_limits,
        retry_after=arguments.retry_after,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with emulator:
        print(emulator.base_url, flush=True)
        await stop.wait()
        print(_json_dumps(emulator.stats()), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m tests.support.bot_api_emulator``."""
    asyncio.run(_serve(_parse_arguments(argv)))


if __name__ == "__main__":
    main()
