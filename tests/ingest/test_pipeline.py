"""The pipeline against a real HTTP server on 127.0.0.1 and a migrated database."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.config import IngestConfig
from ingest.fetch import Fetcher, FetchError, HostLimiter, create_http_session
from ingest.pipeline import IngestPipeline, probe_feed
from ingest.report import FeedOutcome
from storage import feeds as feed_repo
from storage.db import create_engine, create_session_factory, sqlite_file_path
from storage.feeds import FeedRecord
from storage.guard import STORE_LOST, StoreWatch
from storage.models import Article, ArticleTag, Feed
from storage.types import utcnow
from tagging import MAX_ARTICLE_CHARACTERS, Tagger, TagResult
from tests.ingest.feed_server import FeedServer
from tests.ingest.parsing_samples import BILLION_LAUGHS
from tests.ingest.stories import (
    ARTICLE_PAGE,
    BELARUS_TRACTORS,
    CITY_PARK,
    KAZAKH_GRAIN,
    UZBEK_TEXTILE,
    Story,
    rss,
)
from tests.support.databases import fresh_database

# The feed server listens on 127.0.0.1. The timeout is far above what a local fetch takes
# even with the suite's workers sharing the machine; tests about timeouts set their own.
CONFIG = IngestConfig(
    timeout=5.0, poll_interval=timedelta(minutes=15), allow_private_addresses=True
)
START = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

SessionFactory = async_sessionmaker[AsyncSession]


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def add_feeds(
    session_factory: SessionFactory, *urls: str, fetch_full_text: bool = True
) -> list[int]:
    async with session_factory() as session:
        ids = [
            (await feed_repo.add_feed(session, url, fetch_full_text=fetch_full_text))[0].id
            for url in urls
        ]
        await session.commit()
    return ids


async def feed(session_factory: SessionFactory, feed_id: int) -> FeedRecord:
    async with session_factory() as session:
        record = await feed_repo.get_feed(session, feed_id)
    assert record is not None
    return record


async def articles(session_factory: SessionFactory) -> list[Article]:
    async with session_factory() as session:
        return list(await session.scalars(select(Article).order_by(Article.id)))


def by_url(outcomes: list[FeedOutcome]) -> dict[str, FeedOutcome]:
    return {outcome.url: outcome for outcome in outcomes}


async def test_good_feeds_ingest_then_answer_304_to_etag_and_last_modified(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/etag.xml", rss("Омские новости", [UZBEK_TEXTILE, CITY_PARK]), etag='"v1"')
    server.document(
        "/modified.xml",
        rss("Второе издание", [BELARUS_TRACTORS]),
        last_modified="Wed, 30 Apr 2025 10:00:00 GMT",
        gzipped=True,
    )
    etag_id, modified_id = await add_feeds(
        session_factory, server.url("/etag.xml"), server.url("/modified.xml")
    )
    clock = Clock()
    pipeline = IngestPipeline(session_factory, tagger, CONFIG, clock=clock)
    progress: list[FeedOutcome] = []

    first = await pipeline.run_once(due_only=False, on_progress=progress.append)

    assert [(o.status, o.new_items, o.error) for o in first] == [("new", 2, None), ("new", 1, None)]
    assert {o.feed_id for o in progress} == {etag_id, modified_id}
    stored = await articles(session_factory)
    assert [a.title for a in stored].count(UZBEK_TEXTILE.title) == 1
    textile = next(a for a in stored if a.title == UZBEK_TEXTILE.title)
    assert textile.source == "Омские новости"
    assert textile.published_at == datetime(2025, 4, 30, 7, 0, tzinfo=UTC)
    assert "соглашение" in textile.search_lemmas.split()
    async with session_factory() as session:
        tags = set(
            await session.execute(
                select(ArticleTag.kind, ArticleTag.value).where(ArticleTag.article_id == textile.id)
            )
        )
    assert ("country", "UZ") in tags
    record = await feed(session_factory, etag_id)
    assert record.etag == '"v1"' and record.total_items == 2 and record.title == "Омские новости"
    assert START < record.next_check_at <= START + CONFIG.poll_interval  # type: ignore[operator]
    assert server.seen.headers["/etag.xml"][0]["User-Agent"] == CONFIG.user_agent

    clock.now += timedelta(minutes=20)
    second = await pipeline.run_once()

    assert [(o.status, o.new_items) for o in second] == [("unchanged", 0), ("unchanged", 0)]
    assert server.seen.headers["/etag.xml"][1]["If-None-Match"] == '"v1"'
    assert (
        server.seen.headers["/modified.xml"][1]["If-Modified-Since"]
        == "Wed, 30 Apr 2025 10:00:00 GMT"
    )
    record = await feed(session_factory, modified_id)
    assert record.last_success_at == clock.now and record.consecutive_failures == 0
    assert len(await articles(session_factory)) == 3


async def test_unchanged_body_without_validators_is_not_parsed_again(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/plain.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    await add_feeds(session_factory, server.url("/plain.xml"))
    pipeline = IngestPipeline(session_factory, tagger, CONFIG)

    await pipeline.run_once(due_only=False)
    second = await pipeline.run_once(due_only=False)

    assert server.seen.hits["/plain.xml"] == 2
    assert second[0].status == "unchanged" and second[0].seen_items == 0


async def test_bad_feeds_are_recorded_and_never_stop_the_good_ones(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/good-1.xml", rss("Омские новости", [UZBEK_TEXTILE]))
    server.document("/good-2.xml", rss("Второе издание", [BELARUS_TRACTORS]))
    server.stall("/slow.xml", 10)
    server.status("/missing.xml", 404)
    server.status("/crash.xml", 500)
    server.redirect("/loop-a.xml", "/loop-b.xml")
    server.redirect("/loop-b.xml", "/loop-a.xml")
    page = "<!DOCTYPE html><html><body><h1>Омские новости</h1></body></html>"
    server.document("/page.html", page.encode(), content_type="text/html; charset=utf-8")
    server.document("/broken.xml", b'<?xml version="1.0"?><rss><channel><title>\xd0\x9e')
    server.document("/bomb.xml", BILLION_LAUGHS.encode())
    server.endless("/huge.xml", 50 * 1024 * 1024)
    paths = [
        "/good-1.xml",
        "/slow.xml",
        "/missing.xml",
        "/crash.xml",
        "/loop-a.xml",
        "/page.html",
        "/broken.xml",
        "/bomb.xml",
        "/huge.xml",
        "/good-2.xml",
    ]
    ids = await add_feeds(session_factory, *(server.url(path) for path in paths))
    # Long enough for 10 MB of /huge.xml to reach its cap on a busy machine (a test run in
    # several workers), short of /slow.xml's stall.
    config = replace(CONFIG, timeout=3.0)
    pipeline = IngestPipeline(session_factory, tagger, config, clock=Clock())

    outcomes = await pipeline.run_once()

    results = {path: outcome for path, outcome in zip(paths, outcomes, strict=True)}
    assert results["/good-1.xml"].status == "new" and results["/good-1.xml"].new_items == 1
    assert results["/good-2.xml"].status == "new" and results["/good-2.xml"].new_items == 1
    expected_errors = {
        "/slow.xml": "timed out after 3 s",
        "/missing.xml": "HTTP 404 Not Found",
        "/crash.xml": "HTTP 500 Internal Server Error",
        "/loop-a.xml": "redirect loop",
        "/page.html": "not a feed (HTML page)",
        "/broken.xml": "broken XML",
        "/huge.xml": "body too large: cut at the 10 MB cap",
    }
    for path, error in expected_errors.items():
        outcome = results[path]
        assert outcome.status == "failed", path
        assert outcome.error is not None and outcome.error.startswith(error), outcome.error
        record = await feed(session_factory, outcome.feed_id)
        assert record.last_error == outcome.error
        assert record.consecutive_failures == 1 and record.last_error_at == START
        assert record.next_check_at is not None and record.next_check_at > START
        assert record.active
    # The bomb's entities stay unexpanded; its ordinary item is kept.
    bomb = results["/bomb.xml"]
    assert bomb.status == "new" and bomb.new_items == 2 and bomb.warning
    stored = {article.url: article for article in await articles(session_factory)}
    assert all(len(article.full_text) < 1000 for article in stored.values())
    assert not any("lollol" in article.full_text for article in stored.values())
    # The slow feed cost only its own slot and its own timeout.
    assert results["/slow.xml"].seconds < 5  # the timeout ended it, not the 10 s stall
    assert results["/good-1.xml"].seconds < 2 and results["/good-2.xml"].seconds < 2
    good = await feed(session_factory, ids[0])
    assert good.last_error is None and good.total_items == 1


async def test_declared_oversized_body_is_refused_without_reading_it(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.endless("/declared.xml", 20 * 1024 * 1024, declare_length=True)
    config = replace(CONFIG, max_body_bytes=1024 * 1024)
    async with create_http_session(config) as http:
        fetcher = Fetcher(http, config, HostLimiter(2))
        with pytest.raises(FetchError, match="20 MB declared, cap 1 MB"):
            await fetcher.fetch(server.url("/declared.xml"))


async def test_items_without_link_or_date_duplicates_and_future_dates(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    no_link_no_url_guid = Story("Без ссылки", "У новости нет адреса.", None, guid="item-17")
    no_link_url_guid = replace(
        KAZAKH_GRAIN, link=None, guid="https://omsk-news.example/news/grain-guid"
    )
    undated = replace(CITY_PARK, date=None)
    future = replace(BELARUS_TRACTORS, date="Sat, 10 May 2025 10:00:00 +0300")
    duplicate_guid = replace(UZBEK_TEXTILE, guid="same-guid")
    server.document(
        "/quirks.xml",
        rss(
            "Омские новости",
            [
                duplicate_guid,
                duplicate_guid,
                no_link_no_url_guid,
                no_link_url_guid,
                undated,
                future,
            ],
        ),
    )
    (feed_id,) = await add_feeds(session_factory, server.url("/quirks.xml"))
    pipeline = IngestPipeline(session_factory, tagger, CONFIG, clock=Clock())

    (outcome,) = await pipeline.run_once()

    assert outcome.status == "new" and outcome.new_items == 4
    assert dict(outcome.skip_reasons) == {"no link": 1, "duplicate in feed": 1}
    assert outcome.skipped_items == 2
    stored = {article.title: article for article in await articles(session_factory)}
    assert stored[KAZAKH_GRAIN.title].url == "https://omsk-news.example/news/grain-guid"
    assert stored[CITY_PARK.title].published_at == START
    assert stored[BELARUS_TRACTORS.title].published_at == START
    assert "Без ссылки" not in stored
    assert (await feed(session_factory, feed_id)).total_items == 4


async def test_teaser_only_feed_gets_the_article_page_text(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    lead = "Омская область и Бухарская область Узбекистана договорились о прямых поставках."
    teaser = Story(
        "Омск и Бухара создадут рабочую группу по торговле",
        lead,
        server.url("/news/bukhara?utm_source=rss"),
    )
    server.document("/teasers.xml", rss("Омские новости", [teaser]))
    page = ARTICLE_PAGE.format(title=teaser.title, lead=lead)
    server.document("/news/bukhara", page.encode(), content_type="text/html; charset=utf-8")
    await add_feeds(session_factory, server.url("/teasers.xml"))
    pipeline = IngestPipeline(session_factory, tagger, CONFIG)

    (outcome,) = await pipeline.run_once()

    assert outcome.new_items == 1
    (article,) = await articles(session_factory)
    assert article.url == server.url("/news/bukhara")
    assert article.summary == lead
    assert "хлопковые ткани, сухофрукты и овощи" in article.full_text
    assert "запланирована в Бухаре в сентябре" in article.full_text
    for noise in ("Главная", "Читайте также", "хоккеисты", "Погода в Омске", "Все права"):
        assert noise not in article.full_text
    assert server.seen.hits["/news/bukhara"] == 1


async def test_full_text_fetching_can_be_switched_off_per_feed(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    teaser = replace(KAZAKH_GRAIN, link=server.url("/news/grain"))
    server.document("/teasers.xml", rss("Омские новости", [teaser]))
    server.document("/news/grain", b"<html><body><p>page</p></body></html>")
    await add_feeds(session_factory, server.url("/teasers.xml"), fetch_full_text=False)

    await IngestPipeline(session_factory, tagger, CONFIG).run_once()

    (article,) = await articles(session_factory)
    assert article.full_text == article.summary == KAZAKH_GRAIN.text
    assert server.seen.hits["/news/grain"] == 0


async def test_the_same_article_from_two_feeds_is_stored_once(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    tracked = replace(UZBEK_TEXTILE, link=f"{UZBEK_TEXTILE.link}?utm_source=yxnews&from=main")
    reposted = replace(KAZAKH_GRAIN, link="https://mirror.example/grain-copy")
    server.document("/first.xml", rss("Омские новости", [UZBEK_TEXTILE, KAZAKH_GRAIN]))
    server.document("/second.xml", rss("Зеркало", [tracked, reposted, CITY_PARK]))
    await add_feeds(session_factory, server.url("/first.xml"), server.url("/second.xml"))

    outcomes = await IngestPipeline(session_factory, tagger, CONFIG).run_once()

    assert sum(outcome.new_items for outcome in outcomes) == 3
    assert sum(outcome.seen_items for outcome in outcomes) == 2
    titles = [article.title for article in await articles(session_factory)]
    assert sorted(titles) == sorted([UZBEK_TEXTILE.title, KAZAKH_GRAIN.title, CITY_PARK.title])


async def test_backoff_grows_and_a_long_failing_feed_is_deactivated(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.status("/down.xml", 503)
    (feed_id,) = await add_feeds(session_factory, server.url("/down.xml"))
    config = replace(CONFIG, max_failures_before_deactivation=10)
    clock = Clock(utcnow())
    pipeline = IngestPipeline(session_factory, tagger, config, clock=clock)

    delays: list[timedelta] = []
    for attempt in range(1, 11):
        (outcome,) = await pipeline.run_once()
        record = await feed(session_factory, feed_id)
        assert record.consecutive_failures == attempt
        assert record.next_check_at is not None
        delays.append(record.next_check_at - clock.now)
        if attempt < 10:
            assert record.active and not outcome.deactivated
        clock.now = record.next_check_at

    # 15 min, 30 min, 1 h, … doubling (±10 % jitter) up to the one-day cap.
    assert timedelta(minutes=13) <= delays[0] <= timedelta(minutes=17)
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:8]))
    assert all(delay <= timedelta(hours=24) for delay in delays)
    assert delays[-1] >= timedelta(hours=21)
    assert outcome.deactivated
    assert "deactivated after 10 consecutive failures" in str(outcome.error)
    assert not (await feed(session_factory, feed_id)).active
    clock.now += timedelta(days=2)
    assert await pipeline.run_once() == []


async def test_a_burst_of_failures_within_a_day_does_not_deactivate(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.status("/down.xml", 500)
    (feed_id,) = await add_feeds(session_factory, server.url("/down.xml"))
    config = replace(CONFIG, max_failures_before_deactivation=3)
    pipeline = IngestPipeline(session_factory, tagger, config, clock=Clock())
    for _ in range(5):
        await pipeline.run_once(due_only=False)
    record = await feed(session_factory, feed_id)
    assert record.consecutive_failures == 5 and record.active


async def test_backoff_is_capped_at_a_day(session_factory: SessionFactory, tagger: Tagger) -> None:
    pipeline = IngestPipeline(session_factory, tagger, CONFIG)
    assert pipeline.failure_delay(30) <= timedelta(hours=24)
    assert pipeline.failure_delay(30) >= timedelta(hours=21)


async def test_concurrency_is_bounded_per_host(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    paths = [f"/slow-{n}.xml" for n in range(6)]
    for path in paths:
        server.document(path, rss("Омские новости", []), delay=0.15)
    await add_feeds(session_factory, *(server.url(path) for path in paths))
    config = replace(CONFIG, concurrency=16, per_host=2)

    outcomes = await IngestPipeline(session_factory, tagger, config).run_once()

    assert all(outcome.status == "unchanged" for outcome in outcomes)
    assert server.seen.max_in_flight == 2


async def test_concurrency_is_bounded_overall(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    paths = [f"/slow-{n}.xml" for n in range(6)]
    for path in paths:
        server.document(path, rss("Омские новости", []), delay=0.15)
    await add_feeds(session_factory, *(server.url(path) for path in paths))
    config = replace(CONFIG, concurrency=3, per_host=8)

    await IngestPipeline(session_factory, tagger, config).run_once()

    assert server.seen.max_in_flight == 3


async def test_redirects_are_followed_up_to_the_limit(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    server.redirect("/moved.xml", "/feed.xml", status=301)
    for hop in range(7):
        server.redirect(f"/hop-{hop}.xml", f"/hop-{hop + 1}.xml")
    await add_feeds(session_factory, server.url("/moved.xml"), server.url("/hop-0.xml"))

    moved, chain = await IngestPipeline(session_factory, tagger, CONFIG).run_once()

    assert moved.status == "new" and moved.new_items == 1
    assert chain.status == "failed" and chain.error == "too many redirects (more than 5)"


async def test_probe_feed_reports_without_storing(
    server: FeedServer, session_factory: SessionFactory
) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN, CITY_PARK]))
    server.document("/page.html", b"<html><body>x</body></html>", content_type="text/html")

    good = await probe_feed(server.url("/feed.xml"), CONFIG)
    page = await probe_feed(server.url("/page.html"), CONFIG)

    assert (good.ok, good.title, good.items, good.error) == (True, "Омские новости", 2, None)
    assert (page.ok, page.error) == (False, "not a feed (HTML page)")
    assert await articles(session_factory) == []


async def test_a_page_about_something_else_leaves_the_teaser(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    teaser = replace(KAZAKH_GRAIN, link=server.url("/news/grain"))
    server.document("/teasers.xml", rss("Омские новости", [teaser]))
    consent = (
        "<html><body><main><p>Мы используем файлы cookie, чтобы сайт работал лучше. "
        "Продолжая пользоваться сайтом, вы соглашаетесь с политикой конфиденциальности "
        "и условиями обработки персональных данных. Настроить cookie можно в браузере."
        "</p></main></body></html>"
    )
    server.document("/news/grain", consent.encode(), content_type="text/html; charset=utf-8")
    await add_feeds(session_factory, server.url("/teasers.xml"))

    await IngestPipeline(session_factory, tagger, CONFIG).run_once()

    (article,) = await articles(session_factory)
    assert server.seen.hits["/news/grain"] == 1
    assert article.full_text == KAZAKH_GRAIN.text


async def test_gzip_bomb_is_cut_at_the_cap_after_decompression(server: FeedServer) -> None:
    server.document("/bomb.xml.gz", b"<rss>" + b" " * (20 * 1024 * 1024), gzipped=True)
    config = replace(CONFIG, max_body_bytes=1024 * 1024)
    async with create_http_session(config) as http:
        fetcher = Fetcher(http, config, HostLimiter(2))
        with pytest.raises(FetchError, match="cut at the 1 MB cap"):
            await fetcher.fetch(server.url("/bomb.xml.gz"))


async def test_an_oversized_item_is_stored_and_tagged_within_the_length_cap(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    sentence = (
        "Делегация Омской области посетила Узбекистан, в Бухаре стороны подписали "
        "соглашение о поставках зерна. "
    )
    text = sentence * (2 * MAX_ARTICLE_CHARACTERS // len(sentence))
    server.document("/long.xml", rss("Омские новости", [replace(UZBEK_TEXTILE, text=text)]))
    await add_feeds(session_factory, server.url("/long.xml"))

    (outcome,) = await IngestPipeline(session_factory, tagger, CONFIG).run_once()

    assert outcome.new_items == 1
    (article,) = await articles(session_factory)
    assert article.summary == article.full_text
    assert len(article.title) + len(article.full_text) <= MAX_ARTICLE_CHARACTERS
    assert len(article.title) + len(article.full_text) > MAX_ARTICLE_CHARACTERS - 50
    assert text.startswith(article.full_text) and text[len(article.full_text)] == " "
    async with session_factory() as session:
        tags = set(await session.scalars(select(ArticleTag.value)))
    assert "UZ" in tags


class HeldTagger(Tagger):
    """Holds the first batch it is given until released, and records every batch's size."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def tag_many(self, items: Iterable[tuple[str | None, str]]) -> list[TagResult]:
        batch = list(items)
        self.batch_sizes.append(len(batch))
        self.holding.set()
        self.release.wait(timeout=10)
        self.finished.set()
        return [TagResult((), (), ()) for _ in batch]


async def test_a_stop_waits_for_the_batch_being_tagged_not_for_the_whole_feed(
    server: FeedServer, session_factory: SessionFactory
) -> None:
    sentence = "Делегация Омской области посетила Ташкент. "
    text = sentence * (MAX_ARTICLE_CHARACTERS * 6 // 10 // len(sentence))
    stories = [
        replace(
            UZBEK_TEXTILE,
            title=f"{UZBEK_TEXTILE.title}: часть {number}",
            text=text,
            link=f"{UZBEK_TEXTILE.link}-{number}",
        )
        for number in (1, 2, 3)
    ]
    server.document("/long.xml", rss("Омские новости", stories))
    await add_feeds(session_factory, server.url("/long.xml"))
    tagger = HeldTagger()
    polling = asyncio.create_task(IngestPipeline(session_factory, tagger, CONFIG).run_once())
    assert await asyncio.to_thread(tagger.holding.wait, 10)

    polling.cancel()
    tagger.release.set()

    with pytest.raises(asyncio.CancelledError):
        await polling
    assert await asyncio.to_thread(tagger.finished.wait, 10)
    assert tagger.batch_sizes == [1]
    assert await articles(session_factory) == []


async def test_a_store_lost_during_a_poll_fails_its_feeds_without_a_traceback(
    server: FeedServer, tagger: Tagger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.document("/one.xml", rss("Омские новости", [UZBEK_TEXTILE]))
    server.document("/two.xml", rss("Второе издание", [BELARUS_TRACTORS]))
    async with fresh_database("sqlite", tmp_path) as url:
        path = sqlite_file_path(url)
        assert path is not None
        engine = create_engine(url)
        watch = StoreWatch(path)
        watch.install(engine)
        try:
            factory = create_session_factory(engine)
            await add_feeds(
                factory, server.url("/one.xml"), server.url("/two.xml"), fetch_full_text=False
            )
            path.unlink()
            assert not watch.check()
            pipeline = IngestPipeline(factory, tagger, CONFIG, clock=Clock())
            with caplog.at_level(logging.INFO, logger="ingest"):
                outcomes = await pipeline.run_once(due_only=False)
        finally:
            await engine.dispose()
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all(o.error is not None and o.error.startswith(STORE_LOST) for o in outcomes)
    assert server.seen.hits["/one.xml"] == server.seen.hits["/two.xml"] == 1
    from_ingest = [r for r in caplog.records if r.name.startswith("ingest")]
    assert [r for r in from_ingest if r.exc_info or r.levelno >= logging.WARNING] == []


async def test_a_slow_feed_does_not_hold_back_a_feed_falling_due_meanwhile(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/slow.xml", rss("Медленная лента", [BELARUS_TRACTORS]), delay=1.5)
    server.document("/fast.xml", rss("Быстрая лента", [UZBEK_TEXTILE]))
    server.document("/later.xml", rss("Поздняя лента", [KAZAKH_GRAIN]))
    slow_id, fast_id, later_id = await add_feeds(
        session_factory,
        server.url("/slow.xml"),
        server.url("/fast.xml"),
        server.url("/later.xml"),
        fetch_full_text=False,
    )
    started = asyncio.get_running_loop().time()

    def clock() -> datetime:
        return START + timedelta(seconds=asyncio.get_running_loop().time() - started)

    async with session_factory() as session:
        # Due half a second in: after the first claim, long before the slow feed ends.
        await session.execute(
            update(Feed)
            .where(Feed.id == later_id)
            .values(next_check_at=START + timedelta(seconds=0.5))
        )
        await session.commit()
    pipeline = IngestPipeline(session_factory, tagger, replace(CONFIG, timeout=5.0), clock=clock)

    outcomes: list[FeedOutcome] = []
    await pipeline.run_claimed(owner="worker-1", reclaim_seconds=0.1, on_progress=outcomes.append)

    assert [outcome.feed_id for outcome in outcomes] == [fast_id, later_id, slow_id]
    assert all(outcome.status == "new" for outcome in outcomes)
