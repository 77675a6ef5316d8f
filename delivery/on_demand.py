"""Digests asked for rather than scheduled: /digest, the latest articles right after
subscribing, and `digestbot digest --preview`.

Each loads its window with `delivery.window.load_window` and composes it like the daily
digest; none writes anything: the caller sends the messages and then records them with
`record_digest_sent`, so that no later digest brings them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.planner import digest_window_start, empty_digest_text, subscription_for
from delivery.schedule import local_digest_date
from delivery.subscriptions import next_digest_for, usable_timezone
from delivery.window import load_window, to_digest_article
from digests.cluster import cluster_stories
from digests.compose import compose_digest
from digests.model import Labels
from digests.render import (
    RenderedMessage,
    local_date,
    render_article_list,
    render_digest,
    render_plain,
)
from storage import chats as chat_repo
from storage.articles import StoredArticle, find_articles_page
from storage.chats import ChatRecord

ON_DEMAND_WINDOW = timedelta(days=7)
LATEST_ON_SUBSCRIBE = 5


async def build_digest_now(
    session: AsyncSession,
    chat_id: int,
    now: datetime,
    labels: Labels,
    *,
    threshold: float = 0.5,
) -> list[RenderedMessage]:
    """The /digest answer: articles of the last week not yet sent to the chat, composed
    like the daily digest."""
    chat = await chat_repo.get_chat(session, chat_id)
    if chat is None or not chat.countries:
        return []
    since = now - ON_DEMAND_WINDOW
    articles = await load_window(
        session, countries=chat.countries, since=since, threshold=threshold
    )
    already_sent = await chat_repo.sent_article_ids(session, chat_id, [a.id for a in articles])
    digest = compose_digest(
        articles, subscription_for(chat, threshold=threshold), since, already_sent
    )
    if digest.is_empty:
        return []
    timezone = usable_timezone(chat.timezone)
    return render_digest(digest, labels, tz=timezone, date=local_digest_date(now, timezone))


@dataclass(frozen=True, slots=True)
class LatestArticles:
    text: str
    article_ids: tuple[int, ...]


class LatestCache:
    """What `latest_for_subscriber` found and wrote, kept for one pass over many chats
    (the welcome messages of a surge of new subscribers, who mostly choose alike): the
    archive is asked once per choice of countries and topics, and the same articles are
    rendered once per time zone and language. Made afresh for each pass, so that what it
    holds is as new as the pass."""

    def __init__(self) -> None:
        self._found: dict[tuple[frozenset[str], frozenset[str], float], list[StoredArticle]] = {}
        # Keyed by the labels' id: each entry holds its labels, so the id stays theirs.
        self._texts: dict[tuple[tuple[int, ...], int, str, str, date], tuple[Labels, str]] = {}

    async def found(
        self, session: AsyncSession, chat: ChatRecord, threshold: float
    ) -> list[StoredArticle]:
        """The newest articles on the chat's countries and topics."""
        key = (chat.countries, chat.topics, threshold)
        if key not in self._found:
            self._found[key], _more = await find_articles_page(
                session,
                countries=chat.countries,
                topics=chat.topics,
                threshold=threshold,
                limit=LATEST_ON_SUBSCRIBE,
            )
        return self._found[key]

    def text(
        self,
        articles: Sequence[StoredArticle],
        labels: Labels,
        *,
        timezone: str,
        header: str,
        today: date,
    ) -> str:
        """The message listing `articles`, rendered once per labels, zone, header and date."""
        key = (tuple(article.id for article in articles), id(labels), timezone, header, today)
        entry = self._texts.get(key)
        if entry is None:
            stories = cluster_stories([to_digest_article(article) for article in articles])
            rendered = render_article_list(
                stories, labels, tz=usable_timezone(timezone), header=header, today=today
            )
            entry = self._texts[key] = (labels, rendered)
        return entry[1]


async def latest_for_subscriber(
    session: AsyncSession,
    chat: ChatRecord,
    now: datetime,
    labels: Labels,
    *,
    header: str,
    threshold: float = 0.5,
    cache: LatestCache | None = None,
) -> LatestArticles | None:
    """Right after subscribing: the newest matching articles as one message, so that the
    chat does not start empty; None when the archive has nothing on its countries, and no
    text (nor articles) when the chat got every one of them already. `cache` shares the
    archive's answers and the texts between the chats of one pass."""
    if cache is None:
        cache = LatestCache()
    found = await cache.found(session, chat, threshold)
    if not found:
        return None
    sent = await chat_repo.sent_article_ids(session, chat.id, [article.id for article in found])
    found = [article for article in found if article.id not in sent]
    if not found:
        return LatestArticles("", ())
    today = local_date(now, usable_timezone(chat.timezone))
    text = cache.text(found, labels, timezone=chat.timezone, header=header, today=today)
    return LatestArticles(text, tuple(article.id for article in found))


async def record_digest_sent(
    session: AsyncSession, chat_id: int, article_ids: Iterable[int]
) -> None:
    """Marks articles as delivered to a chat, so that no digest brings them again."""
    await chat_repo.record_sent(session, chat_id, article_ids)


async def preview_digest(
    session_factory: async_sessionmaker[AsyncSession],
    chat_id: int,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
) -> str | None:
    """The chat's next digest as plain text, as it would be composed `now`; None for a
    chat the bot does not know. Writes nothing."""
    async with session_factory() as session:
        chat = await chat_repo.get_chat(session, chat_id)
        if chat is None:
            return None
        since = digest_window_start(chat, now)
        articles = await load_window(
            session, countries=chat.countries, since=since, threshold=threshold
        )
        already_sent = await chat_repo.sent_article_ids(session, chat_id, [a.id for a in articles])
    timezone = usable_timezone(chat.timezone)
    digest = compose_digest(
        articles, subscription_for(chat, threshold=threshold), since, already_sent
    )
    due = chat.next_digest_at or next_digest_for(chat, now)
    digest_day = local_digest_date(max(due, now), timezone)
    header = (
        f"chat {chat.id} ({chat.type}{_chat_state(chat)}), next digest "
        f"{due:%Y-%m-%d %H:%M} UTC ({chat.digest_time} {timezone}); "
        f"articles first seen since {since:%Y-%m-%d %H:%M} UTC"
    )
    if digest.is_empty:
        body = (
            empty_digest_text(chat.language)
            if chat.notify_empty
            else "(nothing new: no message would be sent)"
        )
        return f"{header}\n\n{body}\n"
    return f"{header}\n\n" + render_plain(
        digest, labels_for(chat.language), tz=timezone, date=digest_day
    )


def _chat_state(chat: ChatRecord) -> str:
    flags = [
        name
        for name, on in (
            ("not subscribed", not chat.subscribed),
            ("inactive", not chat.active),
            ("paused", chat.paused),
        )
        if on
    ]
    return ", " + ", ".join(flags) if flags else ""
