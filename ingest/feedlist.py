"""Feed lists: the FEEDS_FILE text format and OPML, in and out."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from ingest.urls import is_http_url
from storage.feeds import FeedRecord

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_MAX_REPORTED_ERRORS = 5


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    title: str | None = None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _summarise(errors: list[str]) -> str:
    shown = "; ".join(errors[:_MAX_REPORTED_ERRORS])
    more = len(errors) - _MAX_REPORTED_ERRORS
    return shown + (f"; and {more} more" if more > 0 else "")


def parse_opml(data: bytes) -> list[FeedSpec]:
    """Feed URLs and titles of every outline with an xmlUrl, nested outlines included.

    Documents with a DTD are refused outright: the standard library parser would expand
    internal entities, and an OPML file never needs them.
    """
    if _DTD.search(data):
        raise ValueError("OPML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ValueError(f"not a valid OPML file: {error}") from None
    if _local_name(root.tag) != "opml":
        raise ValueError(f"not an OPML file: root element is <{_local_name(root.tag)}>")
    specs: list[FeedSpec] = []
    errors: list[str] = []
    seen: set[str] = set()
    for outline in root.iter():
        if _local_name(outline.tag) != "outline":
            continue
        attributes = {name.lower(): value for name, value in outline.attrib.items()}
        url = (attributes.get("xmlurl") or "").strip()
        if not url:
            continue
        if not is_http_url(url):
            errors.append(f"outline {url[:80]!r} is not an http(s) URL")
            continue
        if url in seen:
            continue
        seen.add(url)
        title = (attributes.get("title") or attributes.get("text") or "").strip() or None
        specs.append(FeedSpec(url, title))
    if errors:
        raise ValueError(f"invalid OPML: {_summarise(errors)}")
    return specs


def parse_feed_lines(text: str, *, name: str = "feed list") -> list[FeedSpec]:
    """One feed a line: a URL, optionally followed by a title; '#' starts a comment."""
    specs: list[FeedSpec] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().removeprefix("\ufeff")
        if not line or line.startswith("#"):
            continue
        url, _, title = line.partition(" ")
        if not is_http_url(url):
            errors.append(f"line {number}: not an http(s) URL: {url[:80]!r}")
            continue
        if url in seen:
            continue
        seen.add(url)
        specs.append(FeedSpec(url, title.strip() or None))
    if errors:
        raise ValueError(f"{name}: {_summarise(errors)}")
    return specs


def load_feed_list(path: Path) -> list[FeedSpec]:
    """FEEDS_FILE: a text list (see parse_feed_lines) or an .opml file.

    Raises ValueError with one line naming the file and the bad lines.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
    if path.suffix.lower() in {".opml", ".xml"} or data.lstrip().startswith(b"<"):
        try:
            return parse_opml(data)
        except ValueError as error:
            raise ValueError(f"{path.name}: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not UTF-8 text") from None
    return parse_feed_lines(text, name=path.name)


def export_opml(feeds: Sequence[FeedRecord], *, title: str = "Digest bot feeds") -> str:
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ElementTree.SubElement(root, "body")
    for feed in feeds:
        label = feed.title or feed.url
        ElementTree.SubElement(
            body, "outline", type="rss", text=label, title=label, xmlUrl=feed.url
        )
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode"
    )
