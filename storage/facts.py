"""Fact repository: agreements and trade figures, each stored once with all its sources.

A fact is identified by its key (computed by the caller from its normalised fields): the same
agreement or figure reported by several outlets is one row in `facts` with one `fact_sources`
row per article.  Functions return plain data and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.articles import COUNTRY, REGION, insert_ignoring_conflicts, mapped_table
from storage.leader import lock_key
from storage.models import Article, ArticleTag, Fact, FactCountry, FactSource
from storage.types import utcnow

AGREEMENT = "agreement"
FIGURE = "figure"
EXPORT_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    """What tells two outlets' reports of one agreement from two agreements when their
    wordings, and so their keys, differ: the document's lemma («соглашение»), the content
    lemmas of its subject besides it, the places named among its parties («Навоийской
    области» → навоийский), and the Russian regions its article is about (the tagger's
    region tags)."""

    document: str
    subject: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def encoded(self) -> str:
        return "\t".join((self.document, *(" ".join(sorted(part)) for part in self._sets())))

    def _sets(self) -> tuple[frozenset[str], ...]:
        return self.subject, self.places, self.regions

    @classmethod
    def decoded(cls, text: str) -> AgreementTerms | None:
        document, *sets = text.split("\t")
        if len(sets) != 3 or not document:
            return None
        subject, places, regions = (frozenset(part.split()) for part in sets)
        return cls(document, subject, places, regions)

    def likeness(self, other: AgreementTerms) -> float | None:
        """How alike two agreements' terms are (0.5–1), or None when they may be two
        agreements: another document, places (or the articles' regions) named on both
        sides and none shared, a subject that is the document alone, or subjects neither
        within the other nor sharing half their lemmas."""
        if self.document != other.document:
            return None
        if any(
            mine and theirs and mine.isdisjoint(theirs)
            for mine, theirs in ((self.places, other.places), (self.regions, other.regions))
        ):
            return None
        if not self.subject or not other.subject:
            # A bare «соглашение» would be within every agreement of the week.
            return None
        union = self.subject | other.subject
        overlap = len(self.subject & other.subject) / len(union)
        if self.subject <= other.subject or other.subject <= self.subject:
            return max(overlap, 0.5)
        return overlap if overlap >= 0.5 else None


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
    # Agreements only: matched against stored agreements whose key differs.
    terms: AgreementTerms | None = None


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


# Reports of one agreement published this far apart may still be one agreement; further
# apart, they are two (a memorandum and its renewal a year later).
SAME_AGREEMENT_DAYS = 7


@dataclass(slots=True)
class _Agreement:
    """An agreement a new report may join: stored (with its id) or new in this call."""

    key: str
    row: dict[str, object]
    terms: AgreementTerms
    fact_id: int | None = None
    changed: bool = False

    @property
    def countries(self) -> set[str]:
        return {code for code in str(self.row["countries"]).split(",") if code}

    def likeness(self, row: dict[str, object], terms: AgreementTerms) -> float | None:
        if row["status"] != self.row["status"] or self.countries.isdisjoint(
            str(row["countries"]).split(",")
        ):
            return None
        if row["day"] and self.row["day"] and row["day"] != self.row["day"]:
            return None
        apart = abs(_sort_moment(row) - _sort_moment(self.row))
        if apart > timedelta(days=SAME_AGREEMENT_DAYS):
            return None
        return self.terms.likeness(terms)

    def join(self, row: dict[str, object], terms: AgreementTerms) -> None:
        """The report's wording where it says more, as within one article: the longer
        subject, the longer list of parties, the first date given, every country; and its
        regions when the agreement had none."""
        before = self.terms
        changes: dict[str, object] = {}
        if len(str(row["subject"])) > len(str(self.row["subject"])):
            changes["subject"] = row["subject"]
            self.terms = replace(self.terms, subject=terms.subject)
        if _parties_size(row) > _parties_size(self.row):
            changes["parties"] = row["parties"]
            self.terms = replace(self.terms, places=terms.places)
        if terms.regions and not self.terms.regions:
            self.terms = replace(self.terms, regions=terms.regions)
        if row["day"] and not self.row["day"]:
            changes["day"] = row["day"]
            changes["sort_at"] = row["sort_at"]
        countries = ",".join(sorted(self.countries | set(str(row["countries"]).split(","))))
        if countries != self.row["countries"]:
            changes["countries"] = countries
        if changes or self.terms != before:
            self.row.update(changes, signature=self.terms.encoded())
            self.changed = True


def _parties_size(row: dict[str, object]) -> tuple[int, int]:
    parties = str(row["parties"])
    return (len(parties.split("\n")) if parties else 0, len(parties))


def _sort_moment(row: dict[str, object]) -> datetime:
    """A row's sort_at: aware, as _sort_at makes it and UTCDateTime reads it back."""
    moment = row["sort_at"]
    assert isinstance(moment, datetime)
    return moment


async def _stored_agreements(
    session: AsyncSession, rows: Sequence[dict[str, object]]
) -> list[_Agreement]:
    """Stored agreements that new agreement `rows` may be reports of: the same countries
    and within SAME_AGREEMENT_DAYS."""
    if not rows:
        return []
    countries = {code for row in rows for code in str(row["countries"]).split(",") if code}
    moments = [_sort_moment(row) for row in rows]
    margin = timedelta(days=SAME_AGREEMENT_DAYS)
    ids = (
        select(FactCountry.fact_id)
        .where(
            FactCountry.kind == AGREEMENT,
            FactCountry.country.in_(sorted(countries)),
            FactCountry.sort_at >= min(moments) - margin,
            FactCountry.sort_at <= max(moments) + margin,
        )
        .distinct()
    )
    stored = await session.scalars(
        select(Fact).where(Fact.id.in_(ids), Fact.signature != "").order_by(Fact.id)
    )
    found = []
    for fact in stored:
        terms = AgreementTerms.decoded(fact.signature)
        if terms is not None:
            row: dict[str, object] = {
                name: getattr(fact, name)
                for name in ("countries", "subject", "parties", "status", "day", "sort_at")
            }
            found.append(_Agreement(fact.key, row, terms, fact.id))
    return found


async def _join_similar_agreements(
    session: AsyncSession, rows: dict[str, dict[str, object]], terms: dict[str, AgreementTerms]
) -> dict[str, str]:
    """Which new agreements (by key) are reports of another: of a stored agreement much like
    it or of one new in `rows` before it.  Returns key → the key it joins; joined rows leave
    `rows`, and a stored agreement that gains wording from them is updated."""
    new = [key for key in terms if key in rows]
    if not new:
        return {}
    stored_keys = set(await session.scalars(select(Fact.key).where(Fact.key.in_(new))))
    new = [key for key in new if key not in stored_keys]
    candidates = await _stored_agreements(session, [rows[key] for key in new])
    joined: dict[str, str] = {}
    for key in new:
        row = rows[key]
        scored = [
            (likeness, -abs(_sort_moment(row) - _sort_moment(c.row)), c)
            for c in candidates
            if (likeness := c.likeness(row, terms[key])) is not None
        ]
        if not scored:
            candidates.append(_Agreement(key, row, terms[key]))
            continue
        best = max(scored, key=lambda entry: entry[:2])[2]
        best.join(row, terms[key])
        joined[key] = best.key
        del rows[key]
    for candidate in candidates:
        if candidate.fact_id is not None and candidate.changed:
            await _update_stored(session, candidate)
    return joined


async def _update_stored(session: AsyncSession, agreement: _Agreement) -> None:
    fact_id, row = agreement.fact_id, agreement.row
    await session.execute(
        update(Fact)
        .where(Fact.id == fact_id)
        .values(
            {
                name: row[name]
                for name in ("countries", "subject", "parties", "day", "sort_at", "signature")
                if name in row
            }
        )
    )
    await session.execute(
        update(FactCountry).where(FactCountry.fact_id == fact_id).values(sort_at=row["sort_at"])
    )


async def _lock_facts(session: AsyncSession) -> None:
    """On PostgreSQL, facts are written one transaction at a time, from before a transaction
    first touches them to its end: two ingest workers storing reports of one agreement at
    once would each miss the other's, and a backfill dropping a fact while a worker adds a
    source to it could deadlock with it."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key("facts")}
        )


async def save_facts(
    session: AsyncSession,
    items: Sequence[tuple[int, datetime, NewFact]],
    *,
    refresh: bool = False,
) -> None:
    """Stores (article id, article published_at, fact) triples: a fact already stored under
    the same key gains the article as one more source, and so does a stored agreement much
    like a new one (AgreementTerms.likeness: the same countries, status and document, within
    SAME_AGREEMENT_DAYS), taking the new report's wording where it says more.  With
    ``refresh`` a fact stored under the same key takes the wording (subject, parties, unit,
    period) of the new extraction."""
    if not items:
        return
    await _lock_facts(session)
    rows: dict[str, dict[str, object]] = {}
    terms: dict[str, AgreementTerms] = {}
    for _article_id, published_at, fact in items:
        if fact.key in rows:
            continue
        rows[fact.key] = {
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
            "signature": fact.terms.encoded() if fact.terms else "",
        }
        if fact.kind == AGREEMENT and fact.terms is not None and fact.terms.document:
            terms[fact.key] = fact.terms
    joined = await _join_similar_agreements(session, rows, terms)
    if rows:
        await session.execute(
            insert_ignoring_conflicts(session, mapped_table(Fact)), list(rows.values())
        )
    stored = await session.execute(
        select(Fact.key, Fact.id, Fact.kind, Fact.sort_at).where(
            Fact.key.in_(list({*rows, *joined.values()}))
        )
    )
    by_key = {key: (fact_id, kind, sort_at) for key, fact_id, kind, sort_at in stored}
    if refresh and rows:
        await session.execute(
            update(Fact),
            [
                {
                    "id": by_key[key][0],
                    "subject": row["subject"],
                    "parties": row["parties"],
                    "unit": row["unit"],
                    "period": row["period"],
                    "signature": row["signature"],
                }
                for key, row in rows.items()
            ],
        )
    countries: dict[tuple[int, str], dict[str, object]] = {}
    sources: dict[tuple[int, int], dict[str, object]] = {}
    for article_id, _published_at, fact in items:
        fact_id, kind, sort_at = by_key[joined.get(fact.key, fact.key)]
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
    regions: tuple[str, ...] = ()


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
    """The next ``limit`` such articles, oldest id first, with their partner countries
    and Russian regions."""
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
    tags: dict[tuple[int, str], list[str]] = defaultdict(list)
    found = await session.execute(
        select(ArticleTag.article_id, ArticleTag.kind, ArticleTag.value)
        .where(
            ArticleTag.kind.in_((COUNTRY, REGION)),
            ArticleTag.article_id.in_([row[0] for row in rows]),
        )
        .order_by(ArticleTag.article_id, ArticleTag.score.desc(), ArticleTag.value)
    )
    for article_id, kind, value in found:
        tags[(article_id, kind)].append(value)
    return [
        ArticleForFacts(
            id=article_id,
            title=title,
            text=full_text or summary,
            published_at=published_at,
            countries=tuple(tags.get((article_id, COUNTRY), ())),
            regions=tuple(tags.get((article_id, REGION), ())),
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
    await _lock_facts(session)
    previous = set(
        await session.scalars(select(FactSource.fact_id).where(FactSource.article_id.in_(ids)))
    )
    await session.execute(delete(FactSource).where(FactSource.article_id.in_(ids)))
    if previous:
        # Facts left without a source go before the new ones are saved: kept, one would
        # hold a report under its old key instead of letting it join another outlet's
        # report of the same agreement (AgreementTerms).
        kept = set(
            await session.scalars(
                select(FactSource.fact_id).where(FactSource.fact_id.in_(list(previous)))
            )
        )
        orphans = list(previous - kept)
        if orphans:
            await session.execute(delete(FactCountry).where(FactCountry.fact_id.in_(orphans)))
            await session.execute(delete(Fact).where(Fact.id.in_(orphans)))
    await save_facts(session, items, refresh=True)
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
