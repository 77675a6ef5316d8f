"""Facts for stored articles: those stored before facts were extracted, and those whose facts
come from an older extractor (``tagging.facts.FACTS_VERSION``).

Work goes in small batches: one short transaction reads a batch of articles with their
partner countries, extraction runs in a worker thread (in `digestbot run`, in its parse-and-tag
worker process), one short transaction replaces the batch's facts and marks the articles.
The running bot does this in the background between other work; ``digestbot db upgrade``
does it to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import facts as fact_repo
from tagging.facts import (
    FACTS_VERSION,
    agreement_key,
    agreement_terms,
    extract_facts,
    figure_key,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# Between two batches the event loop serves chat updates and other jobs.
PAUSE_SECONDS = 0.5
# How long a stopping process waits for the batch under way.
STOP_WAIT_SECONDS = 3.0


def new_facts(
    title: str,
    text: str,
    countries: Sequence[str],
    published_at: datetime,
    regions: Sequence[str] = (),
) -> tuple[fact_repo.NewFact, ...]:
    """An article's agreements and figures as rows to store, keyed so that outlets merge;
    `regions` are the Russian regions the tagger found in it."""
    if not countries:
        return ()
    published = published_at.date()
    facts = extract_facts(title, text, countries, published)
    rows = []
    for agreement in facts.agreements:
        document, subject, places = agreement_terms(agreement)
        rows.append(
            fact_repo.NewFact(
                kind=fact_repo.AGREEMENT,
                key=agreement_key(agreement, published, regions, places),
                countries=agreement.countries,
                subject=agreement.subject,
                parties=agreement.parties,
                status=agreement.status,
                day=date.fromisoformat(agreement.date) if agreement.date else None,
                terms=fact_repo.AgreementTerms(document, subject, places, frozenset(regions)),
            )
        )
    rows.extend(
        fact_repo.NewFact(
            kind=fact_repo.FIGURE,
            key=figure_key(figure),
            countries=figure.countries,
            indicator=figure.indicator,
            value=figure.value,
            unit=figure.unit,
            change=figure.change,
            period=figure.period,
        )
        for figure in facts.figures
    )
    return tuple(rows)


def _extract(
    articles: Sequence[fact_repo.ArticleForFacts],
) -> list[tuple[int, datetime, fact_repo.NewFact]]:
    return [
        (article.id, article.published_at, fact)
        for article in articles
        for fact in new_facts(
            article.title, article.text, article.countries, article.published_at, article.regions
        )
    ]


@dataclass(frozen=True, slots=True)
class BackfillResult:
    articles: int  # articles whose facts were extracted
    facts: int  # fact rows extracted from them (before merging across outlets)


async def backfill_batch(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    version: int = FACTS_VERSION,
    batch_size: int = BATCH_SIZE,
    executor: Executor | None = None,
) -> BackfillResult:
    """One batch: read, extract in `executor` (ingest.workers' processes; by default a
    thread), replace and mark.  Zero articles when nothing is left."""
    async with session_factory() as session:
        articles = await fact_repo.articles_needing_facts(session, version, limit=batch_size)
    if not articles:
        return BackfillResult(0, 0)
    loop = asyncio.get_running_loop()
    items = await loop.run_in_executor(executor, _extract, articles)
    async with session_factory() as session, session.begin():
        await fact_repo.replace_facts_of_articles(
            session, [article.id for article in articles], items, version
        )
    return BackfillResult(len(articles), len(items))


async def backfill(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    version: int = FACTS_VERSION,
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
    stop: asyncio.Event | None = None,
    executor: Executor | None = None,
) -> BackfillResult:
    """Batches until no stored article needs facts, or until ``stop`` is set: a batch under
    way is finished, never cut in the middle of a database call."""
    articles = facts = 0
    stop = stop or asyncio.Event()
    if pause:
        # The bot starts its other work first.
        await _wait(stop, pause)
    while not stop.is_set():
        result = await backfill_batch(
            session_factory, version=version, batch_size=batch_size, executor=executor
        )
        if result.articles == 0:
            break
        articles += result.articles
        facts += result.facts
        logger.info("facts extracted for %d stored articles so far", articles)
        if pause:
            await _wait(stop, pause)
    return BackfillResult(articles, facts)


async def backfill_in_background(
    session_factory: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    executor: Executor | None = None,
) -> None:
    """The running bot's backfill: batches with pauses, so that chat updates and the
    clock's jobs are never starved; a failure is logged and waits for the next start."""
    try:
        result = await backfill(session_factory, pause=PAUSE_SECONDS, stop=stop, executor=executor)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("facts of stored articles: backfill stopped; next try at restart")
        return
    if result.articles:
        logger.info("facts extracted for %d stored articles", result.articles)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
