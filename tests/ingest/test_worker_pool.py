"""Parsing, page extraction and tagging in worker processes give what threads give; the
workers end with the process that started them, and one that died is replaced; a feed
that kills its worker every time is found and charged, and the other feeds go on."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.processes import RespawningPool, spawn_pool
from ingest import workers
from ingest.facts_backfill import new_facts
from ingest.parse import ParsedFeed
from ingest.pipeline import FEED_KILLED_WORKER, WORKER_DIED, IngestPipeline, _WorkerGate
from ingest.workers import create_ingest_pool
from storage import facts as fact_repo
from storage import feeds as feed_repo
from storage.models import Article, ArticleTag
from storage.types import utcnow
from tagging import Tagger
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import (
    ARTICLE_PAGE,
    BELARUS_TRACTORS,
    CITY_PARK,
    KAZAKH_GRAIN,
    UZBEK_TEXTILE,
    Story,
    rss,
)
from tests.ingest.test_pipeline import CONFIG, SessionFactory, add_feeds
from tests.support.commands import PROJECT_ROOT, run_python
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


_WORKER_LOGS = """
import logging
from core.logs import configure_logging
from core.processes import spawn_pool
configure_logging("INFO")
pool = spawn_pool(1)
pool.submit(logging.getLogger("delivery.planner").warning, "chat %s: no schedule", 7).result()
pool.submit(logging.getLogger("delivery.planner").info, "planned %s chats", 500).result()
pool.shutdown()
"""


def test_a_worker_logs_as_the_process_that_started_it(tmp_path: Path) -> None:
    lines = run_python(_WORKER_LOGS, tmp_path).stderr.splitlines()
    # The parent's format (time, level, logger) and level (INFO), not a bare message.
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING delivery.planner: chat 7: no schedule", lines[0]
    )
    assert lines[1].endswith(" INFO delivery.planner: planned 500 chats")


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
        assert pool.restarts == 1  # digestbot_worker_restarts_total
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


# Feeds ending with this comment kill the worker that parses them (see below).
_DEADLY = b"<!-- the worker dies on this feed -->"


def _start_worker_that_dies_on_deadly_feeds() -> None:
    """An ingest worker whose parse ends the process on a feed marked _DEADLY, as a crash
    in a parser written in C, or the out-of-memory killer on a huge feed, would."""
    workers._start_worker(0.5)
    parse = workers.parse

    def parse_or_die(
        body: bytes,
        url: str,
        content_type: str | None,
        fetched_at: datetime,
        future_tolerance: timedelta,
    ) -> ParsedFeed:
        if _DEADLY in body:
            os._exit(1)
        return parse(body, url, content_type, fetched_at, future_tolerance)

    workers.parse = parse_or_die


async def test_a_feed_that_kills_its_worker_every_time_is_charged_and_the_others_go_on(
    server: FeedServer, session_factory: SessionFactory
) -> None:
    deadly = replace(UZBEK_TEXTILE, link=server.url("/news/deadly"))
    server.document("/deadly.xml", rss("Омские новости", [deadly]) + _DEADLY)
    healthy_urls = []
    for number, story in enumerate((KAZAKH_GRAIN, CITY_PARK, BELARUS_TRACTORS)):
        path = f"/healthy-{number}.xml"
        server.document(path, rss("Омские новости", [replace(story, link=server.url(path))]))
        healthy_urls.append(server.url(path))
    deadly_id, *healthy_ids = await add_feeds(
        session_factory, server.url("/deadly.xml"), *healthy_urls, fetch_full_text=False
    )
    pool = RespawningPool(
        lambda: spawn_pool(1, _start_worker_that_dies_on_deadly_feeds, ()), "test worker"
    )
    pipeline = IngestPipeline(session_factory, None, CONFIG, executor=pool)
    started = utcnow()
    try:
        first = {outcome.feed_id: outcome for outcome in await pipeline.run_once()}
        # Nobody knows yet which feed's work killed the worker: those in flight are not
        # charged and stay due.
        assert (first[deadly_id].status, first[deadly_id].error) == ("failed", WORKER_DIED)
        for feed_id in healthy_ids:
            assert first[feed_id].status == "new" or first[feed_id].error == WORKER_DIED
        # The next poll runs each suspect's work alone in the pool: the deadly feed is
        # charged, the others are stored.
        second = {outcome.feed_id: outcome for outcome in await pipeline.run_once()}
        assert (second[deadly_id].status, second[deadly_id].error) == (
            "failed",
            FEED_KILLED_WORKER,
        )
        assert all(second[feed_id].status == "new" for feed_id in healthy_ids if feed_id in second)
        # And every time after it, with the usual backoff of a failing feed.
        third = {o.feed_id: o for o in await pipeline.run_once(due_only=False)}
        assert third[deadly_id].error == FEED_KILLED_WORKER
        assert all(third[feed_id].status == "unchanged" for feed_id in healthy_ids)
    finally:
        pool.shutdown(cancel_futures=True)

    async with session_factory() as session:
        feeds = {feed.id: feed for feed in await feed_repo.list_feeds(session)}
        stored = list(await session.scalars(select(Article.feed_id)))
    assert Counter(stored) == Counter(healthy_ids)
    assert feeds[deadly_id].consecutive_failures == 2
    assert feeds[deadly_id].last_error == FEED_KILLED_WORKER
    next_check = feeds[deadly_id].next_check_at
    assert next_check is not None and next_check > started + CONFIG.poll_interval
    assert all(feeds[feed_id].consecutive_failures == 0 for feed_id in healthy_ids)


async def test_work_alone_in_the_pool_waits_for_shared_work_and_holds_new_work_back() -> None:
    gate = _WorkerGate()
    order: list[str] = []
    first_shared_in = asyncio.Event()
    release_first = asyncio.Event()

    async def shared(name: str, release: asyncio.Event | None = None) -> None:
        async with gate.shared():
            order.append(f"{name} in")
            if release is not None:
                first_shared_in.set()
                await release.wait()
            order.append(f"{name} out")

    async def alone() -> None:
        async with gate.alone():
            order.append("alone in")
            await asyncio.sleep(0)
            order.append("alone out")

    first = asyncio.create_task(shared("first", release_first))
    await first_shared_in.wait()
    suspect = asyncio.create_task(alone())
    await asyncio.sleep(0.01)
    later = asyncio.create_task(shared("later"))
    await asyncio.sleep(0.01)
    assert order == ["first in"]  # the suspect waits, and new work waits behind it
    release_first.set()
    await asyncio.gather(first, suspect, later)
    assert order == ["first in", "first out", "alone in", "alone out", "later in", "later out"]
