"""Parsing, page extraction and tagging in worker processes give what threads give; the
workers end with the process that started them, and one that died is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from core.processes import RespawningPool, spawn_pool
from ingest.facts_backfill import new_facts
from ingest.pipeline import WORKER_DIED, IngestPipeline
from ingest.workers import create_ingest_pool
from storage import facts as fact_repo
from storage import feeds as feed_repo
from storage.models import Article, ArticleTag
from tagging import Tagger
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import ARTICLE_PAGE, KAZAKH_GRAIN, Story, rss
from tests.ingest.test_pipeline import CONFIG, SessionFactory, add_feeds
from tests.support.commands import PROJECT_ROOT
from tests.support.processes import all_ended, live_processes


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    executor = create_ingest_pool(0.5, processes=1)
    yield executor
    executor.shutdown(cancel_futures=True)


async def test_a_poll_through_the_process_pool_stores_what_the_threads_would(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger, pool: Executor
) -> None:
    lead = "Омская область и Бухарская область Узбекистана договорились о прямых поставках."
    teaser = Story(
        "Омск и Бухара создадут рабочую группу по торговле", lead, server.url("/news/bukhara")
    )
    server.document("/mixed.xml", rss("Омские новости", [teaser, KAZAKH_GRAIN]))
    page = ARTICLE_PAGE.format(title=teaser.title, lead=lead)
    server.document("/news/bukhara", page.encode(), content_type="text/html; charset=utf-8")
    await add_feeds(session_factory, server.url("/mixed.xml"))
    pipeline = IngestPipeline(session_factory, None, CONFIG, executor=pool)

    (outcome,) = await pipeline.run_once()

    assert outcome.status == "new" and outcome.new_items == 2
    async with session_factory() as session:
        stored = list(await session.scalars(select(Article).order_by(Article.id)))
        tags = list(await session.scalars(select(ArticleTag)))
    by_url = {article.url: article for article in stored}
    bukhara = by_url[server.url("/news/bukhara")]
    # The page's text was extracted in the worker.
    assert "хлопковые ткани, сухофрукты и овощи" in bukhara.full_text
    for article in stored:
        expected = tagger.tag(article.title, article.full_text)
        got = {(tag.kind, tag.value) for tag in tags if tag.article_id == article.id}
        assert got == {
            *(("country", tag.value) for tag in expected.countries),
            *(("topic", tag.value) for tag in expected.topics),
            *(("region", tag.value) for tag in expected.regions),
        }
        assert article.search_lemmas
    assert ("country", "UZ") in {(tag.kind, tag.value) for tag in tags}
    # Facts are extracted in the worker too, as the threads extract them.
    async with session_factory() as session:
        for article in stored:
            countries = tagger.tag(article.title, article.full_text).country_codes
            expected_facts = new_facts(
                article.title, article.full_text, countries, article.published_at
            )
            got_facts = await fact_repo.facts_of_articles(session, [article.id])
            assert sorted(_fact_fields(fact) for fact in got_facts) == sorted(
                _fact_fields(fact) for fact in expected_facts
            )
    assert KAZAKH_GRAIN.link is not None
    grain = by_url[KAZAKH_GRAIN.link]
    async with session_factory() as session:
        (figure,) = await fact_repo.facts_of_articles(session, [grain.id])
    assert (figure.indicator, figure.value, figure.unit) == ("export", 40.0, "тысяч тонн")


def _fact_fields(fact: fact_repo.StoredFact | fact_repo.NewFact) -> tuple[object, ...]:
    return (fact.kind, fact.countries, fact.subject, fact.indicator, fact.value, fact.unit)


_POOL_IN_A_CHILD = """
import os, time
from ingest.workers import create_ingest_pool
pool = create_ingest_pool(0.5, processes=1)
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(120)
"""


def test_the_workers_end_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _POOL_IN_A_CHILD],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": ""},
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = 0
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker in live_processes()
        parent.kill()  # no shutdown of the pool: as kill -9 or the out-of-memory killer
        parent.wait()
        assert all_ended([worker], 30.0)
    finally:
        parent.kill()
        parent.wait()
        if worker:
            with suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


def test_a_worker_that_died_is_replaced_and_the_next_calls_run() -> None:
    pool = create_ingest_pool(0.5, processes=1)
    try:
        worker = pool.submit(os.getpid).result(timeout=60)
        os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would
        # The pool notices its process is gone; until then a call may still be queued for it.
        deadline = time.monotonic() + 30
        while True:
            try:
                replacement = pool.submit(os.getpid).result(timeout=60)
                break
            except BrokenProcessPool:
                assert time.monotonic() < deadline
        assert replacement != worker
        assert pool.submit(os.getpid).result(timeout=60) == replacement
    finally:
        pool.shutdown(cancel_futures=True)


async def test_a_feed_whose_worker_died_is_no_failure_of_the_feed(
    server: FeedServer, session_factory: SessionFactory
) -> None:
    story = replace(KAZAKH_GRAIN, link=server.url("/news/grain"))
    server.document("/grain.xml", rss("Омские новости", [story]))
    await add_feeds(session_factory, server.url("/grain.xml"))
    # Every process of this pool dies as it starts, as one killed under its work would.
    dying = RespawningPool(lambda: spawn_pool(1, os._exit, (1,)), "test worker")
    try:
        (outcome,) = await IngestPipeline(session_factory, None, CONFIG, executor=dying).run_once()
    finally:
        dying.shutdown()

    assert (outcome.status, outcome.error) == ("failed", WORKER_DIED)
    async with session_factory() as session:
        (feed,) = await feed_repo.list_feeds(session)
    assert feed.consecutive_failures == 0 and feed.last_error is None
    # Still due: the next poll, with a worker that lives, stores the article.
    pool = create_ingest_pool(0.5, processes=1)
    try:
        (again,) = await IngestPipeline(session_factory, None, CONFIG, executor=pool).run_once()
    finally:
        pool.shutdown(cancel_futures=True)
    assert (again.status, again.new_items) == ("new", 1)
