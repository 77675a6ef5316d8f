"""A fake Telegram, one for every kind of test.

The modules, each one concern:

* ``entities`` – Telegram's text rules: HTML (and Markdown) to text and entities, the
  exact error reasons, the limits; ``html_errors`` is the checker for built markup;
* ``records`` – the plain data kept: chats, sent messages, files, calls, refusals;
* ``state`` – chats and users, blocked and migrated chats, flood limits (429), the update
  queue, planned failures;
* ``params`` – reading request fields and checking keyboards as Telegram does;
* ``methods`` – the Bot API methods (``sendMessage``, edits, callback answers …);
* ``control`` – :class:`FakeTelegram`: the above plus the test side (a person writes,
  presses a button, blocks the bot; waiting for the bot's replies and edits);
* ``server`` – :class:`BotApiEmulator`: the fake over HTTP for a real aiogram client or a
  bot process (getUpdates long polling, webhook, dropped connections);
  ``python -m testing.telegram`` runs it as a process;
* ``session`` – :class:`MockedSession`: the fake as an aiogram session, in-process;
* ``conversation`` – :class:`Conversation`: a chat fed straight to a Dispatcher in handler
  tests, and readers of the calls the bot made (``texts``, ``keyboard``, ``button`` …).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testing.telegram.control import FakeTelegram
    from testing.telegram.conversation import (
        Conversation,
        answers,
        button,
        calls,
        html_texts,
        keyboard,
        texts,
    )
    from testing.telegram.entities import (
        CAPTION_LIMIT,
        MESSAGE_TEXT_LIMIT,
        EntityParseError,
        html_errors,
        parse_html,
        parse_markdown,
        parse_markdown_v2,
        utf16_length,
        visible_text,
    )
    from testing.telegram.records import (
        DEFAULT_TOKEN,
        NOT_MODIFIED,
        ApiError,
        ChatState,
        SentMessage,
    )
    from testing.telegram.server import BotApiEmulator
    from testing.telegram.session import BOT_ID, BOT_TOKEN, BOT_USERNAME, MockedSession, Sent

# Each name is imported from its module when first used: the emulator's own process
# (`python -m testing.telegram`) then starts without aiogram, which only the in-process
# session and the conversations need (seconds of CPU for its models).
_MODULES = {
    "FakeTelegram": "testing.telegram.control",
    "Conversation": "testing.telegram.conversation",
    "answers": "testing.telegram.conversation",
    "button": "testing.telegram.conversation",
    "calls": "testing.telegram.conversation",
    "html_texts": "testing.telegram.conversation",
    "keyboard": "testing.telegram.conversation",
    "texts": "testing.telegram.conversation",
    "CAPTION_LIMIT": "testing.telegram.entities",
    "MESSAGE_TEXT_LIMIT": "testing.telegram.entities",
    "EntityParseError": "testing.telegram.entities",
    "html_errors": "testing.telegram.entities",
    "parse_html": "testing.telegram.entities",
    "parse_markdown": "testing.telegram.entities",
    "parse_markdown_v2": "testing.telegram.entities",
    "utf16_length": "testing.telegram.entities",
    "visible_text": "testing.telegram.entities",
    "DEFAULT_TOKEN": "testing.telegram.records",
    "NOT_MODIFIED": "testing.telegram.records",
    "ApiError": "testing.telegram.records",
    "ChatState": "testing.telegram.records",
    "SentMessage": "testing.telegram.records",
    "BotApiEmulator": "testing.telegram.server",
    "BOT_ID": "testing.telegram.session",
    "BOT_TOKEN": "testing.telegram.session",
    "BOT_USERNAME": "testing.telegram.session",
    "MockedSession": "testing.telegram.session",
    "Sent": "testing.telegram.session",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USERNAME",
    "CAPTION_LIMIT",
    "DEFAULT_TOKEN",
    "MESSAGE_TEXT_LIMIT",
    "NOT_MODIFIED",
    "ApiError",
    "BotApiEmulator",
    "ChatState",
    "Conversation",
    "EntityParseError",
    "FakeTelegram",
    "MockedSession",
    "Sent",
    "SentMessage",
    "answers",
    "button",
    "calls",
    "html_errors",
    "html_texts",
    "keyboard",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "texts",
    "utf16_length",
    "visible_text",
]
