"""Telegram's text rules: HTML (and Markdown) parsing into text plus entities, the checks and
error reasons of Telegram's server-side parser, and the length limits.

Everything that decides whether Telegram accepts a text lives here, and the HTTP emulator,
the in-process session and tests that check markup directly all use it:

* :func:`parse_html` – text and entities, or :class:`EntityParseError` with Telegram's reason;
* :func:`format_text` – what ``sendMessage``/``editMessageText``/captions do with a text
  (parse, trim, empty and length checks), raising :class:`TextRejected` with the full
  ``Bad Request: …`` description;
* :func:`html_errors` – the checker for markup the bot builds: Telegram's refusal plus what
  Telegram would accept but quietly break (a link it drops or rewrites, nested links, text
  that is not UTF-8);
* :func:`visible_text` – what the user reads.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Final

JsonDict = dict[str, Any]

MESSAGE_TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
CALLBACK_DATA_LIMIT_BYTES: Final = 64
CALLBACK_ANSWER_TEXT_LIMIT: Final = 200
INLINE_KEYBOARD_BUTTON_LIMIT: Final = 100

WHITESPACE: Final = " \t\n\r\v\f"


class EntityParseError(ValueError):
    """Text could not be parsed in the given parse mode; ``str()`` is Telegram's reason."""


class TextRejected(ValueError):
    """Telegram refuses a message text or caption; ``str()`` is the whole description
    (``Bad Request: …``)."""


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _char_utf16(character: str) -> int:
    return 2 if ord(character) > 0xFFFF else 1


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

HTML_TAGS: Final = frozenset(
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
_TAG: Final = re.compile(r"<[^>]+>")


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


@dataclass(frozen=True, slots=True)
class HtmlLink:
    """An ``<a>`` tag as written: its ``href`` (None without one) and whether it sits inside
    another link."""

    href: str | None
    nested: bool


class _HtmlParser:
    """Telegram's HTML subset: the same tags, attributes, references and error reasons."""

    def __init__(self, text: str, strict_ampersand: bool) -> None:
        self.text = text
        self.size = len(text)
        self.strict_ampersand = strict_ampersand
        self.pieces: list[str] = []
        self.entities: list[JsonDict] = []
        self.stack: list[_OpenTag] = []
        self.links: list[HtmlLink] = []
        self.offset = 0

    def error(self, reason: str) -> EntityParseError:
        return EntityParseError(reason)

    def at(self, index: int) -> str:
        return f"at byte offset {_byte_offset(self.text, index)}"

    def bare_ampersand(self, index: int) -> EntityParseError:
        return self.error(f'Character "&" must be escaped as "&amp;" {self.at(index)}')

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
                        raise self.bare_ampersand(start)
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
        while index < self.size and self.text[index] in WHITESPACE:
            index += 1
        return index

    def open_tag(self, begin: int) -> int:
        text, size = self.text, self.size
        index = begin + 1
        while index < size and text[index] not in WHITESPACE and text[index] != ">":
            index += 1
        if index >= size:
            raise self.error(f"Unclosed start tag {self.at(begin)}")
        name = text[begin + 1 : index].lower()
        if name not in HTML_TAGS:
            raise self.error(f'Unsupported start tag "{name}" {self.at(begin)}')
        argument = ""
        href: str | None = None
        expandable = False
        while True:
            index = self.skip_spaces(index)
            if index >= size:
                raise self.error(f'Unclosed start tag "{name}" {self.at(begin)}')
            if text[index] == ">":
                break
            attribute_begin = index
            while index < size and text[index] not in WHITESPACE and text[index] not in "=>":
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
                        if self.strict_ampersand:
                            raise self.bare_ampersand(index)
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
                if index < size and text[index] not in WHITESPACE and text[index] != ">":
                    raise self.error(f"Unexpected end of name token {self.at(token_begin)}")
            if name == "a" and attribute == "href":
                argument = href = value
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
        if name == "a":
            nested = any(tag.name == "a" for tag in self.stack)
            self.links.append(HtmlLink(href, nested))
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
    mismatched tag, a bare ``<``, and (when ``strict_ampersand``) a bare ``&`` in the text
    or in an attribute value. The real server keeps a bare ``&`` as a literal character; the
    strict default reports it because Telegram's documentation requires it to be escaped and
    unescaped text is a bug here.
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


NOT_UTF8: Final = "Bad Request: strings must be encoded in UTF-8"


def html_errors(text: str) -> list[str]:
    """Why ``text`` is not a sound Telegram HTML message, or [] when it is.

    First Telegram's own refusal (its reason, as :func:`parse_html` gives it, a bare ``&``
    included); then what Telegram accepts but quietly spoils: a link whose ``href`` is not
    an absolute http(s) URL it keeps as written (dropped, or rewritten, like ``ya.ru`` to
    ``http://ya.ru``), a link inside a link, and text that can't be sent as UTF-8.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [f"{NOT_UTF8} (a lone surrogate)"]
    parser = _HtmlParser(text, strict_ampersand=True)
    try:
        parser.parse()
    except EntityParseError as error:
        return [str(error)]
    errors: list[str] = []
    for link in parser.links:
        if link.nested:
            errors.append(f"a link inside a link: {link.href!r}")
        href = link.href
        if href is None:
            errors.append("a link without href")
        elif not href.startswith(("http://", "https://")) or checked_url(href) != href:
            errors.append(f"a link Telegram would drop or rewrite: {href[:60]!r}")
    return errors


def visible_text(text: str) -> str:
    """What the user reads of HTML ``text``: tags removed, references decoded as Telegram
    decodes them (text Telegram would refuse only loses its tags)."""
    try:
        return parse_html(text, strict_ampersand=False)[0]
    except EntityParseError:
        return html.unescape(_TAG.sub("", text))


# --------------------------------------------------------------------------------------
# MarkdownV2 and Markdown
# --------------------------------------------------------------------------------------

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
                    while language_end < size and text[language_end] not in WHITESPACE + "`":
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
            while language_end < size and text[language_end] not in WHITESPACE + "`":
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


# --------------------------------------------------------------------------------------
# A message text or caption as Telegram takes it
# --------------------------------------------------------------------------------------


def trim_formatted(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Strip leading and trailing whitespace like Telegram and move the entities along."""
    stripped = text.strip(WHITESPACE)
    if len(stripped) == len(text):
        return text, entities
    leading = len(text) - len(text.lstrip(WHITESPACE))
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


def format_text(
    raw: str | None,
    parse_mode: str | None,
    given_entities: list[JsonDict] | None = None,
    *,
    caption: bool = False,
    strict_ampersand: bool = True,
) -> tuple[str | None, list[JsonDict]]:
    """The plain text and entities Telegram makes of a message text (or a caption).

    Parses ``raw`` in ``parse_mode`` (or takes ``given_entities`` without one), trims it and
    checks it is not empty and within :data:`MESSAGE_TEXT_LIMIT` (:data:`CAPTION_LIMIT`).
    A caption may be missing or blank: then the plain text is None. Raises
    :class:`TextRejected` with Telegram's description.
    """
    if raw is None or raw == "":
        if caption:
            return None, []
        raise TextRejected("Bad Request: message text is empty")
    mode = (parse_mode or "").lower()
    entities: list[JsonDict]
    try:
        if mode == "html":
            plain, entities = parse_html(raw, strict_ampersand=strict_ampersand)
        elif mode == "markdownv2":
            plain, entities = parse_markdown_v2(raw)
        elif mode == "markdown":
            plain, entities = parse_markdown(raw)
        elif mode == "":
            plain = raw
            entities = given_entities if isinstance(given_entities, list) else []
        else:
            raise TextRejected("Bad Request: unsupported parse_mode")
    except EntityParseError as error:
        raise TextRejected(f"Bad Request: can't parse entities: {error}") from error
    plain, entities = trim_formatted(plain, entities)
    if not plain:
        if caption:
            return None, []
        raise TextRejected("Bad Request: message text is empty")
    if utf16_length(plain) > (CAPTION_LIMIT if caption else MESSAGE_TEXT_LIMIT):
        if caption:
            raise TextRejected("Bad Request: message caption is too long")
        raise TextRejected("Bad Request: message is too long")
    return plain, entities
