"""Feed HTML reduced to clean text: paragraphs, no markup, no navigation or teasers.

Outlets append "Читайте также" links, "Читать далее…" buttons, photo credits and
subscription calls to their items. Left in, they would be stored as article text and,
worse, tagged: a teaser of another story about Uzbekistan must not tag this one.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree

PARAGRAPH_SEPARATOR = "\n\n"

_DROPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "form",
        "button",
        "nav",
        "aside",
        "footer",
        "header",
        "figure",
        "figcaption",
        "svg",
        "select",
        "input",
        "textarea",
        "template",
        "object",
        "embed",
        "video",
        "audio",
        "picture",
        "map",
        "menu",
    }
)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "thead",
        "tbody",
        "tr",
        "td",
        "th",
        "caption",
        "hr",
        "address",
        "center",
        "body",
        "html",
    }
)
# Class or id words that mark page furniture rather than the article.
_NOISE_CLASS_WORDS = frozenset(
    {
        "related",
        "readalso",
        "readmore",
        "share",
        "sharing",
        "social",
        "subscribe",
        "subscription",
        "advert",
        "advertisement",
        "ads",
        "banner",
        "promo",
        "menu",
        "nav",
        "navigation",
        "breadcrumb",
        "breadcrumbs",
        "comments",
        "sidebar",
        "widget",
        "incut",
        "also",
        "teaser",
        "teasers",
    }
)
_CLASS_SPLIT = re.compile(r"[_\-]+")

# A paragraph starting with one of these is a pointer to other content, whatever follows.
_TEASER_PREFIXES = (
    "читайте также",
    "читать также",
    "читайте еще",
    "смотрите также",
    "см. также",
    "по теме:",
    "еще по теме",
    "новости по теме",
    "другие новости",
    "больше новостей",
    "последние новости",
    "подписывайтесь",
    "подпишитесь на",
    "читайте нас",
    "читайте новости",
    "следите за новостями",
    "присоединяйтесь к нам",
    "наш канал в",
    "мы в telegram",
    "мы в телеграм",
    "read also",
    "see also",
)
_TEASER_HEADINGS = frozenset(prefix.replace("ё", "е").strip(" .:") for prefix in _TEASER_PREFIXES)
# A paragraph made only of one of these (plus punctuation) is a button, not text.
_STANDALONE_MARKERS = frozenset(
    {
        "читать далее",
        "читать дальше",
        "читать полностью",
        "читать статью",
        "читать",
        "подробнее",
        "далее",
        "продолжение",
        "по теме",
        "фото",
        "видео",
        "реклама",
        "поделиться",
        "read more",
        "continue reading",
        "more",
    }
)
_TRAILING_BUTTON = re.compile(
    r"\s*(?:читать далее|читать дальше|читать полностью|read more|continue reading)"
    r"[\s.…»>→\]]*$",
    re.IGNORECASE,
)
_TRAILING_BUTTON_HINT = re.compile(r"далее|дальше|полностью|more|reading", re.IGNORECASE)
_PHOTO_CREDIT = re.compile(
    r"^(?:фото|фотография|источник фото|видео|иллюстрация|скриншот)\s*(?::|—|-|–|/)",
    re.IGNORECASE,
)
_UNRESOLVED_ENTITY = re.compile(r"&[A-Za-z][A-Za-z0-9]{0,31};")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE_OR_CONTROL = re.compile(
    r"[\u00ad\u200b\u200c\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
_MARKUP = re.compile(r"<[A-Za-z!/]")
_SENTENCE_END = re.compile(r"[.!?…»\")]$")
_MAX_HEADLINE_CHARACTERS = 160
_MAX_LINK_BLOCK_CHARACTERS = 300
_LINK_DENSITY = 0.7


@dataclass(slots=True)
class _Block:
    parts: list[str]
    link_characters: int = 0

    def text(self) -> str:
        return normalise_line("".join(self.parts))


def _normalise_characters(text: str) -> str:
    """NFC, invisible characters dropped, controls and unresolved entities to spaces.

    Line breaks are kept. Each step scans first and rewrites only when needed: most
    texts need none of them.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if _INVISIBLE_OR_CONTROL.search(text):
        text = _INVISIBLE.sub("", text)
        text = _CONTROL.sub(" ", text)
    if "&" in text:
        text = _UNRESOLVED_ENTITY.sub(" ", text)
    return text


def _collapse_spaces(text: str) -> str:
    # str.split() splits on every Unicode space, non-breaking and thin ones included.
    return " ".join(text.split())


def normalise_line(text: str) -> str:
    """One line of clean text: characters normalised, every run of spaces one plain space."""
    return _collapse_spaces(_normalise_characters(text))


def looks_like_markup(text: str) -> bool:
    return bool(_MARKUP.search(text))


def html_to_paragraphs(markup: str) -> list[str]:
    """Paragraphs of text from an HTML fragment or plain text, teasers and furniture removed."""
    if not markup or not markup.strip():
        return []
    if not looks_like_markup(markup):
        return clean_paragraphs(_plain_lines(markup))
    root = _fragment(markup)
    if root is None:
        return clean_paragraphs(_plain_lines(re.sub(r"<[^>]*>", " ", markup)))
    blocks = list(_blocks(root))
    return clean_paragraphs(
        (block.text(), block.link_characters) for block in blocks if block.parts
    )


def html_to_text(markup: str) -> str:
    return PARAGRAPH_SEPARATOR.join(html_to_paragraphs(markup))


def inline_text(markup: str) -> str:
    """One line of text (titles): markup and entities resolved, spaces normalised."""
    if not markup:
        return ""
    if looks_like_markup(markup):
        root = _fragment(markup)
        if root is not None:
            return normalise_line(" ".join(root.itertext()))
        markup = re.sub(r"<[^>]*>", " ", markup)
    return normalise_line(html.unescape(markup))


def _fragment(markup: str) -> etree._Element | None:
    """The markup parsed under one <div>, or None if lxml cannot make a tree of it."""
    # Loaded with the first markup: commands that never clean a feed start faster.
    import lxml.html
    from lxml import etree

    try:
        return lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return None


def plain_text_to_paragraphs(text: str) -> list[str]:
    """Paragraphs of already extracted plain text (one per line), teasers removed."""
    return clean_paragraphs((line, 0) for line in _normalise_characters(text).splitlines())


def _plain_lines(text: str) -> Iterator[tuple[str, int]]:
    for line in _normalise_characters(html.unescape(text)).splitlines():
        yield line, 0


def _is_noise_element(element: etree._Element) -> bool:
    """Whether a class or id names page furniture: "read-also", "share_block", "incut", …"""
    for attribute in ("class", "id"):
        value = element.get(attribute)
        if not value:
            continue
        for word in value.lower().split():
            if word in _NOISE_CLASS_WORDS or not _NOISE_CLASS_WORDS.isdisjoint(
                _CLASS_SPLIT.split(word)
            ):
                return True
    return False


def _blocks(root: etree._Element) -> Iterator[_Block]:
    """Walks the tree once, cutting text into blocks at block-level tags and <br>."""
    current = _Block([])
    link_depth = 0

    def flush() -> Iterator[_Block]:
        nonlocal current
        if current.parts:
            yield current
        current = _Block([])

    def add(text: str | None) -> None:
        if text:
            current.parts.append(text)
            if link_depth:
                current.link_characters += len(text.strip())

    def walk(element: etree._Element) -> Iterator[_Block]:
        nonlocal link_depth
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if not tag or tag in _DROPPED_TAGS or _is_noise_element(element):
            # Comments and processing instructions have a non-string tag; skip them but
            # keep the text that follows them inside the parent.
            add(element.tail)
            return
        is_block = tag in _BLOCK_TAGS
        if is_block or tag == "br":
            yield from flush()
        if tag == "a":
            link_depth += 1
        add(element.text)
        for child in element:
            yield from walk(child)
        if tag == "a":
            link_depth -= 1
        if is_block:
            yield from flush()
        add(element.tail)

    yield from walk(root)
    yield from flush()


def _marker_key(text: str) -> str:
    return text.lower().replace("ё", "е").strip(' .…:»>→←|•-–—!"«[]()')


def _is_teaser_start(lowered: str) -> bool:
    return lowered.replace("ё", "е").startswith(_TEASER_PREFIXES)


def clean_paragraphs(blocks: Iterable[tuple[str, int]]) -> list[str]:
    """Non-empty paragraphs, without teaser links, buttons and photo credits.

    `blocks` gives each paragraph's text (characters already normalised, spacing not) and
    how many of its characters are link text; a short paragraph that is mostly a link
    points elsewhere.
    """
    paragraphs: list[str] = []
    after_teaser_heading = False
    for raw, link_characters in blocks:
        text = _collapse_spaces(raw)
        if not text:
            continue
        if _is_teaser_start(text[:48].lower()):
            # "Читайте также:" alone introduces a list of headlines on the next lines.
            after_teaser_heading = _marker_key(text) in _TEASER_HEADINGS
            continue
        short = len(text) <= _MAX_HEADLINE_CHARACTERS
        if after_teaser_heading and short and (link_characters or not _SENTENCE_END.search(text)):
            continue
        after_teaser_heading = False
        if short and (_marker_key(text) in _STANDALONE_MARKERS or _PHOTO_CREDIT.match(text)):
            continue
        if (
            link_characters
            and len(text) <= _MAX_LINK_BLOCK_CHARACTERS
            and link_characters >= _LINK_DENSITY * len(text)
        ):
            continue
        tail = max(0, len(text) - 40)
        if _TRAILING_BUTTON_HINT.search(text, tail):
            text = (text[:tail] + _TRAILING_BUTTON.sub("", text[tail:])).rstrip()
        if text and (not paragraphs or paragraphs[-1] != text):
            paragraphs.append(text)
    return paragraphs


def lead(paragraphs: list[str], limit: int = 600) -> str:
    """The opening of a text for use as a teaser: whole sentences up to `limit` characters."""
    text = " ".join(paragraphs)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("… "))
    if end >= limit // 3:
        return cut[: end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(",;:—- ") + "…"
