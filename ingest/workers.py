"""The CPU-bound steps of ingestion (parsing feeds, extracting article pages, tagging) in
worker processes, so that an ingest process's event loop never holds the CPU.

`create_ingest_pool` starts the processes; each loads a tagger of its own once. The
functions below run inside them; `IngestPipeline(executor=…)` calls them.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

from ingest.fulltext import extract_article_text
from ingest.parse import FeedItem, ParsedFeed, parse_feed
from storage import articles as article_repo
from storage import facts as fact_repo
from storage.articles import TagValue
from tagging import Tagger, lemmatize_for_search

_tagger: Tagger | None = None


def _start_worker(threshold: float) -> None:
    global _tagger
    _exit_with_parent()
    _tagger = Tagger(threshold)


def _exit_with_parent() -> None:
    """A worker ends when the process that started it is gone, however it ended: one
    killed (kill -9, the out-of-memory killer) cannot shut its pool down, and its workers
    would otherwise wait for work forever, each holding a tagger's memory."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def create_ingest_pool(threshold: float, processes: int | None = None) -> ProcessPoolExecutor:
    """Worker processes (one per core by default), started afresh rather than forked from a
    process with an event loop and threads."""
    return ProcessPoolExecutor(
        max_workers=processes or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(threshold,),
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
    """Per item: its tags, its search lemmas and its facts (agreements and figures)."""
    if _tagger is None:
        raise RuntimeError("not an ingest worker process")
    from ingest.facts_backfill import new_facts

    results = _tagger.tag_many([(item.title, item.text) for item in items])
    analyses = []
    for item, result in zip(items, results, strict=True):
        tags = (
            *(TagValue(article_repo.COUNTRY, tag.value, tag.score) for tag in result.countries),
            *(TagValue(article_repo.TOPIC, tag.value, tag.score) for tag in result.topics),
            *(TagValue(article_repo.REGION, tag.value, tag.score) for tag in result.regions),
        )
        facts = new_facts(item.title, item.text, result.country_codes, item.published_at)
        analyses.append((tags, lemmatize_for_search(f"{item.title} {item.text}"), facts))
    return analyses
