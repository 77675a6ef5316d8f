"""Telegram HTML (parse_mode=HTML) and plain-text renderings of digests and article lists.

Telegram's limits on one message: 4096 UTF-16 code units of text after entity parsing;
formatting beyond the 100th entity is silently dropped; and a message whose markup is too
large as a whole is refused ("entities too long", about 9,500 characters in practice). Every
message produced here stays within all three, and is split only between items.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.compose import Digest
from digests.model import DigestArticle, Labels, Story
from digests.select import as_utc

MAX_MESSAGE_LENGTH = 4096
MAX_HTML_LENGTH = 9000
MAX_ENTITIES = 100
MAX_ALSO_LINKS = 5
MAX_URL_LENGTH = 2048
MAX_HEADING_LENGTH = 256
ELLIPSIS = "…"

_TAG_TOKEN = re.compile(r"<[^<>]+>")
_SPLIT_TAGS = re.compile(r"(<[^<>]+>)")
_NUMERIC_ENTITY = re.compile(r"&#([0-9]{1,8}|[xX][0-9a-fA-F]{1,8});")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
# Explicit direction overrides and isolates from feed text could reorder the rest of the
# line ("— Source, date"); ordinary right-to-left text does not need them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")
# Control characters (category Cc) and the line and paragraph separators (Zl, Zp): each is
# shown as a space.
LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TRAILING_JOINERS = re.compile("[\u200d\ufe0e\ufe0f\u0300-\u036f]+$")


@dataclass(frozen=True)
class RenderedMessage:
    """One message to send. `more_buttons` lists (country, number of stories left out)
    for sections that end in this message, for the caller's "ещё N" inline buttons."""

    html: str
    article_ids: tuple[int, ...]
    more_buttons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class MessageLimits:
    visible: int = MAX_MESSAGE_LENGTH
    html: int = MAX_HTML_LENGTH
    entities: int = MAX_ENTITIES


# An item of a one-message list keeps at least this much when it has to share the room.
MIN_ITEM_SHARE = MessageLimits(visible=160, html=480, entities=2)


@dataclass(frozen=True)
class _Size:
    visible: int
    html: int
    entities: int

    def fits(self, limits: MessageLimits) -> bool:
        return (
            self.visible <= limits.visible
            and self.html <= limits.html
            and self.entities <= limits.entities
        )


# ---------------------------------------------------------------- measuring


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_numeric_entity(match: re.Match[str]) -> str:
    body = match.group(1)
    code = int(body[1:], 16) if body[0] in "xX" else int(body)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return match.group(0)  # Telegram keeps an invalid one as it is


def html_to_text(markup: str) -> str:
    """The message text Telegram shows for `markup`: tags removed, the four named entities
    Telegram knows (lt, gt, quot, amp) and numeric ones decoded, others left as text."""
    text = _TAG_TOKEN.sub("", markup) if "<" in markup else markup
    if "&" not in text:
        return text
    if "&#" in text:
        text = _NUMERIC_ENTITY.sub(_decode_numeric_entity, text)
    # "&amp;" last, so that "&amp;lt;" stays the text "&lt;"
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


def visible_length(markup: str) -> int:
    """UTF-16 code units of the text after Telegram's entity parsing."""
    return utf16_length(html_to_text(markup))


def entity_count(markup: str) -> int:
    return sum(1 for match in _TAG.finditer(markup) if not match.group(1))


def _size(markup: str) -> _Size:
    return _Size(visible_length(markup), utf16_length(markup), entity_count(markup))


# ---------------------------------------------------------------- cleaning and escaping


def clean_text(text: str) -> str:
    """Feed text made safe to show: one line, no control or direction-override
    characters, no lone surrogates."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _BIDI_CONTROLS.sub("", text).replace("\ufeff", "")
    text = LINE_BREAKERS.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


def escape(text: str) -> str:
    return html.escape(clean_text(text), quote=True)


def safe_url(url: str) -> str | None:
    """An http(s) URL fit for an href, or None when the link should be left out."""
    url = clean_text(url).replace(" ", "%20")
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _truncate_units(text: str, units: int) -> str:
    """At most `units` UTF-16 code units of `text`, cut between code points."""
    if utf16_length(text) <= units:
        return text
    kept = 0
    for position, char in enumerate(text):
        kept += 2 if ord(char) > 0xFFFF else 1
        if kept > units:
            return text[:position]
    return text


def shorten(text: str, units: int) -> str:
    """`text` cut to at most `units` UTF-16 code units, ending in "…" when cut."""
    if utf16_length(text) <= units:
        return text
    if units <= 0:
        return ""
    cut = _truncate_units(text, units - 1)
    cut = _TRAILING_JOINERS.sub("", cut).rstrip()
    return cut + ELLIPSIS


# ---------------------------------------------------------------- fitting one item


@dataclass
class _Token:
    kind: str  # "text", "open" or "close"
    raw: str
    name: str = ""
    partner: int = -1


def _tokenize(markup: str) -> list[_Token]:
    tokens: list[_Token] = []
    stack: list[int] = []
    for number, piece in enumerate(_SPLIT_TAGS.split(markup)):
        tag = _TAG.match(piece) if number % 2 else None
        if tag is None:
            if piece:
                tokens.append(_Token("text", piece))
            continue
        if tag.group(1):
            token = _Token("close", piece, tag.group(2).lower())
            if stack:
                opener = stack.pop()
                token.partner = opener
                tokens[opener].partner = len(tokens)
        else:
            token = _Token("open", piece, tag.group(2).lower())
            stack.append(len(tokens))
        tokens.append(token)
    return tokens


def _join(tokens: Sequence[_Token]) -> str:
    return "".join(token.raw for token in tokens)


def _unwrap(tokens: list[_Token], opener: int) -> None:
    closer = tokens[opener].partner
    tokens[opener].raw = ""
    tokens[opener].kind = "text"
    if closer >= 0:
        tokens[closer].raw = ""
        tokens[closer].kind = "text"


def fit_html(markup: str, limits: MessageLimits) -> str:
    """`markup` (balanced Telegram HTML) shortened until it fits `limits`: the longest text
    run (normally the title) is cut with "…", and links are unwrapped to plain text only
    when the tags alone (very long URLs, too many entities) cannot fit. Tags stay balanced
    and entities intact."""
    if _size(markup).fits(limits):
        return markup
    tokens = _tokenize(markup)

    openers = [index for index, token in enumerate(tokens) if token.kind == "open"]
    while openers and entity_count(_join(tokens)) > limits.entities:
        _unwrap(tokens, openers.pop())

    def tag_length() -> int:
        return sum(utf16_length(token.raw) for token in tokens if token.kind != "text")

    links = sorted(
        (index for index, token in enumerate(tokens) if token.kind == "open" and token.name == "a"),
        key=lambda index: -len(tokens[index].raw),
    )
    room_for_tags = limits.html - min(limits.html // 2, 256)
    while links and tag_length() > room_for_tags:
        _unwrap(tokens, links.pop(0))

    exhausted: set[int] = set()
    while True:
        current = _size(_join(tokens))
        if current.fits(limits):
            return _join(tokens)
        runs = [
            index
            for index, token in enumerate(tokens)
            if token.kind == "text" and token.raw and index not in exhausted
        ]
        if not runs:
            break
        longest = max(runs, key=lambda index: (visible_length(tokens[index].raw), -index))
        text = html_to_text(tokens[longest].raw)
        length = utf16_length(text)
        excess = max(
            current.visible - limits.visible,
            # escaping can take up to six characters per character ("&quot;")
            -(-(current.html - limits.html) // 6),
            1,
        )
        target = max(length - excess, 1)
        if length <= 1 or target >= length:
            exhausted.add(longest)
            continue
        tokens[longest].raw = html.escape(shorten(text, target), quote=True)
        if utf16_length(html_to_text(tokens[longest].raw)) <= 1:
            exhausted.add(longest)
    plain = html.escape(shorten(html_to_text(markup), limits.visible), quote=True)
    while utf16_length(plain) > limits.html:
        text = html_to_text(plain)
        plain = html.escape(shorten(text, utf16_length(text) // 2), quote=True)
    return plain


# ---------------------------------------------------------------- dates and items


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(moment: datetime, tz: str) -> date:
    return as_utc(moment).astimezone(_zone(tz)).date()


def format_date(day: date, labels: Labels, *, today: date | None = None) -> str:
    """A date like "21 ноября", with the year unless it is `today`'s year."""
    month = labels.month_names[day.month - 1] if len(labels.month_names) >= 12 else str(day.month)
    template = (
        labels.date_format
        if today is not None and today.year == day.year
        else labels.date_format_with_year
    )
    return fill(template, day=day.day, month=month, year=day.year)


def fill(template: str, **values: object) -> str:
    """`template` formatted with `values`; a catalog string with a stray brace is shown as
    it is rather than stopping the whole digest."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def _display_source(article: DigestArticle) -> str:
    source = clean_text(article.source)
    if source:
        return source
    return (urlsplit(clean_text(article.url)).hostname or "").removeprefix("www.")


def _link(text: str, url: str) -> str:
    href = safe_url(url)
    escaped = escape(text)
    if href is None:
        return escaped
    return f'<a href="{html.escape(href, quote=True)}">{escaped}</a>'


def render_story_item(story: Story, labels: Labels, *, tz: str, today: date | None = None) -> str:
    """`• <a href="URL">Title</a> — Source, 21 ноября (также: <a href="u2">БК55</a>)`."""
    lead = story.lead
    title = clean_text(lead.title) or _display_source(lead) or clean_text(lead.url)
    source = _display_source(lead)
    when = format_date(local_date(lead.published_at, tz), labels, today=today)
    byline = f"{source}, {when}" if source else when
    line = f"• {_link(title, lead.url)} — {escape(byline)}"
    if story.also:
        shown = story.also[:MAX_ALSO_LINKS]
        links = [_link(_display_source(article) or "…", article.url) for article in shown]
        hidden = len(story.also) - len(shown)
        if hidden > 0:
            links.append(escape(fill(labels.more, n=hidden)))
        line += f" ({escape(labels.also)}: {', '.join(links)})"
    return line


def _heading(text: str, tag: str) -> str:
    text = shorten(clean_text(text), MAX_HEADING_LENGTH)
    return f"<{tag}>{html.escape(text, quote=True)}</{tag}>"


def country_heading(country: str, labels: Labels) -> str:
    return _heading(labels.country_names.get(country, country), "b")


def topic_heading(topic: str | None, labels: Labels) -> str:
    name = labels.other_topics if topic is None else labels.topic_names.get(topic, topic)
    return _heading(name, "i")


def _budget(limits: MessageLimits, overhead: str) -> MessageLimits:
    used = _size(overhead)
    return MessageLimits(
        visible=max(limits.visible - used.visible, 1),
        html=max(limits.html - used.html, 16),
        entities=max(limits.entities - used.entities, 0),
    )


# ---------------------------------------------------------------- packing into messages


@dataclass(frozen=True)
class _Entry:
    item: str
    article_ids: tuple[int, ...]
    headings: tuple[str, ...]  # outermost first; repeated at the top of each message
    more_button: tuple[str, int] | None = None


def _pack(
    title: str,
    entries: Sequence[_Entry],
    limits: MessageLimits,
    *,
    title_on_every_message: bool,
    separator: str = "\n",
) -> list[RenderedMessage]:
    """Entries into messages, split only between entries and joined by `separator`. A
    message that starts inside a group repeats the group's headings, so that every message
    reads on its own."""
    messages: list[RenderedMessage] = []
    lines: list[str] = []
    open_headings: tuple[str, ...] = ()
    ids: list[int] = []
    buttons: list[tuple[str, int]] = []

    def new_lines(entry: _Entry) -> list[str]:
        shared = 0
        while (
            shared < min(len(open_headings), len(entry.headings))
            and open_headings[shared] == entry.headings[shared]
        ):
            shared += 1
        blank = [""] if lines and shared == 0 and entry.headings else []
        return [*blank, *entry.headings[shared:], entry.item]

    def flush() -> None:
        if ids:
            messages.append(RenderedMessage(separator.join(lines), tuple(ids), tuple(buttons)))

    lines = [title] if title else []
    for entry in entries:
        added = new_lines(entry)
        if ids and not _size(separator.join([*lines, *added])).fits(limits):
            flush()
            lines = [title] if title and title_on_every_message else []
            open_headings, ids, buttons = (), [], []
            added = new_lines(entry)
        lines.extend(added)
        open_headings = entry.headings
        ids.extend(entry.article_ids)
        if entry.more_button is not None:
            buttons.append(entry.more_button)
    flush()
    return messages


def _fitted(
    item: str, overhead: Sequence[str], limits: MessageLimits, *, separator: str = "\n"
) -> str:
    """`item` shortened so that it fits one message together with `overhead` lines."""
    return fit_html(item, _budget(limits, separator.join([*overhead, "", ""])))


# ---------------------------------------------------------------- public renderings


def render_digest(
    digest: Digest,
    labels: Labels,
    *,
    tz: str,
    date: date,
    limits: MessageLimits | None = None,
) -> list[RenderedMessage]:
    """The digest as Telegram HTML messages, grouped country → topic. Every shown article
    id is in exactly one message; a section's "ещё N" button goes with its last message."""
    limits = limits or MessageLimits()
    title = _heading(fill(labels.digest_title, date=format_date(date, labels, today=date)), "b")
    entries: list[_Entry] = []
    for section in digest.sections:
        country = country_heading(section.country, labels)
        last_index = len(entries) + len(section.stories) - 1
        for topic, stories in section.topic_groups:
            topic_line = topic_heading(topic, labels)
            for story in stories:
                item = render_story_item(story, labels, tz=tz, today=date)
                more = (
                    (section.country, section.more_count)
                    if section.more_count > 0 and len(entries) == last_index
                    else None
                )
                entries.append(
                    _Entry(
                        item=_fitted(item, (title, "", country, topic_line), limits),
                        article_ids=story.article_ids,
                        headings=(country, topic_line),
                        more_button=more,
                    )
                )
    return _pack(title, entries, limits, title_on_every_message=False)


def _as_story(item: Story | DigestArticle) -> Story:
    return item if isinstance(item, Story) else Story(lead=item)


def render_article_pages(
    stories_or_articles: Sequence[Story] | Sequence[DigestArticle],
    labels: Labels,
    *,
    tz: str,
    header: str | None = None,
    today: date | None = None,
    limits: MessageLimits | None = None,
) -> list[RenderedMessage]:
    """A list of articles for a command answer, as many messages as it takes; `header`
    (plain text, escaped here) is repeated in bold at the top of each."""
    limits = limits or MessageLimits()
    title = _heading(header, "b") if header else ""
    entries = [
        _Entry(
            item=_fitted(render_story_item(story, labels, tz=tz, today=today), (title,), limits),
            article_ids=story.article_ids,
            headings=(),
        )
        for story in map(_as_story, stories_or_articles)
    ]
    return _pack(title, entries, limits, title_on_every_message=True)


def _fair_shares(sizes: Sequence[int], budget: int, floor: int) -> list[int]:
    """Allowances of items that share `budget`: an item within its fair share keeps its
    size, the longer ones split what is left evenly, none below `floor`."""
    shares = [0] * len(sizes)
    left, remaining = budget, len(sizes)
    for index in sorted(range(len(sizes)), key=lambda index: sizes[index]):
        share = max(min(sizes[index], left // remaining), min(sizes[index], floor))
        shares[index] = share
        left -= share
        remaining -= 1
    return shares


def _shared_out(items: Sequence[str], title: str, limits: MessageLimits) -> list[str]:
    """`items` shortened, the longest first, so that all of them fit one message under
    `title`: one huge item would otherwise push the others out of a list that has no
    further page for them."""
    lines = [title, *items] if title else list(items)
    if not items or _size("\n".join(lines)).fits(limits):
        return list(items)
    budget = _budget(limits, "\n".join([title, *([""] * len(items))]))
    sizes = [_size(item) for item in items]
    floors = _Size(
        sum(min(size.visible, MIN_ITEM_SHARE.visible) for size in sizes),
        sum(min(size.html, MIN_ITEM_SHARE.html) for size in sizes),
        sum(min(size.entities, MIN_ITEM_SHARE.entities) for size in sizes),
    )
    if not floors.fits(budget):
        # Too many items for one message however short: the caller's "ещё N" line tells.
        return list(items)
    visible = _fair_shares([size.visible for size in sizes], budget.visible, MIN_ITEM_SHARE.visible)
    markup = _fair_shares([size.html for size in sizes], budget.html, MIN_ITEM_SHARE.html)
    entities = _fair_shares(
        [size.entities for size in sizes], budget.entities, MIN_ITEM_SHARE.entities
    )
    return [
        fit_html(item, MessageLimits(visible=v, html=h, entities=e))
        for item, v, h, e in zip(items, visible, markup, entities, strict=True)
    ]


def render_article_list(
    stories_or_articles: Sequence[Story] | Sequence[DigestArticle],
    labels: Labels,
    *,
    tz: str,
    header: str | None = None,
    today: date | None = None,
    limits: MessageLimits | None = None,
) -> str:
    """One message: `header` (plain text, shown bold) and each item a linked title, source
    and date. The longest items are shortened first to make room for all of them; items
    that still do not fit are left out and counted in a last "ещё N" line."""
    limits = limits or MessageLimits()
    stories = [_as_story(item) for item in stories_or_articles]
    title = _heading(header, "b") if header else ""

    def more_line(count: int) -> list[str]:
        return [html.escape(clean_text(fill(labels.more, n=count)), quote=True)] if count else []

    widest_more = more_line(len(stories))
    items = _shared_out(
        [
            _fitted(
                render_story_item(story, labels, tz=tz, today=today), (title, *widest_more), limits
            )
            for story in stories
        ],
        title,
        limits,
    )
    lines = [title] if title else []
    for shown, item in enumerate(items):
        candidate = [*lines, item]
        if not _size("\n".join([*candidate, *more_line(len(stories) - shown - 1)])).fits(limits):
            return "\n".join([*lines, *more_line(len(stories) - shown)])
        lines = candidate
    return "\n".join(lines)


def split_html_items(
    header: str,
    items: Sequence[str],
    limit: int = MAX_MESSAGE_LENGTH,
    *,
    html_limit: int = MAX_HTML_LENGTH,
    entity_limit: int = MAX_ENTITIES,
    separator: str = "\n",
) -> list[str]:
    """Messages of `header` (repeated on each; "" for none) followed by items, joined by
    `separator` (one per line by default). Splits only between items; an item too long for
    a message on its own is shortened (its longest text, normally the title, cut with "…"),
    still valid HTML. `header` and `items` must be Telegram HTML already (feed text
    escaped)."""
    limits = MessageLimits(visible=limit, html=html_limit, entities=entity_limit)
    if not items:
        return [fit_html(header, limits)] if header else []
    if header:
        header = fit_html(header, _budget(limits, separator + ELLIPSIS * 64))
    entries = [
        _Entry(
            item=_fitted(item, (header,), limits, separator=separator),
            article_ids=(index,),
            headings=(),
        )
        for index, item in enumerate(items)
    ]
    packed = _pack(header, entries, limits, title_on_every_message=True, separator=separator)
    return [message.html for message in packed]


def render_plain(digest: Digest, labels: Labels, *, tz: str, date: date) -> str:
    """The digest for a terminal: same grouping, URLs on their own lines, no markup, and
    no control characters from feeds (so nothing can drive the terminal)."""
    title = clean_text(fill(labels.digest_title, date=format_date(date, labels, today=date)))
    lines = [title, "=" * min(len(title), 80)]
    for section in digest.sections:
        lines.append("")
        lines.append(clean_text(labels.country_names.get(section.country, section.country)))
        for topic, stories in section.topic_groups:
            name = labels.other_topics if topic is None else labels.topic_names.get(topic, topic)
            lines.append(f"  {clean_text(name)}")
            for story in stories:
                lead = story.lead
                when = format_date(local_date(lead.published_at, tz), labels, today=date)
                source = _display_source(lead)
                byline = f"{source}, {when}" if source else when
                lines.append(f"    • {clean_text(lead.title)} — {clean_text(byline)}")
                lines.append(f"      {clean_text(lead.url)}")
                for article in story.also:
                    lines.append(
                        f"      {clean_text(labels.also)}: {_display_source(article)}"
                        f" {clean_text(article.url)}"
                    )
        if section.more_count:
            lines.append(f"  … {clean_text(fill(labels.more, n=section.more_count))}")
    return "\n".join(lines) + "\n"
