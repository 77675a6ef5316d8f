"""Fact repository: agreements and trade figures, each stored once with all its sources.

A fact is identified by its key (computed by the caller from its normalised fields): the same
agreement or figure reported by several outlets is one row in `facts` with one `fact_sources`
row per article.  Functions return plain data and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.articles import COUNTRY, insert_ignoring_conflicts, mapped_table
from storage.models import Article, ArticleTag, Fact, FactCountry, FactSource
from storage.types import utcnow

AGREEMENT = "agreement"
FIGURE = "figure"
EXPORT_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class NewFact:
    kind: str  # AGREEMENT | FIGURE
    key: str  # at most 64 characters; equal keys are one fact
    countries: tuple[str, ...]
    subject: str = ""
    parties: tuple[str, ...] = ()
    status: str | None = None
    day: date | None = None
    indicator: str | None = None
    value: float | None = None
    unit: str | None = None
    change: bool | None = None
    period: str | None = None


@dataclass(frozen=True, slots=True)
class FactSourceRef:
    article_id: int
    title: str
    url: str
    source: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class StoredFact:
    id: int
    kind: str
    countries: tuple[str, ...]
    subject: str
    parties: tuple[str, ...]
    status: str | None
    day: date | None
    indicator: str | None
    value: float | None
    unit: str | None
    change: bool | None
    period: str | None
    sort_at: datetime
    sources: tuple[FactSourceRef, ...]


def _sort_at(fact: NewFact, published_at: datetime) -> datetime:
    if fact.day is not None:
        return datetime(fact.day.year, fact.day.month, fact.day.day, tzinfo=UTC)
    return published_at


async def save_facts(
    session: AsyncSession,
    items: Sequence[tuple[int, datetime, NewFact]],
    *,
    refresh: bool = False,
) -> None:
    """Stores (article id, article published_at, fact) triples: a fact already stored under
    the same key gains the article as one more source.  With ``refresh`` a stored fact also
    takes the wording (subject, parties, unit, period) of the new extraction."""
    if not items:
        return
    rows: dict[str, dict[str, object]] = {}
    for _article_id, published_at, fact in items:
        rows.setdefault(
            fact.key,
            {
                "kind": fact.kind,
                "key": fact.key,
                "countries": ",".join(fact.countries),
                "subject": fact.subject,
                "parties": "\n".join(fact.parties),
                "status": fact.status,
                "day": fact.day,
                "indicator": fact.indicator,
                "value": fact.value,
                "unit": fact.unit,
                "change": fact.change,
                "period": fact.period,
                "sort_at": _sort_at(fact, published_at),
                "created_at": utcnow(),
            },
        )
    await session.execute(
        insert_ignoring_conflicts(session, mapped_table(Fact)), list(rows.values())
    )
    stored = await session.execute(
        select(Fact.key, Fact.id, Fact.kind, Fact.sort_at).where(Fact.key.in_(list(rows)))
    )
    by_key = {key: (fact_id, kind, sort_at) for key, fact_id, kind, sort_at in stored}
    if refresh:
        await session.execute(
            update(Fact),
            [
                {
                    "id": by_key[key][0],
                    "subject": row["subject"],
                    "parties": row["parties"],
                    "unit": row["unit"],
                    "period": row["period"],
                }
                for key, row in rows.items()
            ],
        )
    countries: dict[tuple[int, str], dict[str, object]] = {}
    sources: dict[tuple[int, int], dict[str, object]] = {}
    for article_id, _published_at, fact in items:
        fact_id, kind, sort_at = by_key[fact.key]
        for country in fact.countries:
            countries[(fact_id, country)] = {
                "fact_id": fact_id,
                "country": country,
                "kind": kind,
                "sort_at": sort_at,
            }
        sources[(fact_id, article_id)] = {"fact_id": fact_id, "article_id": article_id}
    if countries:
        await session.execute(
            insert_ignoring_conflicts(session, mapped_table(FactCountry)),
            list(countries.values()),
        )
    await session.execute(
        insert_ignoring_conflicts(session, mapped_table(FactSource)), list(sources.values())
    )


async def _load(session: AsyncSession, ids: Sequence[int]) -> list[StoredFact]:
    if not ids:
        return []
    facts = {fact.id: fact for fact in await session.scalars(select(Fact).where(Fact.id.in_(ids)))}
    refs: dict[int, list[FactSourceRef]] = defaultdict(list)
    rows = await session.execute(
        select(
            FactSource.fact_id,
            Article.id,
            Article.title,
            Article.url,
            Article.source,
            Article.published_at,
        )
        .join(Article, Article.id == FactSource.article_id)
        .where(FactSource.fact_id.in_(ids))
        .order_by(Article.published_at, Article.id)
    )
    for fact_id, article_id, title, url, source, published_at in rows:
        refs[fact_id].append(FactSourceRef(article_id, title, url, source, published_at))
    result: list[StoredFact] = []
    for fact_id in ids:
        fact = facts.get(fact_id)
        if fact is None:
            continue
        result.append(
            StoredFact(
                id=fact.id,
                kind=fact.kind,
                countries=tuple(c for c in fact.countries.split(",") if c),
                subject=fact.subject,
                parties=tuple(p for p in fact.parties.split("\n") if p),
                status=fact.status,
                day=fact.day,
                indicator=fact.indicator,
                value=fact.value,
                unit=fact.unit,
                change=fact.change,
                period=fact.period,
                sort_at=fact.sort_at,
                sources=tuple(refs.get(fact.id, ())),
            )
        )
    return result


async def agreements_page(
    session: AsyncSession, country: str, *, offset: int, limit: int
) -> tuple[list[StoredFact], int]:
    """A page of a country's agreements, newest first, and how many there are."""
    where = (FactCountry.country == country, FactCountry.kind == AGREEMENT)
    total = await session.scalar(select(func.count()).select_from(FactCountry).where(*where))
    ids = list(
        await session.scalars(
            select(FactCountry.fact_id)
            .where(*where)
            .order_by(FactCountry.sort_at.desc(), FactCountry.fact_id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    return await _load(session, ids), int(total or 0)


async def figures_of(session: AsyncSession, country: str, *, limit: int = 200) -> list[StoredFact]:
    """A country's latest figures, oldest first (a timeline)."""
    ids = list(
        await session.scalars(
            select(FactCountry.fact_id)
            .where(FactCountry.country == country, FactCountry.kind == FIGURE)
            .order_by(FactCountry.sort_at.desc(), FactCountry.fact_id.desc())
            .limit(limit)
        )
    )
    return list(reversed(await _load(session, ids)))


async def facts_of_countries(
    session: AsyncSession, countries: Collection[str], *, limit: int = EXPORT_LIMIT
) -> list[StoredFact]:
    """Facts about any of the countries, agreements first, newest first within a kind."""
    if not countries:
        return []
    ids = list(
        await session.scalars(
            select(FactCountry.fact_id)
            .where(FactCountry.country.in_(list(countries)))
            .group_by(FactCountry.fact_id)
            .order_by(
                func.min(FactCountry.kind),
                func.max(FactCountry.sort_at).desc(),
                FactCountry.fact_id,
            )
            .limit(limit)
        )
    )
    return await _load(session, ids)


@dataclass(frozen=True, slots=True)
class ArticleForFacts:
    """What fact extraction reads of a stored article."""

    id: int
    title: str
    text: str
    published_at: datetime
    countries: tuple[str, ...]


def _needs_facts(version: int) -> ColumnElement[bool]:
    return or_(Article.facts_version.is_(None), Article.facts_version < version)


async def count_articles_needing_facts(session: AsyncSession, version: int) -> int:
    """Stored articles whose facts were never extracted, or by an extractor older than
    ``version``."""
    total = await session.scalar(
        select(func.count()).select_from(Article).where(_needs_facts(version))
    )
    return int(total or 0)


async def articles_needing_facts(
    session: AsyncSession, version: int, *, limit: int
) -> list[ArticleForFacts]:
    """The next ``limit`` such articles, oldest id first, with their partner countries."""
    rows = list(
        await session.execute(
            select(
                Article.id, Article.title, Article.full_text, Article.summary, Article.published_at
            )
            .where(_needs_facts(version))
            .order_by(Article.id)
            .limit(limit)
        )
    )
    if not rows:
        return []
    countries: dict[int, list[str]] = defaultdict(list)
    tags = await session.execute(
        select(ArticleTag.article_id, ArticleTag.value)
        .where(ArticleTag.kind == COUNTRY, ArticleTag.article_id.in_([row[0] for row in rows]))
        .order_by(ArticleTag.article_id, ArticleTag.score.desc(), ArticleTag.value)
    )
    for article_id, value in tags:
        countries[article_id].append(value)
    return [
        ArticleForFacts(
            id=article_id,
            title=title,
            text=full_text or summary,
            published_at=published_at,
            countries=tuple(countries.get(article_id, ())),
        )
        for article_id, title, full_text, summary, published_at in rows
    ]


async def replace_facts_of_articles(
    session: AsyncSession,
    article_ids: Collection[int],
    items: Sequence[tuple[int, datetime, NewFact]],
    version: int,
) -> None:
    """The articles' facts become ``items`` (extracted by extractor ``version``): their old
    sources go, facts left without any source are deleted, the new facts merge with those of
    other articles as at ingest, and the articles are marked with ``version``."""
    ids = list(article_ids)
    if not ids:
        return
    previous = set(
        await session.scalars(select(FactSource.fact_id).where(FactSource.article_id.in_(ids)))
    )
    await session.execute(delete(FactSource).where(FactSource.article_id.in_(ids)))
    await save_facts(session, items, refresh=True)
    if previous:
        kept = set(
            await session.scalars(
                select(FactSource.fact_id).where(FactSource.fact_id.in_(list(previous)))
            )
        )
        orphans = list(previous - kept)
        if orphans:
            await session.execute(delete(FactCountry).where(FactCountry.fact_id.in_(orphans)))
            await session.execute(delete(Fact).where(Fact.id.in_(orphans)))
    await session.execute(update(Article).where(Article.id.in_(ids)).values(facts_version=version))


async def facts_of_articles(
    session: AsyncSession, article_ids: Collection[int]
) -> list[StoredFact]:
    """The facts that any of the articles is a source of, each with all its sources."""
    if not article_ids:
        return []
    ids = list(
        await session.scalars(
            select(FactSource.fact_id)
            .where(FactSource.article_id.in_(list(article_ids)))
            .group_by(FactSource.fact_id)
            .order_by(FactSource.fact_id)
        )
    )
    return await _load(session, ids)
