"""Feed lists: the FEEDS_FILE text format and OPML, in and out."""

from __future__ import annotations

import codecs
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from ingest.urls import canonical_url, ip_literal
from storage.feeds import MAX_FEED_URL_LENGTH, FeedRecord, feed_title

_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_MAX_REPORTED_ERRORS = 5
_SHOWN_URL_LENGTH = 80

# A byte order mark names the encoding whatever the declaration says. UTF-32 LE comes
# before UTF-16 LE: its mark begins with the same two bytes.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Without a mark, "<" or "<?" in UTF-16 or UTF-32 (XML 1.0, appendix F).
_UNMARKED_WIDE = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_DECLARED_ENCODING = re.compile(
    rb"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,39})["']"""
)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    title: str | None = None


class OutlineProblem(StrEnum):
    """Why an address cannot be a feed's: the one set of rules for the command line,
    /addfeed, OPML and text feed lists."""

    NOT_HTTP = "not an http(s) URL"
    TOO_LONG = f"URL longer than {MAX_FEED_URL_LENGTH} characters"
    SPACES = "spaces or control characters in the URL"
    BAD_PORT = "port out of range (1-65535)"
    BAD_HOST = "no valid host name"


class FeedAddressError(ValueError):
    def __init__(self, problem: OutlineProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass(frozen=True, slots=True)
class RefusedOutline:
    url: str
    problem: OutlineProblem

    def __str__(self) -> str:
        return f"outline {shown_url(self.url)!r}: {self.problem}"


@dataclass(frozen=True, slots=True)
class OpmlFeeds:
    """The outlines of an OPML file that can be feeds, and those that cannot, with why."""

    feeds: list[FeedSpec] = field(default_factory=list)
    refused: list[RefusedOutline] = field(default_factory=list)


def shown_url(url: str) -> str:
    """The start of a refused address, enough to recognise it in a one-line error."""
    url = " ".join(url.split())
    return url if len(url) <= _SHOWN_URL_LENGTH else url[: _SHOWN_URL_LENGTH - 1] + "…"


def feed_address(url: str) -> str:
    """The form in which a feed address is stored (see canonical_url), from what a person
    typed or a list holds; raises FeedAddressError saying what is wrong with it.

    The scheme and host may be in any case; the port must be 1-65535; an address with
    spaces or control characters inside, or without a valid host name, is refused.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise FeedAddressError(OutlineProblem.NOT_HTTP) from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise FeedAddressError(OutlineProblem.NOT_HTTP)
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in text):
        raise FeedAddressError(OutlineProblem.SPACES)
    if len(text) > MAX_FEED_URL_LENGTH:
        raise FeedAddressError(OutlineProblem.TOO_LONG)
    try:
        port = parts.port
    except ValueError:
        raise FeedAddressError(OutlineProblem.BAD_PORT) from None
    if port == 0:
        raise FeedAddressError(OutlineProblem.BAD_PORT)
    if not _valid_host(parts.hostname or ""):
        raise FeedAddressError(OutlineProblem.BAD_HOST)
    address = canonical_url(text)
    if len(address) > MAX_FEED_URL_LENGTH:
        raise FeedAddressError(OutlineProblem.TOO_LONG)
    return address


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _valid_host(host: str) -> bool:
    if not host:
        return False
    if ip_literal(host) is not None:
        return True
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_host) <= 253 and all(
        _HOST_LABEL.match(label) for label in ascii_host.lower().split(".")
    )


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _summarise(errors: Sequence[object]) -> str:
    shown = "; ".join(str(error) for error in errors[:_MAX_REPORTED_ERRORS])
    more = len(errors) - _MAX_REPORTED_ERRORS
    return shown + (f"; and {more} more" if more > 0 else "")


def _xml_encoding(data: bytes) -> tuple[str, int]:
    """The codec of an XML document and the length of its byte order mark."""
    for mark, codec in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return codec, len(mark)
    for start, codec in _UNMARKED_WIDE:
        if data.startswith(start):
            return codec, 0
    declared = _DECLARED_ENCODING.match(data)
    if declared is None:
        return "utf-8", 0
    name = declared.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"not a valid OPML file: unknown encoding {name!r}") from None
    if codec.startswith(("utf-16", "utf-32")):
        raise ValueError(f"not a valid OPML file: declared {name} but written in one byte")
    return codec, 0


def decode_xml(data: bytes) -> str:
    """The text of an XML document: its byte order mark, else its declared encoding,
    else UTF-8. Raises ValueError with one line when the bytes do not decode."""
    codec, mark = _xml_encoding(data)
    try:
        return data[mark:].decode(codec)
    except (UnicodeDecodeError, LookupError):
        raise ValueError(f"not a valid OPML file: not {codec} text") from None


def _looks_like_xml(data: bytes) -> bool:
    """An XML document in any encoding read_opml knows, rather than a text feed list."""
    wide_starts = [mark for mark, _codec in _BYTE_ORDER_MARKS if mark != codecs.BOM_UTF8]
    wide_starts += [start for start, _codec in _UNMARKED_WIDE]
    if data.startswith(tuple(wide_starts)):
        return True
    return data.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<")


def read_opml(data: bytes) -> OpmlFeeds:
    """Feed URLs and titles of every outline with an xmlUrl, nested outlines included,
    and the outlines whose address cannot be a feed's. Raises ValueError with one line
    when the file as a whole is not OPML.

    The DTD check runs on the decoded text, the text that is then parsed: a DTD in UTF-16
    is invisible to a search of the raw bytes. Documents with one are refused outright:
    the parser would expand internal entities, and an OPML file never needs them.
    """
    text = decode_xml(data)
    if _DTD.search(text):
        raise ValueError("OPML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"not a valid OPML file: {error}") from None
    if _local_name(root.tag) != "opml":
        raise ValueError(f"not an OPML file: root element is <{_local_name(root.tag)}>")
    found = OpmlFeeds()
    seen: set[str] = set()
    for outline in root.iter():
        if _local_name(outline.tag) != "outline":
            continue
        attributes = {name.lower(): value for name, value in outline.attrib.items()}
        url = (attributes.get("xmlurl") or "").strip()
        if not url:
            continue
        try:
            url = feed_address(url)
        except FeedAddressError as error:
            found.refused.append(RefusedOutline(url, error.problem))
            continue
        if url in seen:
            continue
        seen.add(url)
        title = feed_title(attributes.get("title") or attributes.get("text"))
        found.feeds.append(FeedSpec(url, title))
    return found


def parse_opml(data: bytes) -> list[FeedSpec]:
    """The feeds of an OPML file (see read_opml); any outline that cannot be a feed makes
    the whole file an error, one line naming the first few."""
    found = read_opml(data)
    if found.refused:
        raise ValueError(f"invalid OPML: {_summarise(found.refused)}")
    return found.feeds


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
        try:
            url = feed_address(url)
        except FeedAddressError as error:
            errors.append(f"line {number}: {error.problem}: {shown_url(url)!r}")
            continue
        if url in seen:
            continue
        seen.add(url)
        specs.append(FeedSpec(url, feed_title(title)))
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
    if path.suffix.lower() in {".opml", ".xml"} or _looks_like_xml(data):
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
