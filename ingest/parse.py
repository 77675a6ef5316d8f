"""Fetched feed bytes → clean items. CPU-bound and synchronous: callers run it in a thread."""

from __future__ import annotations

import calendar
import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from ingest.clean import html_to_paragraphs, inline_text, lead, plain_text_to_paragraphs
from ingest.dates import parse_feed_date, resolve_item_date
from ingest.encoding import decode_document, with_utf8_declaration
from ingest.urls import canonical_url, host_of, is_http_url

# Reasons an item is not stored, as counted in the per-feed summary.
SKIP_NO_LINK = "no link"
SKIP_EMPTY = "no title or text"
SKIP_DUPLICATE = "duplicate in feed"
SKIP_OVER_LIMIT = "beyond the item limit"

# Feeds list their newest items first; a feed with thousands of items is an archive dump,
# and only its head is news.
MAX_ITEMS_PER_FEED = 500

MAX_TITLE_CHARACTERS = 1000
MAX_GUID_CHARACTERS = 2048
MAX_URL_CHARACTERS = 2048
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=10)

# feedparser names elements of unknown namespaces prefix_name: yandex_full-text,
# rbc_news_full-text, …
_FULL_TEXT_SUFFIXES = ("_full-text", "_fulltext", "_full_text", ":full-text")
_DOCTYPE = re.compile(r"<!DOCTYPE\s", re.IGNORECASE)
_FIRST_TAG = re.compile(r"<\s*([A-Za-z][\w:.-]*)")
_PROLOG_NOISE = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})
_ASCII_PUNCTUATION = b".,:;!?\"'()[]{}-/\\*#%+=<>|_~^`@&$"
_HASH_PUNCTUATION = bytes.maketrans(_ASCII_PUNCTUATION, b" " * len(_ASCII_PUNCTUATION))


class FeedParseError(Exception):
    """The body is not a usable feed; the message is what the feed's health shows."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    guid: str
    url: str
    title: str
    summary: str
    # Full text the feed itself carries (yandex:full-text, content:encoded, …);
    # empty when the item has only a teaser.
    full_text: str
    published_at: datetime
    content_hash: str

    @property
    def text(self) -> str:
        """The best text known for the item: full text, else the teaser."""
        return self.full_text or self.summary


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    encoding: str
    items: tuple[FeedItem, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)
    # Set when the XML was broken but entries could still be read.
    warning: str | None = None


def content_hash(title: str, text: str) -> str:
    """sha256 of title and text, with case, ё, ASCII punctuation and spacing folded away."""
    folded = f"{title}\n{text}".lower().replace("ё", "е").encode("utf-8")
    # ASCII punctuation never occurs inside a UTF-8 multi-byte sequence, so a byte-level
    # translation is safe, and far faster than a Unicode regular expression.
    words = folded.translate(_HASH_PUNCTUATION).split()
    return hashlib.sha256(b" ".join(words)).hexdigest()


def _root_tag(text: str) -> str | None:
    """Name of the first element after the prolog, lower-cased; None if there is none."""
    position = 0
    head = text[:65536]
    while True:
        noise = _PROLOG_NOISE.match(head, position)
        if noise is None or noise.end() == position:
            break
        position = noise.end()
    if head.startswith("<!", position):
        if _DOCTYPE.match(head, position):
            doctype_end = _doctype_end(head, position)
            if doctype_end is None:
                return None
            return _root_tag(head[doctype_end:])
        return None
    match = _FIRST_TAG.match(head, position)
    return match.group(1).lower() if match else None


def _doctype_end(text: str, start: int) -> int | None:
    """Index just past a <!DOCTYPE …> declaration, internal subset included."""
    bracket = text.find("[", start)
    close = text.find(">", start)
    if close == -1:
        return None
    if bracket == -1 or bracket > close:
        return close + 1
    subset_end = text.find("]", bracket)
    if subset_end == -1:
        return None
    close = text.find(">", subset_end)
    return None if close == -1 else close + 1


def strip_internal_subset(text: str) -> str:
    """Drops a DOCTYPE's internal subset, where entity bombs and external entities live.

    feedparser does not expand them either; removing them first means no parser ever
    sees the declarations. References to the dropped entities stay unexpanded text.
    """
    match = _DOCTYPE.search(text, 0, 4096)
    if match is None:
        return text
    end = _doctype_end(text, match.start())
    if end is None:
        return text
    declaration = text[match.start() : end]
    if "[" not in declaration:
        return text
    return text[: match.start()] + text[end:]


def is_html_page(text: str, content_type: str | None) -> bool:
    root = _root_tag(text)
    if root == "html":
        return True
    if root is None:
        head = text[:4096].lower()
        return "<!doctype html" in head or "<html" in head
    return root not in _FEED_ROOTS and bool(content_type and "html" in content_type.lower())


def _best_full_text(entry: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Paragraphs of the longest full-text field, and whether it is a dedicated one.

    Dedicated fields (yandex:full-text, rbc_news:full-text, …) are full text by
    definition; content:encoded and Atom content sometimes only repeat the teaser.
    """
    best: list[str] = []
    best_length = 0
    dedicated = False
    for key, value in entry.items():
        if isinstance(value, str) and key.lower().endswith(_FULL_TEXT_SUFFIXES):
            paragraphs = html_to_paragraphs(value)
            length = sum(map(len, paragraphs))
            if length > best_length or (length and not dedicated):
                best, best_length, dedicated = paragraphs, length, True
    for content in entry.get("content") or ():
        value = content.get("value") if isinstance(content, Mapping) else None
        if isinstance(value, str):
            paragraphs = html_to_paragraphs(value)
            length = sum(map(len, paragraphs))
            if length > best_length and not dedicated:
                best, best_length = paragraphs, length
    return best, dedicated


def _entry_date(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published", "updated", "created", "dc_date", "date"):
        raw = entry.get(key)
        if isinstance(raw, str) and raw.strip():
            parsed = parse_feed_date(raw)
            if parsed is not None:
                return parsed
            # Formats of our parser's blind spots; feedparser reads them in UTC, which is
            # right unless the zone was MSK (handled above).
            structured = entry.get(f"{key}_parsed")
            if structured is not None:
                return datetime.fromtimestamp(calendar.timegm(structured), UTC)
    return None


def _entry_link(entry: Mapping[str, Any], base_url: str) -> str | None:
    link = entry.get("link")
    if isinstance(link, str):
        link = link.strip()
        if link.startswith(("http://", "https://")) and is_http_url(link):
            return link
    candidates: list[str] = []
    if isinstance(link, str):
        candidates.append(link)
    for link_detail in entry.get("links") or ():
        if isinstance(link_detail, Mapping) and link_detail.get("rel", "alternate") == "alternate":
            href = link_detail.get("href")
            if isinstance(href, str):
                candidates.append(href)
    guid = entry.get("id")
    if isinstance(guid, str) and is_http_url(guid):
        candidates.append(guid)
    for candidate in candidates:
        absolute = urljoin(base_url, candidate.strip())
        if is_http_url(absolute):
            return absolute
    return None


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    fetched_at: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> ParsedFeed:
    """Decodes, parses and cleans one fetched feed; raises FeedParseError if it is none."""
    decoded = decode_document(body, content_type)
    if is_html_page(decoded.text, content_type):
        raise FeedParseError("not a feed (HTML page)")
    document = with_utf8_declaration(strip_internal_subset(decoded.text)).encode("utf-8")
    # Loaded with the first feed body: a poll that gets only errors and 304s (most cron
    # runs) never needs it, and it costs a tenth of a second of start-up.
    import feedparser

    result = feedparser.parse(
        document,
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = result.get("entries") or []
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not entries:
        if problem is not None:
            raise FeedParseError(f"broken XML: {_describe(problem)}")
        if not result.get("version"):
            raise FeedParseError("not a feed (no RSS, Atom or RDF root element)")
    feed_info = result.get("feed") or {}
    title = inline_text(feed_info.get("title") or "")[:500] or None

    skipped: Counter[str] = Counter()
    items: list[FeedItem] = []
    seen_urls: set[str] = set()
    seen_hashes: set[str] = set()
    if len(entries) > MAX_ITEMS_PER_FEED:
        skipped[SKIP_OVER_LIMIT] = len(entries) - MAX_ITEMS_PER_FEED
        entries = entries[:MAX_ITEMS_PER_FEED]
    for entry in entries:
        item = _item(entry, url, fetched_at, future_tolerance, skipped)
        if item is None:
            continue
        if item.url in seen_urls or item.content_hash in seen_hashes:
            skipped[SKIP_DUPLICATE] += 1
            continue
        seen_urls.add(item.url)
        seen_hashes.add(item.content_hash)
        items.append(item)
    warning = f"broken XML, entries kept: {_describe(problem)}" if problem is not None else None
    return ParsedFeed(
        title=title,
        encoding=decoded.encoding,
        items=tuple(items),
        skipped=dict(skipped),
        warning=warning,
    )


def _describe(problem: object) -> str:
    text = str(problem).replace("<unknown>:", "line ").strip()
    return text or type(problem).__name__


def _item(
    entry: Mapping[str, Any],
    base_url: str,
    fetched_at: datetime,
    future_tolerance: timedelta,
    skipped: Counter[str],
) -> FeedItem | None:
    link = _entry_link(entry, base_url)
    if link is None:
        skipped[SKIP_NO_LINK] += 1
        return None
    url = canonical_url(link)[:MAX_URL_CHARACTERS]
    # feedparser copies content into `summary` when there is no description; only a
    # real description (summary_detail present) counts as the teaser.
    teaser_markup = entry.get("summary") if "summary_detail" in entry else ""
    teaser_paragraphs = html_to_paragraphs(teaser_markup or "")
    full_paragraphs, dedicated = _best_full_text(entry)
    teaser = " ".join(teaser_paragraphs)
    full_length = sum(map(len, full_paragraphs))
    has_full_text = bool(full_paragraphs) and (
        dedicated or not teaser or full_length > len(teaser) * 1.2 + 50
    )
    full_text = "\n\n".join(full_paragraphs) if has_full_text else ""
    if not teaser:
        teaser = lead(full_paragraphs)
    title = inline_text(entry.get("title") or "")[:MAX_TITLE_CHARACTERS]
    if not title:
        if not teaser:
            skipped[SKIP_EMPTY] += 1
            return None
        title = lead([teaser], limit=150)
    guid = entry.get("id")
    guid = guid.strip()[:MAX_GUID_CHARACTERS] if isinstance(guid, str) and guid.strip() else url
    published_at = resolve_item_date(
        _entry_date(entry), fetched_at=fetched_at, tolerance=future_tolerance
    )
    return FeedItem(
        guid=guid,
        url=url,
        title=title,
        summary=teaser,
        full_text=full_text,
        published_at=published_at,
        content_hash=content_hash(title, full_text or teaser),
    )


def source_name(feed_title: str | None, url: str) -> str:
    """How an article's source is shown: the feed's title, else its host."""
    if feed_title and feed_title.strip():
        return feed_title.strip()[:500]
    host = host_of(url)
    return host.removeprefix("www.") or url[:500]


def clean_extracted_text(text: str) -> str:
    """Plain text from the article-page extractor, with the same teaser filtering."""
    return "\n\n".join(plain_text_to_paragraphs(text))
