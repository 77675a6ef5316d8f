"""The CPU-bound steps of ingestion (parsing feeds, extracting article pages, tagging) in
worker processes, so that an ingest process's event loop never holds the CPU.

`create_ingest_pool` starts the processes; each loads a tagger of its own once. The
functions below run inside them; `IngestPipeline(executor=…)` calls them. A pipeline
without worker processes runs `analyse_with` in a thread, with its own tagger.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.processes import RespawningPool, spawn_pool
from ingest.fulltext import extract_article_text
from ingest.parse import FeedItem, ParsedFeed, parse_feed
from storage import articles as article_repo
from storage import facts as fact_repo
from storage.articles import TagValue
from tagging import Tagger, lemmatize_for_search

_tagger: Tagger | None = None


def _start_worker(threshold: float) -> None:
    global _tagger
    _tagger = Tagger(threshold)


def create_ingest_pool(threshold: float, processes: int | None = None) -> RespawningPool:
    """Worker processes (one per core by default), each with a tagger of its own; see
    core.processes for how they start, end and are replaced."""
    count = processes or os.cpu_count() or 1
    return RespawningPool(
        lambda: spawn_pool(count, _start_worker, (threshold,)), "parse-and-tag worker"
    )


def parse(
    body: bytes,
    url: str,
    content_type: str | None,
    fetched_at: datetime,
    future_tolerance: timedelta,
) -> ParsedFeed:
    return parse_feed(
        body,
        url=url,
        content_type=content_type,
        fetched_at=fetched_at,
        future_tolerance=future_tolerance,
    )


def extract(body: bytes, content_type: str | None, url: str) -> str:
    return extract_article_text(body, content_type, url)


def analyse(
    items: Sequence[FeedItem],
) -> list[tuple[tuple[TagValue, ...], str, tuple[fact_repo.NewFact, ...]]]:
    """`analyse_with` this worker's tagger."""
    if _tagger is None:
        raise RuntimeError("not an ingest worker process")
    return analyse_with(_tagger, lemmatize_for_search, items)


def analyse_with(
    tagger: Tagger, lemmatize: Callable[[str], str], items: Sequence[FeedItem]
) -> list[tuple[tuple[TagValue, ...], str, tuple[fact_repo.NewFact, ...]]]:
    """Per item: its tags, its search lemmas and its facts (agreements and figures)."""
    # The fact extractor loads with the first new item: a poll that finds nothing new
    # (most cron runs) does without its tenth of a second of start-up.
    from ingest.facts_backfill import new_facts

    results = tagger.tag_many([(item.title, item.text) for item in items])
    analyses = []
    for item, result in zip(items, results, strict=True):
        tags = (
            *(TagValue(article_repo.COUNTRY, tag.value, tag.score) for tag in result.countries),
            *(TagValue(article_repo.TOPIC, tag.value, tag.score) for tag in result.topics),
            *(TagValue(article_repo.REGION, tag.value, tag.score) for tag in result.regions),
        )
        facts = new_facts(
            item.title, item.text, result.country_codes, item.published_at, result.region_codes
        )
        analyses.append((tags, lemmatize(f"{item.title} {item.text}"), facts))
    return analyses
