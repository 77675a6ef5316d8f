"""Article repository: stored articles, their tags, archive queries and search."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    case,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.models import Article, ArticleTag
from storage.types import utcnow

COUNTRY = "country"
TOPIC = "topic"
REGION = "region"


@dataclass(frozen=True, slots=True)
class NewArticle:
    feed_id: int | None
    guid: str
    url: str
    title: str
    summary: str
    full_text: str
    source: str
    published_at: datetime
    content_hash: str
    search_lemmas: str = ""
    facts_version: int | None = None  # the fact extractor's version, when facts were extracted


@dataclass(frozen=True, slots=True)
class TagValue:
    kind: str
    value: str
    score: float


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: int
    feed_id: int | None
    url: str
    title: str
    summary: str
    source: str
    published_at: datetime
    fetched_at: datetime
    countries: dict[str, float] = field(default_factory=dict)
    topics: dict[str, float] = field(default_factory=dict)
    regions: dict[str, float] = field(default_factory=dict)
    search_lemmas: str = ""


def insert_ignoring_conflicts(session: AsyncSession, model: type | Table) -> Any:
    # Each dialect's module loads with its first insert: a SQLite deployment never pays
    # for importing PostgreSQL's.
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(model).on_conflict_do_nothing()


def mapped_table(model: type) -> Table:
    """The table of a mapped class.  Inserting many rows into the table rather than the
    class is a plain executemany, without the ORM's per-row bookkeeping."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


async def known_urls(session: AsyncSession, urls: Collection[str]) -> set[str]:
    if not urls:
        return set()
    rows = await session.scalars(select(Article.url).where(Article.url.in_(list(urls))))
    return set(rows)


async def known_content_hashes(session: AsyncSession, hashes: Collection[str]) -> set[str]:
    if not hashes:
        return set()
    rows = await session.scalars(
        select(Article.content_hash).where(Article.content_hash.in_(list(hashes)))
    )
    return set(rows)


async def insert_article(session: AsyncSession, article: NewArticle) -> int | None:
    """Inserts one article; returns its id, or None when its URL is already stored."""
    statement = insert_ignoring_conflicts(session, Article)
    result = await session.execute(
        statement.values(
            feed_id=article.feed_id,
            guid=article.guid,
            url=article.url,
            title=article.title,
            summary=article.summary,
            full_text=article.full_text,
            source=article.source,
            published_at=article.published_at,
            fetched_at=utcnow(),
            content_hash=article.content_hash,
            search_lemmas=article.search_lemmas,
            facts_version=article.facts_version,
        ).returning(Article.id)
    )
    return result.scalar_one_or_none()


async def save_tags(session: AsyncSession, article_id: int, tags: Iterable[TagValue]) -> None:
    rows = [
        {"article_id": article_id, "kind": tag.kind, "value": tag.value, "score": tag.score}
        for tag in tags
    ]
    if rows:
        statement = insert_ignoring_conflicts(session, ArticleTag)
        await session.execute(statement, rows)


async def _with_tags(session: AsyncSession, articles: Sequence[Article]) -> list[StoredArticle]:
    if not articles:
        return []
    tags: dict[int, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    ids = [article.id for article in articles]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = await session.execute(
            select(
                ArticleTag.article_id, ArticleTag.kind, ArticleTag.value, ArticleTag.score
            ).where(ArticleTag.article_id.in_(chunk))
        )
        for article_id, kind, value, score in rows:
            tags[article_id][kind][value] = score
    return [
        StoredArticle(
            id=article.id,
            feed_id=article.feed_id,
            url=article.url,
            title=article.title,
            summary=(article.full_text or article.summary)[:600],
            source=article.source,
            published_at=article.published_at,
            fetched_at=article.fetched_at,
            countries=dict(tags[article.id][COUNTRY]),
            topics=dict(tags[article.id][TOPIC]),
            regions=dict(tags[article.id][REGION]),
            search_lemmas=article.search_lemmas or "",
        )
        for article in articles
    ]


def _tagged(kind: str, values: Collection[str], threshold: float) -> Select[Any]:
    return (
        select(ArticleTag.article_id)
        .where(ArticleTag.kind == kind)
        .where(ArticleTag.value.in_(list(values)))
        .where(ArticleTag.score >= threshold)
    )


async def find_articles(
    session: AsyncSession,
    *,
    countries: Collection[str] = (),
    topics: Collection[str] = (),
    published_since: datetime | None = None,
    fetched_since: datetime | None = None,
    threshold: float = 0.5,
    limit: int = 50,
    offset: int = 0,
) -> list[StoredArticle]:
    """Newest first; articles tagged with any of `countries` and any of `topics` (if given)."""
    query = select(Article)
    if countries:
        query = query.where(Article.id.in_(_tagged(COUNTRY, countries, threshold)))
    if topics:
        query = query.where(Article.id.in_(_tagged(TOPIC, topics, threshold)))
    if published_since is not None:
        query = query.where(Article.published_at >= published_since)
    if fetched_since is not None:
        query = query.where(Article.fetched_at > fetched_since)
    query = (
        query.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit).offset(offset)
    )
    return await _with_tags(session, list(await session.scalars(query)))


async def count_articles(
    session: AsyncSession,
    *,
    countries: Collection[str] = (),
    topics: Collection[str] = (),
    published_since: datetime | None = None,
    threshold: float = 0.5,
) -> int:
    query = select(func.count(Article.id))
    if countries:
        query = query.where(Article.id.in_(_tagged(COUNTRY, countries, threshold)))
    if topics:
        query = query.where(Article.id.in_(_tagged(TOPIC, topics, threshold)))
    if published_since is not None:
        query = query.where(Article.published_at >= published_since)
    return int(await session.scalar(query) or 0)


async def get_articles(session: AsyncSession, ids: Collection[int]) -> list[StoredArticle]:
    if not ids:
        return []
    rows = await session.scalars(select(Article).where(Article.id.in_(list(ids))))
    by_id = {article.id: article for article in rows}
    return await _with_tags(session, [by_id[i] for i in ids if i in by_id])


async def search_articles(
    session: AsyncSession, lemmas: Sequence[str], *, limit: int = 10, offset: int = 0
) -> list[StoredArticle]:
    """Articles whose lemmatised text holds every lemma, newest first."""
    words = [word for word in lemmas if word.isalnum()]
    if not words:
        return []
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    if dialect == "sqlite":
        match = " AND ".join(f'"{word}"' for word in words)
        matching: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("articles_fts"))
            .where(text("articles_fts MATCH :match").bindparams(match=match))
        )
        condition = Article.id.in_(matching)
    else:
        condition = func.to_tsvector("simple", Article.search_lemmas).op("@@")(
            func.to_tsquery("simple", " & ".join(words))
        )
    query = (
        select(Article)
        .where(condition)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return await _with_tags(session, list(await session.scalars(query)))


async def tag_counts(
    session: AsyncSession, *, threshold: float = 0.5
) -> dict[tuple[str, str], int]:
    """(country, topic) -> number of articles carrying both tags."""
    country = ArticleTag.__table__.alias("country_tag")
    topic = ArticleTag.__table__.alias("topic_tag")
    query = (
        select(country.c.value, topic.c.value, func.count())
        .select_from(country.join(topic, country.c.article_id == topic.c.article_id))
        .where(country.c.kind == COUNTRY, country.c.score >= threshold)
        .where(topic.c.kind == TOPIC, topic.c.score >= threshold)
        .group_by(country.c.value, topic.c.value)
    )
    return {(c, t): n for c, t, n in await session.execute(query)}


async def country_article_counts(
    session: AsyncSession, *, published_since: datetime | None = None, threshold: float = 0.5
) -> dict[str, int]:
    """Country code -> number of articles tagged with it (published since a moment)."""
    query = (
        select(ArticleTag.value, func.count())
        .where(ArticleTag.kind == COUNTRY, ArticleTag.score >= threshold)
        .group_by(ArticleTag.value)
    )
    if published_since is not None:
        query = query.join(Article, Article.id == ArticleTag.article_id).where(
            Article.published_at >= published_since
        )
    return {code: count for code, count in await session.execute(query)}


def _period_index(edges: Sequence[datetime], first: int, last: int) -> ColumnElement[int]:
    """The index (`first`..`last`) of the period between `edges` that holds an article's
    `published_at`, as a binary search: each row meets about log2(periods) comparisons
    instead of one per edge."""
    if first == last:
        return literal(first)
    middle = (first + last + 1) // 2
    return case(
        (Article.published_at < edges[middle], _period_index(edges, first, middle - 1)),
        else_=_period_index(edges, middle, last),
    )


async def country_counts_by_period(
    session: AsyncSession, edges: Sequence[datetime], *, threshold: float = 0.5
) -> dict[str, list[int]]:
    """Country code -> number of articles tagged with it in each period between
    consecutive `edges` (ascending moments; a period includes its start, not its end).

    Articles count by `published_at`, as everywhere in the archive (ingest stores the
    fetch time there when a feed gives no date). Countries without articles are absent.
    """
    periods = len(edges) - 1
    if periods < 1:
        return {}
    # Counted in the database: the answer is a row per country and period, however many
    # articles the periods hold. The period is computed in a subquery so that GROUP BY
    # names a column: PostgreSQL cannot match a repeated expression with bound parameters.
    period = _period_index(edges, 0, periods - 1)
    tagged = (
        select(ArticleTag.value.label("country"), period.label("period"))
        .join(Article, Article.id == ArticleTag.article_id)
        .where(ArticleTag.kind == COUNTRY, ArticleTag.score >= threshold)
        .where(Article.published_at >= edges[0], Article.published_at < edges[-1])
        .subquery()
    )
    query = select(tagged.c.country, tagged.c.period, func.count()).group_by(
        tagged.c.country, tagged.c.period
    )
    counts: dict[str, list[int]] = {}
    for code, index, count in await session.execute(query):
        counts.setdefault(code, [0] * periods)[index] += count
    return counts


async def feed_article_counts(session: AsyncSession, *, fetched_since: datetime) -> dict[int, int]:
    """Feed id -> number of articles first stored since a moment."""
    query = (
        select(Article.feed_id, func.count())
        .where(Article.feed_id.is_not(None), Article.fetched_at >= fetched_since)
        .group_by(Article.feed_id)
    )
    rows = await session.execute(query)
    return {feed_id: count for feed_id, count in rows if feed_id is not None}


async def insert_articles(session: AsyncSession, articles: Sequence[NewArticle]) -> dict[str, int]:
    """Inserts many articles in batched statements; returns url → id of the rows inserted.

    Articles whose URL is already stored are skipped and absent from the result.
    """
    if not articles:
        return {}
    fetched_at = utcnow()
    rows = [
        {
            "feed_id": article.feed_id,
            "guid": article.guid,
            "url": article.url,
            "title": article.title,
            "summary": article.summary,
            "full_text": article.full_text,
            "source": article.source,
            "published_at": article.published_at,
            "fetched_at": fetched_at,
            "content_hash": article.content_hash,
            "search_lemmas": article.search_lemmas,
            "facts_version": article.facts_version,
        }
        for article in articles
    ]
    table = mapped_table(Article)
    statement = insert_ignoring_conflicts(session, table).returning(table.c.id, table.c.url)
    result = await session.execute(statement, rows)
    return {url: article_id for article_id, url in result}


async def save_tags_of_many(session: AsyncSession, tags: Iterable[tuple[int, TagValue]]) -> None:
    """save_tags for several articles in one statement: (article id, tag) pairs."""
    rows = [
        {"article_id": article_id, "kind": tag.kind, "value": tag.value, "score": tag.score}
        for article_id, tag in tags
    ]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, mapped_table(ArticleTag)), rows)


async def known_urls_and_hashes(
    session: AsyncSession, urls: Collection[str], hashes: Collection[str]
) -> tuple[set[str], set[str]]:
    """Which of `urls` and of content `hashes` are already stored, in one query."""
    if not urls and not hashes:
        return set(), set()
    rows = await session.execute(
        select(Article.url, Article.content_hash).where(
            Article.url.in_(list(urls)) | Article.content_hash.in_(list(hashes))
        )
    )
    known_url_set: set[str] = set()
    known_hash_set: set[str] = set()
    wanted_urls, wanted_hashes = set(urls), set(hashes)
    for url, content_hash in rows:
        if url in wanted_urls:
            known_url_set.add(url)
        if content_hash in wanted_hashes:
            known_hash_set.add(content_hash)
    return known_url_set, known_hash_set


# A newest-first scan probing each article's tags reads about (wanted rows / match density)
# articles; past this many the intersected tag lists are cheaper.
PAGE_SCAN_LIMIT = 5000


# The counts that pick a page's plan are read again after this long: they only choose
# between two plans that return the same rows, and they change slowly, while reading
# them was most of the cost of a page on a small archive.
PLAN_COUNTS_SECONDS = 60.0
PLAN_COUNTS_KEPT = 4096
_plan_counts: WeakKeyDictionary[Any, dict[Hashable, tuple[float, int]]] = WeakKeyDictionary()


async def _plan_count(
    session: AsyncSession, key: Hashable, query: Callable[[], Select[Any]]
) -> int:
    """The count `query()` reads, as read within the last PLAN_COUNTS_SECONDS on this
    database."""
    engine = session.bind.sync_engine if isinstance(session.bind, AsyncEngine) else None
    counts = _plan_counts.setdefault(engine, {}) if engine is not None else {}
    now = time.monotonic()
    kept = counts.get(key)
    if kept is not None and now - kept[0] < PLAN_COUNTS_SECONDS:
        return kept[1]
    value = int(await session.scalar(query()) or 0)
    if value:  # an empty archive fills fast on the first poll: not kept
        if len(counts) >= PLAN_COUNTS_KEPT:
            counts.clear()
        counts[key] = (now, value)
    return value


def _tag_count_query(kind: str, values: list[str]) -> Select[Any]:
    return (
        select(func.count())
        .select_from(ArticleTag)
        .where(ArticleTag.kind == kind, ArticleTag.value.in_(values))
    )


async def _rows_to_scan(
    session: AsyncSession,
    countries: Collection[str],
    topics: Collection[str],
    published_since: datetime | None,
    wanted: int,
) -> float:
    """About how many articles a newest-first scan reads to find `wanted` matches, from
    index-only counts (scores are ignored and the filters taken as independent: good
    enough to pick a plan). A scan never reads past `published_since`."""
    all_time = await _plan_count(session, "articles", lambda: select(func.max(Article.id)))
    if not all_time:
        return 0.0
    density = 1.0
    for kind, values in ((COUNTRY, countries), (TOPIC, topics)):
        if values:
            chosen = sorted(set(values))
            tagged = await _plan_count(
                session, (kind, *chosen), partial(_tag_count_query, kind, chosen)
            )
            density *= min(1.0, tagged / all_time)
    estimate = wanted / density if density > 0 else float("inf")
    if published_since is not None:
        in_window = await session.scalar(
            select(func.count()).where(Article.published_at >= published_since)
        )
        estimate = min(estimate, float(in_window or 0))
    return estimate


def _tag_probe(kind: str, values: Collection[str], threshold: float) -> Any:
    return (
        select(ArticleTag.id)
        .where(ArticleTag.article_id == Article.id)
        .where(ArticleTag.kind == kind, ArticleTag.value.in_(list(values)))
        .where(ArticleTag.score >= threshold)
        .exists()
    )


async def find_articles_page(
    session: AsyncSession,
    *,
    countries: Collection[str] = (),
    topics: Collection[str] = (),
    published_since: datetime | None = None,
    threshold: float = 0.5,
    limit: int = 10,
    offset: int = 0,
) -> tuple[list[StoredArticle], bool]:
    """One page of `find_articles` (same filters and order) and whether more follow.

    Picks the query plan by how common the matches are: common ones come fastest from a
    newest-first scan that probes each article's tags, rare ones from the tag index (a
    scan would read the whole table before finding a page).
    """
    wanted = offset + limit + 1
    scan = await _rows_to_scan(session, countries, topics, published_since, wanted)
    query = select(Article)
    if scan <= PAGE_SCAN_LIMIT:
        if countries:
            query = query.where(_tag_probe(COUNTRY, countries, threshold))
        if topics:
            query = query.where(_tag_probe(TOPIC, topics, threshold))
    else:
        if countries:
            query = query.where(Article.id.in_(_tagged(COUNTRY, countries, threshold)))
        if topics:
            query = query.where(Article.id.in_(_tagged(TOPIC, topics, threshold)))
    if published_since is not None:
        query = query.where(Article.published_at >= published_since)
    query = (
        query.order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    found = list(await session.scalars(query))
    return await _with_tags(session, found[:limit]), len(found) > limit


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What an article was tagged from: its title and best text."""

    id: int
    url: str
    title: str
    text: str


async def article_text_by_url(session: AsyncSession, urls: Collection[str]) -> ArticleText | None:
    """The stored article with the first of `urls` (tried in order) that is known, or None."""
    wanted = [url for url in dict.fromkeys(urls) if url]
    if not wanted:
        return None
    rows = await session.execute(
        select(Article.id, Article.url, Article.title, Article.full_text, Article.summary).where(
            Article.url.in_(wanted)
        )
    )
    found = {row.url: row for row in rows}
    for url in wanted:
        row = found.get(url)
        if row is not None:
            return ArticleText(row.id, row.url, row.title, row.full_text or row.summary)
    return None


async def region_counts(session: AsyncSession, *, threshold: float = 0.5) -> dict[str, int]:
    """Russian region code -> number of stored articles tagged with it."""
    query = (
        select(ArticleTag.value, func.count())
        .where(ArticleTag.kind == REGION, ArticleTag.score >= threshold)
        .group_by(ArticleTag.value)
    )
    return {code: int(count) for code, count in await session.execute(query)}


async def newest_fetched_at(session: AsyncSession) -> datetime | None:
    """When the most recently stored article was first seen (None: no articles)."""
    value: datetime | None = await session.scalar(select(func.max(Article.fetched_at)))
    return value
