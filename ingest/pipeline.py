"""Feed ingestion: fetch, parse, clean, dedupe, complete teasers, tag and store.

Each feed is handled on its own: a failing, slow or hostile feed is recorded against
that feed (with backoff) and never delays or breaks the others beyond its own slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest import workers
from ingest.config import IngestConfig
from ingest.fetch import PAGE_ACCEPT, Fetcher, FetchError, HostLimiter, create_http_session
from ingest.fulltext import extract_article_text, matches_title
from ingest.parse import FeedItem, FeedParseError, ParsedFeed, parse_feed, source_name
from ingest.report import FeedOutcome, OutcomeStatus
from storage import articles as article_repo
from storage import facts as fact_repo
from storage import feeds as feed_repo
from storage.articles import NewArticle, TagValue
from storage.feeds import FeedRecord
from storage.guard import StoreUnavailable
from storage.types import utcnow
from tagging import MAX_ARTICLE_CHARACTERS, Tagger, lemmatize_for_search, within_article_limit

logger = logging.getLogger(__name__)

# A teaser this long is taken as the article's text; no page is fetched for it.
LONG_TEASER_CHARACTERS = 1000
# How long an ingest worker's claim on a feed lasts (storage.feeds.claim_due_feeds): past
# it, a feed whose worker died is claimed by another.
FEED_CLAIM_LEASE = timedelta(minutes=5)
# How often a worker polling feeds looks for feeds that fell due meanwhile.
RECLAIM_SECONDS = 5.0
# Items go to the worker thread in batches of about this much text, so that a stop waits
# for one batch (a fraction of a second of tagging) rather than for a whole feed.
ANALYSIS_BATCH_CHARACTERS = MAX_ARTICLE_CHARACTERS
WORKER_DIED = "the parse-and-tag worker process stopped; the feed is tried again"
FEED_KILLED_WORKER = (
    "the parse-and-tag worker process died while it handled this feed alone "
    "(out of memory, or a crash in parsing); the feed is tried again later"
)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    title: str | None
    items: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Analysis:
    """What tagging gives a new item: its tags, its search lemmas and its facts."""

    tags: tuple[TagValue, ...]
    search_lemmas: str
    facts: tuple[fact_repo.NewFact, ...] = ()


class _WorkerGate:
    """Admission of calls to the worker processes: they share the pool, except those
    that must run alone there (a suspect feed's). A call alone waits for the shared calls
    under way to end and holds new ones back until it ends."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._shared = 0
        self._alone = False
        self._waiting_alone = 0

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._shared += 1
        try:
            yield
        finally:
            async with self._changed:
                self._shared -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        async with self._changed:
            self._waiting_alone += 1
            try:
                await self._changed.wait_for(lambda: not self._alone and not self._shared)
            finally:
                self._waiting_alone -= 1
                self._changed.notify_all()
            self._alone = True
        try:
            yield
        finally:
            async with self._changed:
                self._alone = False
                self._changed.notify_all()


class _Run:
    """What one run's feeds share: the HTTP client, limits, the write lock and the gate
    to the worker processes."""

    def __init__(self, http: aiohttp.ClientSession, config: IngestConfig) -> None:
        self.fetcher = Fetcher(http, config, HostLimiter(config.per_host))
        self.feed_slots = asyncio.Semaphore(config.concurrency)
        self.page_slots = asyncio.Semaphore(config.full_text_concurrency)
        # Dedupe is checked again inside the write transaction; serialising this
        # process's writes makes check-then-insert atomic for concurrent feeds.
        self.write_lock = asyncio.Lock()
        self.worker_gate = _WorkerGate()


def _within_article_limit(item: FeedItem) -> FeedItem:
    """The item as it is stored and tagged: title and texts cut to the tagger's limit."""
    title, full_text = within_article_limit(item.title, item.full_text)
    _, summary = within_article_limit(item.title, item.summary)
    if (title, full_text, summary) == (item.title, item.full_text, item.summary):
        return item
    return replace(item, title=title, full_text=full_text, summary=summary)


def _analysis_batches(items: Sequence[FeedItem]) -> Iterator[Sequence[FeedItem]]:
    """Consecutive runs of items of at most ANALYSIS_BATCH_CHARACTERS of text, or one item."""
    batch: list[FeedItem] = []
    characters = 0
    for item in items:
        size = len(item.title) + len(item.text)
        if batch and characters + size > ANALYSIS_BATCH_CHARACTERS:
            yield batch
            batch, characters = [], 0
        batch.append(item)
        characters += size
    if batch:
        yield batch


class IngestPipeline:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tagger: Tagger | None,
        config: IngestConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        lemmatize: Callable[[str], str] = lemmatize_for_search,
        executor: Executor | None = None,
    ) -> None:
        """With `executor` (ingest.workers.create_ingest_pool), parsing, page extraction and
        tagging run in its worker processes, each with a tagger of its own, and `tagger` is
        not used; without it they run in threads of this process with `tagger`."""
        self._session_factory = session_factory
        self._executor = executor
        self._tagger = tagger
        self._lemmatize = lemmatize
        self._config = config
        self._clock = clock
        self._random = rng or random.Random()
        # Feeds that were in flight when a worker process died: each may be the cause, so
        # their work runs alone in the pool until it succeeds once. A feed that kills the
        # worker when alone is charged with the failure (and backs off, as any failing
        # feed does) instead of taking the other feeds' work down at every poll.
        self._suspects: set[int] = set()

    @property
    def config(self) -> IngestConfig:
        return self._config

    @property
    def executor(self) -> Executor | None:
        """Where the CPU-bound steps run: worker processes, or None for this process's
        threads."""
        return self._executor

    async def run_once(
        self,
        *,
        due_only: bool = True,
        feed_ids: Collection[int] | None = None,
        on_progress: Callable[[FeedOutcome], None] | None = None,
        http_session: aiohttp.ClientSession | None = None,
    ) -> list[FeedOutcome]:
        """Polls the active feeds (only those due, unless `due_only` is False) once.

        Returns one outcome per feed, in feed order; `on_progress` is called as each
        feed finishes.
        """
        async with self._session_factory() as session:
            if due_only:
                feeds = await feed_repo.due_feeds(session, self._clock())
            else:
                feeds = await feed_repo.list_feeds(session, active_only=True)
        if feed_ids is not None:
            wanted = set(feed_ids)
            feeds = [feed for feed in feeds if feed.id in wanted]
        if not feeds:
            return []
        started = time.perf_counter()
        async with AsyncExitStack() as stack:
            if http_session is None:
                http_session = await stack.enter_async_context(create_http_session(self._config))
            run = _Run(http_session, self._config)
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._process(run, feed, on_progress)) for feed in feeds]
        outcomes = [task.result() for task in tasks]
        logger.info(
            "polled %d feeds in %.1f s: %d new articles, %d feeds failed",
            len(outcomes),
            time.perf_counter() - started,
            sum(outcome.new_items for outcome in outcomes),
            sum(outcome.status == "failed" for outcome in outcomes),
        )
        return outcomes

    async def run_claimed(
        self,
        *,
        owner: str,
        lease: timedelta = FEED_CLAIM_LEASE,
        on_progress: Callable[[FeedOutcome], None] | None = None,
        reclaim_seconds: float = RECLAIM_SECONDS,
    ) -> None:
        """Polls due feeds as one of several workers (PostgreSQL): claims them a few at a
        time, as slots free up, until none is due; feeds claimed by another worker are
        never fetched here. While nothing more is due and feeds are still being polled,
        it looks again every `reclaim_seconds`, so that a slow feed does not hold back
        feeds falling due meanwhile. `on_progress` gets each outcome as its feed finishes.

        With feeds falling due all the time this runs for as long as the worker does, so
        it keeps totals for its log line rather than every outcome."""
        started = time.perf_counter()
        polled = new_articles = failed = 0
        pending: set[asyncio.Task[FeedOutcome]] = set()
        limit = self._config.concurrency
        async with create_http_session(self._config) as http_session:
            run = _Run(http_session, self._config)
            try:
                while True:
                    feeds: list[FeedRecord] = []
                    if limit > 0:
                        async with self._session_factory() as session:
                            feeds = await feed_repo.claim_due_feeds(
                                session, self._clock(), owner=owner, lease=lease, limit=limit
                            )
                            await session.commit()
                    pending |= {
                        asyncio.ensure_future(self._process(run, feed, on_progress))
                        for feed in feeds
                    }
                    if not pending:
                        break
                    if limit > 0 and not feeds:
                        # Nothing more is due: look again after a while, not at every
                        # feed that finishes.
                        done, pending = await asyncio.wait(pending, timeout=reclaim_seconds)
                    else:
                        done, pending = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                    for task in done:
                        outcome = task.result()
                        polled += 1
                        new_articles += outcome.new_items
                        failed += outcome.status == "failed"
                    limit = self._config.concurrency - len(pending)
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if polled:
            logger.info(
                "polled %d feeds in %.1f s: %d new articles, %d feeds failed",
                polled,
                time.perf_counter() - started,
                new_articles,
                failed,
            )

    async def _process(
        self,
        run: _Run,
        feed: FeedRecord,
        on_progress: Callable[[FeedOutcome], None] | None,
    ) -> FeedOutcome:
        async with run.feed_slots:
            started = time.perf_counter()
            now = self._clock()
            try:
                outcome = await self._ingest(run, feed, now, started)
            except (FetchError, FeedParseError) as error:
                outcome = await self._fail(feed, now, str(error), started)
            except StoreUnavailable as error:
                # Not the feed's failure, and the store's watch already says it loudly:
                # nothing to record, nothing to log per feed.
                outcome = self._outcome(feed, "failed", started, error=str(error))
            except BrokenProcessPool:
                if feed.id in self._suspects:
                    # Its work ran alone in the pool, so the death was its own.
                    outcome = await self._fail(feed, now, FEED_KILLED_WORKER, started)
                else:
                    # Not the feed's failure, as far as anyone knows: the worker process
                    # died under it (killed, out of memory, or another feed's work) and the
                    # pool starts a new one. The feed stays due, a suspect.
                    self._suspects.add(feed.id)
                    outcome = self._outcome(feed, "failed", started, error=WORKER_DIED)
            except Exception as error:
                logger.exception("feed %s: unexpected error", feed.url)
                message = f"internal error: {type(error).__name__}: {error}"
                outcome = await self._fail(feed, now, message, started)
        if on_progress is not None:
            try:
                on_progress(outcome)
            except Exception:
                logger.exception("progress callback failed")
        return outcome

    async def _ingest(
        self, run: _Run, feed: FeedRecord, now: datetime, started: float
    ) -> FeedOutcome:
        fetched = await run.fetcher.fetch(
            feed.url, etag=feed.etag, last_modified=feed.last_modified
        )
        body_hash = hashlib.sha256(fetched.body).hexdigest() if not fetched.not_modified else None
        if fetched.not_modified or body_hash == feed.body_hash:
            async with self._session_factory() as session:
                await feed_repo.record_unchanged(
                    session,
                    feed.id,
                    now=now,
                    next_check_at=self._next_check_after_success(now),
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                )
                await session.commit()
            return self._outcome(feed, "unchanged", started)

        parsed = await self._parse(run, feed, fetched.body, fetched.url, fetched.content_type, now)
        if parsed.warning:
            logger.warning("feed %s: %s", feed.url, parsed.warning)
        if parsed.skipped:
            logger.info("feed %s: skipped items %s", feed.url, dict(parsed.skipped))
        fresh = await self._unknown_items(parsed.items)
        if fresh and feed.fetch_full_text:
            fresh = await self._complete_full_texts(run, feed, fresh)
        fresh = [_within_article_limit(item) for item in fresh]
        analyses: list[Analysis] = []
        for batch in _analysis_batches(fresh):
            # A stop cancels this task here: the batch in the worker thread runs to its end,
            # the later ones never start.
            analyses += await self._analyse(run, feed, batch)
        source = source_name(feed.title or parsed.title, feed.url)
        async with run.write_lock, self._session_factory() as session:
            new_items = await self._store(session, feed, fresh, analyses, source)
            await feed_repo.record_success(
                session,
                feed.id,
                now=now,
                next_check_at=self._next_check_after_success(now),
                new_items=new_items,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                body_hash=body_hash,
                title=parsed.title,
            )
            await session.commit()
        self._suspects.discard(feed.id)
        return self._outcome(
            feed,
            "new" if new_items else "unchanged",
            started,
            new_items=new_items,
            seen_items=len(parsed.items) - new_items,
            parsed=parsed,
        )

    async def _in_worker(self, run: _Run, feed: FeedRecord, function: Any, *args: Any) -> Any:
        """`function(*args)` in a worker process: alone there if the feed is a suspect."""
        loop = asyncio.get_running_loop()
        gate = run.worker_gate
        async with gate.alone() if feed.id in self._suspects else gate.shared():
            return await loop.run_in_executor(self._executor, function, *args)

    async def _parse(
        self,
        run: _Run,
        feed: FeedRecord,
        body: bytes,
        url: str,
        content_type: str | None,
        now: datetime,
    ) -> ParsedFeed:
        tolerance = self._config.future_date_tolerance
        if self._executor is not None:
            parsed: ParsedFeed = await self._in_worker(
                run, feed, workers.parse, body, url, content_type, now, tolerance
            )
            return parsed
        return await asyncio.to_thread(
            parse_feed,
            body,
            url=url,
            content_type=content_type,
            fetched_at=now,
            future_tolerance=tolerance,
        )

    async def _analyse(
        self, run: _Run, feed: FeedRecord, batch: Sequence[FeedItem]
    ) -> list[Analysis]:
        """Tags, search lemmas and facts of a batch of new items (ingest.workers)."""
        if self._executor is not None:
            results = await self._in_worker(run, feed, workers.analyse, list(batch))
        elif self._tagger is not None:
            results = await asyncio.to_thread(
                workers.analyse_with, self._tagger, self._lemmatize, batch
            )
        else:
            raise RuntimeError("an ingest pipeline needs a tagger or an executor")
        return [Analysis(tags, lemmas, facts) for tags, lemmas, facts in results]

    async def _extract(
        self, run: _Run, feed: FeedRecord, body: bytes, content_type: str | None, url: str
    ) -> str:
        if self._executor is not None:
            text: str = await self._in_worker(run, feed, workers.extract, body, content_type, url)
            return text
        return await asyncio.to_thread(extract_article_text, body, content_type, url)

    async def _unknown_items(self, items: Sequence[FeedItem]) -> list[FeedItem]:
        if not items:
            return []
        async with self._session_factory() as session:
            urls, hashes = await article_repo.known_urls_and_hashes(
                session, [item.url for item in items], [item.content_hash for item in items]
            )
        return [item for item in items if item.url not in urls and item.content_hash not in hashes]

    async def _store(
        self,
        session: AsyncSession,
        feed: FeedRecord,
        items: Sequence[FeedItem],
        analyses: Sequence[Analysis],
        source: str,
    ) -> int:
        """Inserts the items not stored meanwhile (by another feed); returns how many."""
        if not items:
            return 0
        from tagging.facts import FACTS_VERSION

        urls, hashes = await article_repo.known_urls_and_hashes(
            session, [item.url for item in items], [item.content_hash for item in items]
        )
        pending = [
            (item, analysis)
            for item, analysis in zip(items, analyses, strict=True)
            if item.url not in urls and item.content_hash not in hashes
        ]
        inserted = await article_repo.insert_articles(
            session,
            [
                NewArticle(
                    feed_id=feed.id,
                    guid=item.guid,
                    url=item.url,
                    title=item.title,
                    summary=item.summary,
                    full_text=item.text,
                    source=source,
                    published_at=item.published_at,
                    content_hash=item.content_hash,
                    search_lemmas=analysis.search_lemmas,
                    facts_version=FACTS_VERSION,
                )
                for item, analysis in pending
            ],
        )
        await article_repo.save_tags_of_many(
            session,
            (
                (inserted[item.url], tag)
                for item, analysis in pending
                if item.url in inserted
                for tag in analysis.tags
            ),
        )
        await fact_repo.save_facts(
            session,
            [
                (inserted[item.url], item.published_at, fact)
                for item, analysis in pending
                if item.url in inserted
                for fact in analysis.facts
            ],
        )
        return len(inserted)

    async def _complete_full_texts(
        self, run: _Run, feed: FeedRecord, items: Sequence[FeedItem]
    ) -> list[FeedItem]:
        return list(await asyncio.gather(*(self._complete(run, feed, item) for item in items)))

    async def _complete(self, run: _Run, feed: FeedRecord, item: FeedItem) -> FeedItem:
        """The item with its page's main text when the feed gave only a short teaser."""
        if item.full_text or len(item.summary) >= LONG_TEASER_CHARACTERS:
            return item
        async with run.page_slots:
            try:
                page = await run.fetcher.fetch(item.url, accept=PAGE_ACCEPT)
            except FetchError as error:
                logger.info("article page %s: %s", item.url, error)
                return item
        if not page.body:
            return item
        try:
            text = await self._extract(run, feed, page.body, page.content_type, page.url)
        except BrokenProcessPool:
            raise  # the feed's, not the page's: see _process
        except Exception:
            logger.exception("article page %s: extraction failed", item.url)
            return item
        if len(text) <= len(item.summary) or not matches_title(text, item.title):
            return item
        return replace(item, full_text=text)

    async def _fail(
        self, feed: FeedRecord, now: datetime, error: str, started: float
    ) -> FeedOutcome:
        failures = feed.consecutive_failures + 1
        streak_start = feed.last_success_at or feed.created_at
        deactivate = (
            failures >= self._config.max_failures_before_deactivation
            and now - streak_start >= self._config.min_failure_span_before_deactivation
        )
        recorded = error
        if deactivate:
            recorded = f"{error} (deactivated after {failures} consecutive failures)"
            logger.warning("feed %s deactivated: %s", feed.url, recorded)
        else:
            logger.warning("feed %s failed (%d in a row): %s", feed.url, failures, error)
        try:
            async with self._session_factory() as session:
                await feed_repo.record_failure(
                    session,
                    feed.id,
                    now=now,
                    error=recorded,
                    next_check_at=now + self.failure_delay(failures),
                    deactivate=deactivate,
                )
                await session.commit()
        except Exception:
            logger.exception("feed %s: could not record the failure", feed.url)
        return self._outcome(feed, "failed", started, error=recorded, deactivated=deactivate)

    def failure_delay(self, failures: int) -> timedelta:
        """Exponential backoff from the poll interval up to the cap, with ±10 % jitter."""
        base = self._config.poll_interval * (2 ** min(max(failures - 1, 0), 20))
        capped = min(base, self._config.max_backoff)
        return min(capped * self._random.uniform(0.9, 1.1), self._config.max_backoff)

    def _next_check_after_success(self, now: datetime) -> datetime:
        # Never later than one interval, so a clock ticking every interval never skips a
        # feed; the spread keeps feeds from being polled in lockstep.
        return now + self._config.poll_interval * self._random.uniform(0.9, 1.0)

    @staticmethod
    def _outcome(
        feed: FeedRecord,
        status: OutcomeStatus,
        started: float,
        *,
        new_items: int = 0,
        seen_items: int = 0,
        parsed: ParsedFeed | None = None,
        error: str | None = None,
        deactivated: bool = False,
    ) -> FeedOutcome:
        skipped = dict(parsed.skipped) if parsed else {}
        return FeedOutcome(
            feed_id=feed.id,
            url=feed.url,
            status=status,
            new_items=new_items,
            seen_items=seen_items,
            skipped_items=sum(skipped.values()),
            error=error,
            seconds=time.perf_counter() - started,
            skip_reasons=skipped,
            warning=parsed.warning if parsed else None,
            deactivated=deactivated,
        )


async def probe_feed(url: str, config: IngestConfig) -> ProbeResult:
    """Fetches and parses a feed once without storing anything (admin /addfeed)."""
    async with create_http_session(config) as http:
        fetcher = Fetcher(http, config, HostLimiter(config.per_host))
        try:
            fetched = await fetcher.fetch(url)
            parsed = await asyncio.to_thread(
                parse_feed,
                fetched.body,
                url=fetched.url,
                content_type=fetched.content_type,
                fetched_at=utcnow(),
            )
        except (FetchError, FeedParseError) as error:
            return ProbeResult(False, None, 0, str(error))
    return ProbeResult(True, parsed.title, len(parsed.items), None)
