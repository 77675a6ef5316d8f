"""Chat repository: subscribers, their preferences and what they have been sent."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    bindparam,
    case,
    cast,
    delete,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import readahead
from storage.articles import insert_ignoring_conflicts, mapped_table
from storage.models import (
    Chat,
    ChatCountry,
    ChatInstantTopic,
    ChatKeyword,
    ChatRegion,
    ChatTopic,
    ChatTopicBinding,
    SentArticle,
)

UPDATABLE_FIELDS = frozenset(
    {
        "type",
        "title",
        "language",
        "timezone",
        "digest_time",
        "next_digest_at",
        "last_digest_at",
        "notify_empty",
        "subscribed",
        "active",
        "paused",
        "daily",
        "weekly",
        "next_weekly_at",
        "next_instant_at",
        "instant_seen_until",
        "welcome_due_at",
    }
)


@dataclass(frozen=True, slots=True)
class Keyword:
    """One keyword filter word: its lemma (what is matched), whether it narrows (include)
    or removes, and the word as the subscriber typed it."""

    lemma: str
    include: bool
    word: str


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: int
    type: str
    title: str | None
    language: str
    timezone: str
    digest_time: str
    next_digest_at: datetime | None
    last_digest_at: datetime | None
    notify_empty: bool
    subscribed: bool
    active: bool
    paused: bool
    countries: frozenset[str]
    topics: frozenset[str]
    daily: bool = True
    weekly: bool = False
    next_weekly_at: datetime | None = None
    next_instant_at: datetime | None = None
    instant_seen_until: datetime | None = None
    instant_topics: frozenset[str] = frozenset()
    keywords: tuple[Keyword, ...] = ()
    regions: frozenset[str] = frozenset()
    # (country, message thread id) in a forum supergroup, sorted by country.
    bindings: tuple[tuple[str, int], ...] = ()

    @property
    def include_lemmas(self) -> frozenset[str]:
        return frozenset(k.lemma for k in self.keywords if k.include)

    @property
    def exclude_lemmas(self) -> frozenset[str]:
        return frozenset(k.lemma for k in self.keywords if not k.include)

    @property
    def instant(self) -> bool:
        return bool(self.instant_topics)


async def _records(session: AsyncSession, chats: Sequence[Chat]) -> list[ChatRecord]:
    """Chats with their countries and topics, read in two queries whatever their number."""
    ids = [chat.id for chat in chats]
    countries: dict[int, set[str]] = {chat_id: set() for chat_id in ids}
    topics: dict[int, set[str]] = {chat_id: set() for chat_id in ids}
    for chat_id, code in await session.execute(
        select(ChatCountry.chat_id, ChatCountry.country).where(ChatCountry.chat_id.in_(ids))
    ):
        countries[chat_id].add(code)
    for chat_id, topic in await session.execute(
        select(ChatTopic.chat_id, ChatTopic.topic).where(ChatTopic.chat_id.in_(ids))
    ):
        topics[chat_id].add(topic)
    instant: dict[int, set[str]] = {}
    for chat_id, topic in await session.execute(
        select(ChatInstantTopic.chat_id, ChatInstantTopic.topic).where(
            ChatInstantTopic.chat_id.in_(ids)
        )
    ):
        instant.setdefault(chat_id, set()).add(topic)
    keywords: dict[int, list[Keyword]] = {}
    for chat_id, lemma, include, word in await session.execute(
        select(ChatKeyword.chat_id, ChatKeyword.lemma, ChatKeyword.include, ChatKeyword.word)
        .where(ChatKeyword.chat_id.in_(ids))
        .order_by(ChatKeyword.chat_id, ChatKeyword.include.desc(), ChatKeyword.word)
    ):
        keywords.setdefault(chat_id, []).append(Keyword(lemma, bool(include), word))
    regions: dict[int, set[str]] = {}
    for chat_id, code in await session.execute(
        select(ChatRegion.chat_id, ChatRegion.region).where(ChatRegion.chat_id.in_(ids))
    ):
        regions.setdefault(chat_id, set()).add(code)
    bindings: dict[int, list[tuple[str, int]]] = {}
    for chat_id, code, thread_id in await session.execute(
        select(ChatTopicBinding.chat_id, ChatTopicBinding.country, ChatTopicBinding.thread_id)
        .where(ChatTopicBinding.chat_id.in_(ids))
        .order_by(ChatTopicBinding.chat_id, ChatTopicBinding.country)
    ):
        bindings.setdefault(chat_id, []).append((code, int(thread_id)))
    return [
        ChatRecord(
            id=chat.id,
            type=chat.type,
            title=chat.title,
            language=chat.language,
            timezone=chat.timezone,
            digest_time=chat.digest_time,
            next_digest_at=chat.next_digest_at,
            last_digest_at=chat.last_digest_at,
            notify_empty=chat.notify_empty,
            subscribed=chat.subscribed,
            active=chat.active,
            paused=chat.paused,
            countries=frozenset(countries[chat.id]),
            topics=frozenset(topics[chat.id]),
            daily=chat.daily,
            weekly=chat.weekly,
            next_weekly_at=chat.next_weekly_at,
            next_instant_at=chat.next_instant_at,
            instant_seen_until=chat.instant_seen_until,
            instant_topics=frozenset(instant.get(chat.id, ())),
            keywords=tuple(keywords.get(chat.id, ())),
            regions=frozenset(regions.get(chat.id, ())),
            bindings=tuple(bindings.get(chat.id, ())),
        )
        for chat in chats
    ]


# One chat at a time, as every update reads and writes it: plain statements on the tables,
# built once, without the ORM's identity map and session synchronisation.
_CHATS = mapped_table(Chat)
_CHAT_COUNTRIES = mapped_table(ChatCountry)
_CHAT_TOPICS = mapped_table(ChatTopic)
_CHAT_ROW = select(_CHATS).where(_CHATS.c.id == bindparam("chat_id"))


def _choices(kind: str, table: Table, value: str, number: Any = None, word: str = "") -> Any:
    return select(
        literal_column(f"'{kind}'", String).label("kind"),
        table.c[value].label("value"),
        (number if number is not None else literal_column("0", BigInteger)).label("number"),
        (table.c[word] if word else literal_column("''", String)).label("word"),
    ).where(table.c.chat_id == bindparam("chat_id"))


_KEYWORDS = mapped_table(ChatKeyword)
_BINDINGS = mapped_table(ChatTopicBinding)
# Everything a chat has chosen, in one query: countries (c), topics (t), instant topics (i),
# keywords (k: lemma, include as 0/1, the word as typed), regions (r) and forum topic
# bindings (b: country, thread id).
_CHAT_CHOICES = union_all(
    _choices("c", _CHAT_COUNTRIES, "country"),
    _choices("t", _CHAT_TOPICS, "topic"),
    _choices("i", mapped_table(ChatInstantTopic), "topic"),
    _choices("k", _KEYWORDS, "lemma", case((_KEYWORDS.c.include, 1), else_=0), "word"),
    _choices("r", mapped_table(ChatRegion), "region"),
    _choices("b", _BINDINGS, "country", cast(_BINDINGS.c.thread_id, BigInteger)),
)


async def _record(session: AsyncSession, chat: Mapping[Any, Any]) -> ChatRecord:
    """The record of one chat row with all it has chosen (the same as `_records` gives),
    its choices read in one query."""
    chosen: dict[str, list[tuple[str, int, str]]] = {kind: [] for kind in "ctikrb"}
    for kind, value, number, word in await session.execute(_CHAT_CHOICES, {"chat_id": chat["id"]}):
        chosen[kind].append((value, int(number), word))
    return _record_of(chat, chosen)


def _record_of(
    chat: Mapping[Any, Any], chosen: Mapping[str, list[tuple[str, int, str]]]
) -> ChatRecord:
    keywords = sorted(
        (Keyword(lemma, bool(include), word) for lemma, include, word in chosen["k"]),
        key=lambda keyword: (not keyword.include, keyword.word),
    )
    return ChatRecord(
        id=chat["id"],
        type=chat["type"],
        title=chat["title"],
        language=chat["language"],
        timezone=chat["timezone"],
        digest_time=chat["digest_time"],
        next_digest_at=chat["next_digest_at"],
        last_digest_at=chat["last_digest_at"],
        notify_empty=chat["notify_empty"],
        subscribed=chat["subscribed"],
        active=chat["active"],
        paused=chat["paused"],
        countries=frozenset(value for value, _, _ in chosen["c"]),
        topics=frozenset(value for value, _, _ in chosen["t"]),
        daily=chat["daily"],
        weekly=chat["weekly"],
        next_weekly_at=chat["next_weekly_at"],
        next_instant_at=chat["next_instant_at"],
        instant_seen_until=chat["instant_seen_until"],
        instant_topics=frozenset(value for value, _, _ in chosen["i"]),
        keywords=tuple(keywords),
        regions=frozenset(value for value, _, _ in chosen["r"]),
        bindings=tuple(sorted((value, number) for value, number, _ in chosen["b"])),
    )


# Kept by `chat_language` for a chat the bot does not know yet.
_NO_CHAT: Mapping[Any, Any] = {}
_NO_CHOICES: Mapping[str, list[tuple[str, int, str]]] = {kind: [] for kind in "ctikrb"}


async def _chat_row(session: AsyncSession, chat_id: int) -> Mapping[Any, Any] | None:
    kept: Mapping[Any, Any] | None = readahead.take(session, ("chat", chat_id))
    if kept is _NO_CHAT:
        return None
    if kept is not None:
        return kept
    row = (await session.execute(_CHAT_ROW, {"chat_id": chat_id})).first()
    return row._mapping if row is not None else None


async def get_chat(session: AsyncSession, chat_id: int) -> ChatRecord | None:
    chat = await _chat_row(session, chat_id)
    return await _record(session, chat) if chat is not None else None


async def ensure_chat(
    session: AsyncSession,
    chat_id: int,
    *,
    type: str,
    title: str | None,
    language: str,
    timezone: str,
    digest_time: str,
) -> tuple[ChatRecord, bool]:
    """Returns the chat, creating it with the given defaults; reactivates an inactive one."""
    chat = await _chat_row(session, chat_id)
    if chat is None:
        inserted = await session.execute(
            insert(_CHATS)
            .values(
                id=chat_id,
                type=type,
                title=title,
                language=language,
                timezone=timezone,
                digest_time=digest_time,
                notify_empty=False,
                subscribed=False,
                active=True,
                paused=False,
            )
            .returning(*_CHATS.c)
        )
        # A new chat has chosen nothing yet.
        return _record_of(inserted.one()._mapping, _NO_CHOICES), True
    if not chat["active"] or (title and title != chat["title"]):
        changes = {"active": True, "title": title or chat["title"]}
        await session.execute(update(_CHATS).where(_CHATS.c.id == chat_id).values(**changes))
        chat = {**chat, **changes}
    return await _record(session, chat), False


async def update_chat(session: AsyncSession, chat_id: int, **fields: Any) -> None:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"unknown chat fields: {sorted(unknown)}")
    await session.execute(update(_CHATS).where(_CHATS.c.id == chat_id).values(**fields))


async def save_chat(session: AsyncSession, chat: ChatRecord, **fields: Any) -> ChatRecord:
    """Writes `fields` of a chat read in this transaction and returns its record as saved,
    without reading it again. On SQLite the transaction has held the write lock since
    that read; on PostgreSQL the other columns are as of that read, as any record is."""
    await update_chat(session, chat.id, **fields)
    return replace(chat, **fields)


async def set_countries(
    session: AsyncSession,
    chat_id: int,
    codes: Iterable[str],
    *,
    current: Collection[str] | None = None,
) -> None:
    """The chat's countries become `codes`. With `current` (as read in this transaction)
    only the difference is written: one statement for a tap, and two admins of a group
    tapping different countries at once both keep their tap."""
    await _set_choices(session, _CHAT_COUNTRIES, "country", chat_id, codes, current)


async def set_topics(
    session: AsyncSession,
    chat_id: int,
    topics: Iterable[str],
    *,
    current: Collection[str] | None = None,
) -> None:
    """As `set_countries`, for topics (none stored means every topic)."""
    await _set_choices(session, _CHAT_TOPICS, "topic", chat_id, topics, current)


async def _set_choices(
    session: AsyncSession,
    table: Table,
    column: str,
    chat_id: int,
    values: Iterable[str],
    current: Collection[str] | None,
) -> None:
    wanted = set(values)
    if current is None:
        await session.execute(delete(table).where(table.c.chat_id == chat_id))
        added = wanted
    else:
        removed = set(current) - wanted
        added = wanted - set(current)
        if removed:
            await session.execute(
                delete(table).where(
                    table.c.chat_id == chat_id, table.c[column].in_(sorted(removed))
                )
            )
    rows = [{"chat_id": chat_id, column: value} for value in sorted(added)]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, table), rows)


async def delete_chat(session: AsyncSession, chat_id: int) -> bool:
    result = await session.execute(delete(Chat).where(Chat.id == chat_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def migrate_chat(session: AsyncSession, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its settings and history move to the new id."""
    if await session.get(Chat, new_id) is not None:
        await session.execute(delete(Chat).where(Chat.id == old_id))
        return
    await session.execute(
        update(Chat).where(Chat.id == old_id).values(id=new_id, type="supergroup")
    )


async def due_chats(session: AsyncSession, now: datetime, *, limit: int = 1000) -> list[ChatRecord]:
    query = (
        select(Chat)
        .where(Chat.subscribed.is_(True), Chat.active.is_(True), Chat.paused.is_(False))
        .where(Chat.next_digest_at.is_not(None), Chat.next_digest_at <= now)
        .order_by(Chat.next_digest_at, Chat.id)
        .limit(limit)
    )
    return await _records(session, list(await session.scalars(query)))


async def list_chats(session: AsyncSession, *, subscribed_only: bool = True) -> list[ChatRecord]:
    query = select(Chat).order_by(Chat.id)
    if subscribed_only:
        query = query.where(Chat.subscribed.is_(True))
    return await _records(session, list(await session.scalars(query)))


async def record_sent(session: AsyncSession, chat_id: int, article_ids: Iterable[int]) -> None:
    rows = [{"chat_id": chat_id, "article_id": article_id} for article_id in set(article_ids)]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, SentArticle), rows)


async def sent_article_ids(
    session: AsyncSession, chat_id: int, candidates: Collection[int] | None = None
) -> set[int]:
    query = select(SentArticle.article_id).where(SentArticle.chat_id == chat_id)
    if candidates is not None:
        if not candidates:
            return set()
        query = query.where(SentArticle.article_id.in_(list(candidates)))
    return set(await session.scalars(query))


# How far the clock of the process that records an article as sent may be behind the one
# of the process that stored it (sent_in_window).
SENT_CLOCK_SKEW = timedelta(hours=1)


async def sent_in_window(
    session: AsyncSession, chat_ids: Collection[int], since: datetime
) -> dict[int, set[int]]:
    """Per chat, the articles sent to it since `since`: every article first seen after
    `since` that it was sent is among them, since none is sent before it is stored (the
    margin SENT_CLOCK_SKEW covers clocks of different processes). Read by chat and time
    (ix_sent_articles_chat_id_sent_at), a few rows per chat, however long its history."""
    sent: dict[int, set[int]] = {}
    ids = list(chat_ids)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(SentArticle.chat_id, SentArticle.article_id).where(
                SentArticle.chat_id.in_(ids[start : start + 500]),
                SentArticle.sent_at > since - SENT_CLOCK_SKEW,
            )
        )
        for chat_id, article_id in rows:
            sent.setdefault(chat_id, set()).add(article_id)
    return sent


async def chat_language(session: AsyncSession, chat_id: int) -> str | None:
    """The chat's stored language, or None for a chat the bot does not know. The whole
    row is read and kept for the update's handler, which opens the chat next."""
    row = (await session.execute(_CHAT_ROW, {"chat_id": chat_id})).first()
    readahead.keep(session, ("chat", chat_id), _NO_CHAT if row is None else row._mapping)
    if row is None:
        return None
    language: str = row.language
    return language


async def due_chat_batch(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int = 500,
    after: tuple[datetime, int] | None = None,
) -> list[ChatRecord]:
    """Like `due_chats`, for thousands of chats at once: countries and topics come in two
    queries per batch. `after` is the (next_digest_at, id) of the last chat of the previous
    batch, so that a chat left due (its schedule could not be moved) is not read again."""
    query = (
        select(Chat)
        .where(Chat.subscribed.is_(True), Chat.active.is_(True), Chat.paused.is_(False))
        .where(Chat.next_digest_at.is_not(None), Chat.next_digest_at <= now)
    )
    if after is not None:
        last_due, last_id = after
        query = query.where(
            (Chat.next_digest_at > last_due)
            | ((Chat.next_digest_at == last_due) & (Chat.id > last_id))
        )
    chats = list(await session.scalars(query.order_by(Chat.next_digest_at, Chat.id).limit(limit)))
    if not chats:
        return []
    return await _records(session, chats)


async def lock_digest_schedules(
    session: AsyncSession, chat_ids: Collection[int]
) -> dict[int, datetime | None]:
    """next_digest_at of those chats that still want digests (subscribed, active, not
    paused), locked until the end of the transaction so that a schedule can be moved
    compare-and-set style: on SQLite the write transaction (BEGIN IMMEDIATE) already
    excludes other writers, on PostgreSQL the rows are selected FOR UPDATE."""
    found: dict[int, datetime | None] = {}
    ids = list(chat_ids)
    for start in range(0, len(ids), 500):
        query = (
            select(Chat.id, Chat.next_digest_at)
            .where(Chat.id.in_(ids[start : start + 500]))
            .where(Chat.subscribed.is_(True), Chat.active.is_(True), Chat.paused.is_(False))
            .with_for_update()
        )
        for chat_id, next_at in await session.execute(query):
            found[chat_id] = next_at
    return found


async def set_digest_schedules(
    session: AsyncSession, schedules: Collection[tuple[int, datetime, datetime | None]]
) -> None:
    """(chat id, next_digest_at, last_digest_at or None to keep it) for many chats at once."""
    table = _CHATS
    moved = [(c, n) for c, n, last in schedules if last is None]
    delivered = [(c, n, last) for c, n, last in schedules if last is not None]
    if moved:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("chat_id"))
            .values(next_digest_at=bindparam("next_at")),
            [{"chat_id": c, "next_at": n} for c, n in moved],
        )
    if delivered:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("chat_id"))
            .values(next_digest_at=bindparam("next_at"), last_digest_at=bindparam("last_at")),
            [{"chat_id": c, "next_at": n, "last_at": last} for c, n, last in delivered],
        )


async def record_sent_pairs(session: AsyncSession, pairs: Iterable[tuple[int, int]]) -> None:
    """(chat id, article id) pairs for many chats at once; known pairs are kept."""
    from storage.types import utcnow

    now = utcnow()
    rows = [
        {"chat_id": chat_id, "article_id": article_id, "sent_at": now}
        for chat_id, article_id in set(pairs)
    ]
    # The table, not the mapped class: a plain executemany without the ORM's bookkeeping.
    statement = insert_ignoring_conflicts(session, mapped_table(SentArticle))
    for start in range(0, len(rows), 5000):
        await session.execute(statement, rows[start : start + 5000])


async def sent_pairs(
    session: AsyncSession, chat_ids: Collection[int], article_ids: Collection[int]
) -> set[tuple[int, int]]:
    """Which of these articles were already sent to which of these chats."""
    if not chat_ids or not article_ids:
        return set()
    found: set[tuple[int, int]] = set()
    chats, articles = list(chat_ids), list(article_ids)
    for start in range(0, len(chats), 500):
        for article_start in range(0, len(articles), 2000):
            rows = await session.execute(
                select(SentArticle.chat_id, SentArticle.article_id).where(
                    SentArticle.chat_id.in_(chats[start : start + 500]),
                    SentArticle.article_id.in_(articles[article_start : article_start + 2000]),
                )
            )
            found.update((chat_id, article_id) for chat_id, article_id in rows)
    return found


# Delivery modes, filters and forum topics ----------------------------------------------------


async def set_instant_topics(session: AsyncSession, chat_id: int, topics: Iterable[str]) -> None:
    await session.execute(delete(ChatInstantTopic).where(ChatInstantTopic.chat_id == chat_id))
    rows = [{"chat_id": chat_id, "topic": topic} for topic in sorted(set(topics))]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, ChatInstantTopic), rows)


async def set_keywords(session: AsyncSession, chat_id: int, keywords: Iterable[Keyword]) -> None:
    """Replaces the chat's keyword filter; a lemma given twice keeps its last sign."""
    await session.execute(delete(ChatKeyword).where(ChatKeyword.chat_id == chat_id))
    by_lemma = {keyword.lemma: keyword for keyword in keywords}
    rows = [
        {"chat_id": chat_id, "lemma": k.lemma, "include": k.include, "word": k.word}
        for k in by_lemma.values()
    ]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, ChatKeyword), rows)


async def set_regions(session: AsyncSession, chat_id: int, codes: Iterable[str]) -> None:
    await session.execute(delete(ChatRegion).where(ChatRegion.chat_id == chat_id))
    rows = [{"chat_id": chat_id, "region": code} for code in sorted(set(codes))]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, ChatRegion), rows)


async def bind_country(session: AsyncSession, chat_id: int, country: str, thread_id: int) -> None:
    """Routes the chat's news about `country` to the forum topic `thread_id`."""
    await session.execute(
        delete(ChatTopicBinding).where(
            ChatTopicBinding.chat_id == chat_id, ChatTopicBinding.country == country
        )
    )
    await session.execute(
        insert_ignoring_conflicts(session, ChatTopicBinding),
        [{"chat_id": chat_id, "country": country, "thread_id": thread_id}],
    )


async def unbind_country(session: AsyncSession, chat_id: int, country: str) -> bool:
    result = await session.execute(
        delete(ChatTopicBinding).where(
            ChatTopicBinding.chat_id == chat_id, ChatTopicBinding.country == country
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def drop_thread_bindings(session: AsyncSession, chat_id: int, thread_id: int) -> list[str]:
    """Forgets every binding to a forum topic (it was deleted); returns their countries."""
    countries = list(
        await session.scalars(
            select(ChatTopicBinding.country).where(
                ChatTopicBinding.chat_id == chat_id, ChatTopicBinding.thread_id == thread_id
            )
        )
    )
    await session.execute(
        delete(ChatTopicBinding).where(
            ChatTopicBinding.chat_id == chat_id, ChatTopicBinding.thread_id == thread_id
        )
    )
    return sorted(countries)


def _wants_messages() -> Any:
    return (Chat.subscribed.is_(True), Chat.active.is_(True), Chat.paused.is_(False))


async def instant_chat_batch(
    session: AsyncSession,
    now: datetime,
    newest: datetime,
    *,
    limit: int = 500,
    after: int | None = None,
) -> list[ChatRecord]:
    """Chats with instant topics that may get an instant message at `now` and have not yet
    looked at articles first seen up to `newest`, by id after `after`."""
    query = (
        select(Chat)
        .where(*_wants_messages())
        .where(Chat.id.in_(select(ChatInstantTopic.chat_id)))
        .where((Chat.next_instant_at.is_(None)) | (Chat.next_instant_at <= now))
        .where((Chat.instant_seen_until.is_(None)) | (Chat.instant_seen_until < newest))
    )
    if after is not None:
        query = query.where(Chat.id > after)
    chats = list(await session.scalars(query.order_by(Chat.id).limit(limit)))
    return await _records(session, chats) if chats else []


async def lock_instant_states(
    session: AsyncSession, chat_ids: Collection[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """(next_instant_at, instant_seen_until) of those chats that still want messages,
    locked for a compare-and-set like `lock_digest_schedules`."""
    found: dict[int, tuple[datetime | None, datetime | None]] = {}
    ids = list(chat_ids)
    for start in range(0, len(ids), 500):
        query = (
            select(Chat.id, Chat.next_instant_at, Chat.instant_seen_until)
            .where(Chat.id.in_(ids[start : start + 500]))
            .where(*_wants_messages())
            .with_for_update()
        )
        for chat_id, next_at, seen in await session.execute(query):
            found[chat_id] = (next_at, seen)
    return found


async def due_weekly_batch(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int = 500,
    after: tuple[datetime, int] | None = None,
) -> list[ChatRecord]:
    """Chats whose weekly brief is due, ordered by (next_weekly_at, id) after `after`."""
    query = (
        select(Chat)
        .where(*_wants_messages())
        .where(Chat.weekly.is_(True))
        .where(Chat.next_weekly_at.is_not(None), Chat.next_weekly_at <= now)
    )
    if after is not None:
        last_due, last_id = after
        query = query.where(
            (Chat.next_weekly_at > last_due)
            | ((Chat.next_weekly_at == last_due) & (Chat.id > last_id))
        )
    chats = list(await session.scalars(query.order_by(Chat.next_weekly_at, Chat.id).limit(limit)))
    return await _records(session, chats) if chats else []


async def lock_weekly_schedules(
    session: AsyncSession, chat_ids: Collection[int]
) -> dict[int, datetime | None]:
    found: dict[int, datetime | None] = {}
    ids = list(chat_ids)
    for start in range(0, len(ids), 500):
        query = (
            select(Chat.id, Chat.next_weekly_at)
            .where(Chat.id.in_(ids[start : start + 500]))
            .where(*_wants_messages(), Chat.weekly.is_(True))
            .with_for_update()
        )
        for chat_id, next_at in await session.execute(query):
            found[chat_id] = next_at
    return found


async def welcome_chat_batch(
    session: AsyncSession, now: datetime, *, limit: int = 50
) -> list[tuple[ChatRecord, datetime]]:
    """Chats whose first articles after subscribing are due at `now`, oldest request
    first, with the moment each was requested (the value a compare-and-set expects)."""
    query = (
        select(Chat)
        .where(Chat.welcome_due_at.is_not(None), Chat.welcome_due_at <= now)
        .order_by(Chat.welcome_due_at, Chat.id)
        .limit(limit)
    )
    chats = list(await session.scalars(query))
    if not chats:
        return []
    due: dict[int, datetime] = {}
    for chat in chats:
        assert chat.welcome_due_at is not None
        due[chat.id] = chat.welcome_due_at
    return [(record, due[record.id]) for record in await _records(session, chats)]


async def lock_welcome_requests(
    session: AsyncSession, chat_ids: Collection[int]
) -> dict[int, datetime]:
    """welcome_due_at of those chats that still have one, locked for a compare-and-set
    like `lock_digest_schedules`."""
    found: dict[int, datetime] = {}
    ids = list(chat_ids)
    for start in range(0, len(ids), 500):
        query = (
            select(Chat.id, Chat.welcome_due_at)
            .where(Chat.id.in_(ids[start : start + 500]), Chat.welcome_due_at.is_not(None))
            .with_for_update()
        )
        for chat_id, due in await session.execute(query):
            if due is not None:
                found[chat_id] = due
    return found


async def set_chat_fields_many(
    session: AsyncSession, field_name: str, values: Collection[tuple[int, datetime | None]]
) -> None:
    """One column (`next_weekly_at`, `next_instant_at`, `instant_seen_until`,
    `welcome_due_at`) for many chats at once: (chat id, value) pairs."""
    from sqlalchemy import Table, bindparam

    if field_name not in {
        "next_weekly_at",
        "next_instant_at",
        "instant_seen_until",
        "welcome_due_at",
    }:
        raise ValueError(f"not a schedule field: {field_name}")
    if not values:
        return
    table = Chat.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("chat_id"))
        .values({field_name: bindparam("value")}),
        [{"chat_id": chat_id, "value": value} for chat_id, value in values],
    )
