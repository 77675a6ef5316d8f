"""Whatever the bot quotes back of someone's input is one plain, short line: no direction
overrides, isolates, marks or zero-width characters to arrange a text with."""

from __future__ import annotations

import re
import unicodedata

import pytest

from handlers.common import MAX_ECHO_LENGTH, echo_text, quote
from handlers.screens import TimePick, ZonePick
from testing.telegram import Conversation, texts
from tests.handlers.conftest import ADMIN_ID, ConversationFactory

ARRANGING = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff"
)
CONTROLS = "\x00\x07\x1b\x7f\x85"
HOSTILE = (
    "\u202eадитналтА\u202c \u2066Ат\u200bлан\u200dти\u2060да\u2069 "
    "\u200e\u200f\u061c\ufeff\u202a\u202b\u202d\u2067\u2068\x1b[31m\x07\x00 Гиперборея"
    + " Лемурия"
    * 30
)
QUOTED = re.compile("«([^»]*)»")


def _assert_clean_echo(reply: str, *, containing: str) -> None:
    assert not set(ARRANGING + CONTROLS) & set(reply), reply
    assert not any(unicodedata.category(char) == "Cf" for char in reply), reply
    echoed = QUOTED.findall(reply)
    assert echoed, reply
    for part in echoed:
        assert len(part) <= MAX_ECHO_LENGTH, part
    assert any(containing in part for part in echoed), reply


def test_echo_text_strips_collapses_and_caps() -> None:
    assert echo_text("\u202eОмск\u202c\n\tи\u200b  Ташкент\x1b\u2069") == "Омск и Ташкент"
    assert echo_text("\u2066\u200d\ufeff") == ""
    long = echo_text("Омск " * 40)
    assert len(long) == MAX_ECHO_LENGTH and long.endswith("…")
    assert quote("<b>Омск</b> & «Тара»\u202e") == "&lt;b&gt;Омск&lt;/b&gt; &amp; «Тара»"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/agreements {}", "Не знаю страну «"),
        ("/trade {}", "Не знаю страну «"),
        ("/news {} 0", "Не знаю страну «"),
        ("/topic {}", "Не знаю тему «"),
        ("/topic образование {}", "Не знаю страну «"),
    ],
)
async def test_unknown_country_or_topic_is_quoted_clean(
    private: Conversation, command: str, expected: str
) -> None:
    reply = texts(await private.send(command.format(HOSTILE)))[0]
    assert expected in reply
    _assert_clean_echo(reply, containing="Атлантида")


async def test_search_without_searchable_words_is_quoted_clean(private: Conversation) -> None:
    reply = texts(await private.send("/search \u202e١٢٣\u2066 ²\u200b " + "٤٥٦ " * 60))[0]
    assert "нет слов, по которым можно искать" in reply
    _assert_clean_echo(reply, containing="١٢٣ ²")


async def test_search_with_no_results_shows_a_short_query(private: Conversation) -> None:
    words = " ".join(["\u202eсоглашение\u202c", *(["Гиперборея\u200b"] * 10)])
    (reply,) = texts(await private.send(f"/search {words}"))
    header = reply.split("\n")[0]
    assert header.startswith("Поиск: соглашение гиперборея")
    assert len(header.removeprefix("Поиск: ")) <= MAX_ECHO_LENGTH
    assert not set(ARRANGING) & set(reply)


async def test_addfeed_quotes_a_refused_address_clean(conversation: ConversationFactory) -> None:
    admin = conversation(ADMIN_ID)
    reply = texts(await admin.send(f"/addfeed http://127.0.0.1/{HOSTILE}"))[0]
    assert "не может быть адресом ленты: в нём есть пробелы или управляющие символы" in reply
    _assert_clean_echo(reply, containing="http://127.0.0.1/адитналтА")


async def test_typed_time_and_zone_are_quoted_clean(private: Conversation) -> None:
    await private.send("/start")
    await private.press(TimePick(action="i", flow="s"))
    time_reply = texts(await private.send(HOSTILE))[0]
    assert "Не понял время «" in time_reply
    _assert_clean_echo(time_reply, containing="адитналтА")

    await private.press(ZonePick(action="i", flow="s"))
    zone_reply = texts(await private.send(HOSTILE))[0]
    assert "Не знаю часовой пояс «" in zone_reply
    _assert_clean_echo(zone_reply, containing="адитналтА Атлантида")


async def test_a_number_sign_that_is_not_a_number_gets_the_usage(
    conversation: ConversationFactory,
) -> None:
    admin = conversation(ADMIN_ID)
    for argument in ("²", "\u202e3", "3\u200b"):
        assert texts(await admin.send(f"/delfeed {argument}")) == [
            "Пришлите номер ленты из /feeds: /delfeed 3"
        ]
