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
