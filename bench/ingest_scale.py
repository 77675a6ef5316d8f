"""Ingestion at scale: real `digestbot run --role ingest` processes on one PostgreSQL database.

    export TEST_POSTGRES_URL=$(bash .ci/postgres.sh)   # any PostgreSQL server URL
    .venv/bin/python bench/ingest_scale.py throughput [--feeds 3000] [--items 20] [--chars 1500]
        [--processes 1]
    .venv/bin/python bench/ingest_scale.py steady [--feeds 5000] [--interval 60] [--share 0.05]
        [--items 20] [--new-items 2] [--intervals 3] [--processes 1]

A child process serves generated feeds on 127.0.0.1 (Russian items as bench/ingest.py makes
them: full text in yandex:full-text or HTML in content:encoded, every fifth feed in
windows-1251) with ETag and Last-Modified, answering 304 to a matching If-None-Match, and
counts every fetch of every feed. Each run gets a PostgreSQL database of its own, created
on the server of TEST_POSTGRES_URL (or --postgres) and dropped at the end. CPU seconds and
memory are read from /proc for every process of a worker: the worker and its pool of
INGEST_PROCESSES parse-and-tag processes (--processes), and any other child.

throughput: FEEDS feeds of ITEMS new items each are ingested by one worker, then (on a new
database) by two. Printed per run: articles/s (from the start of the processes, tagger
loading included, and from the first article stored to the last), fetches per feed (must be
exactly 1: the interval is 15 minutes, far longer than a run), CPU seconds and peak memory
of every process, and the 2-worker/1-worker throughput ratio. On a machine with fewer free
cores than the workers' processes the ratio measures the machine, not the design: the load
average is printed before and after.

steady: FEEDS feeds polled every INTERVAL seconds (POLL_INTERVAL is in minutes, so 60 s
is the shortest), a share SHARE of them with NEW_ITEMS new items in each interval, the rest
answering 304. The scale statement: production polls 5,000 feeds every 15 minutes; here the
same feeds are polled every 60 s, 15 times as often, with the same work per feed and per
interval (one conditional GET per feed, 5 % of them a changed feed of ITEMS items of which
NEW_ITEMS are new, parsed, tagged and stored). CPU per interval is therefore the same, and
the cores used at a 15-minute interval are the measured cores × INTERVAL / 900 (printed
both ways); memory does not depend on the interval. Before the measured intervals the
database is filled with the feeds' current items by this process with tagging off (not
measured), the feeds' next checks are spread uniformly over one interval as in a running
deployment, and one interval of warm-up (tagger loading) passes. Every feed must be
fetched once per interval: printed are fetches per feed in the measured window and the
shortest and longest gap between two fetches of a feed (the pipeline schedules the next
check 0.9-1.0 interval ahead, and a worker looks for due feeds every 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.ingest import (  # noqa: E402
    LAST_MODIFIED,
    _no_lemmas,
    _NoTagging,
    feed_path,
    item_xml,
)
from ingest.config import IngestConfig  # noqa: E402
from ingest.pipeline import IngestPipeline  # noqa: E402
from storage import feeds as feed_repo  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024


# --------------------------------------------------------------------------- feed server


def feed_body(feed_index: int, version: int, items: int, new_items: int, chars: int) -> bytes:
    """Feed `feed_index` as it reads at `version`: its ITEMS newest items, newest first;
    each version adds NEW_ITEMS items on top."""
    newest = version * new_items + items
    encoding = "windows-1251" if feed_index % 5 == 4 else "utf-8"
    html = feed_index % 2 == 1
    entries = "".join(
        item_xml(
            feed_index, number, chars, random.Random(feed_index * 1_000_003 + number), html=html
        )
        for number in range(newest - 1, newest - items - 1, -1)
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:yandex="http://news.yandex.ru" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Омское издание № {feed_index}</title>"
        f"<link>https://outlet-{feed_index}.example/</link>"
        "<description>Новости Омска и области</description>" + entries + "</channel></rss>"
    ).encode(encoding)


@dataclass
class ServerPlan:
    feeds: int
    items: int
    chars: int
    new_items: int = 0
    # A feed changes in interval number e (1, 2, …, counted from /start) when
    # (feed + e) % period == 0: exactly one feed in `period` per interval.
    period: int = 0
    interval: float = 0.0
    pregenerate: bool = False


def serve(plan: ServerPlan, ports: multiprocessing.Queue[int]) -> None:
    """Runs in a child process, so that serving costs the workers neither CPU nor memory."""
    from aiohttp import web

    bodies: dict[tuple[int, int], bytes] = {}
    fetches: dict[int, list[float]] = {}
    full_answers = 0
    started: float | None = None

    def version(feed_index: int) -> int:
        if started is None or not plan.period:
            return 0
        epoch = int((time.time() - started) // plan.interval)
        # Intervals 1..epoch in which (feed + e) % period == 0.
        first = (-feed_index) % plan.period or plan.period
        return 0 if epoch < first else (epoch - first) // plan.period + 1

    def body(feed_index: int, at: int) -> bytes:
        key = (feed_index, at)
        if key not in bodies:
            bodies[key] = feed_body(feed_index, at, plan.items, plan.new_items, plan.chars)
        return bodies[key]

    if plan.pregenerate:
        for feed_index in range(plan.feeds):
            body(feed_index, 0)

    async def feed(request: web.Request) -> web.Response:
        nonlocal full_answers
        feed_index = int(request.match_info["number"])
        if not 0 <= feed_index < plan.feeds:
            raise web.HTTPNotFound()
        fetches.setdefault(feed_index, []).append(time.time())
        at = version(feed_index)
        etag = f'"{feed_index}-{at}"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        full_answers += 1
        content_type = "application/rss+xml" + ("" if feed_index % 5 == 4 else "; charset=utf-8")
        headers["Content-Type"] = content_type
        return web.Response(body=body(feed_index, at), headers=headers)

    async def control(request: web.Request) -> web.Response:
        """status: the fetches so far; reset: the same, then counting starts afresh;
        start: the feeds start changing (steady mode), counting starts afresh."""
        nonlocal started, full_answers
        action = request.match_info["action"]
        answer = web.json_response(
            {"started": started, "full_answers": full_answers, "fetches": fetches}
        )
        if action in ("start", "reset"):
            fetches.clear()
            full_answers = 0
        if action == "start":
            started = time.time()
        return answer

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feeds/{number}.xml", feed)
        app.router.add_post("/control/{action}", control)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ports.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def control(base: str, action: str) -> dict[str, Any]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/control/{action}", timeout=aiohttp.ClientTimeout(total=120)) as answer,
    ):
        result: dict[str, Any] = await answer.json()
    result["fetches"] = {int(key): value for key, value in result["fetches"].items()}
    return result


@contextlib.contextmanager
def feed_server(plan: ServerPlan) -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(target=serve, args=(plan, ports), daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=1200)}"
    finally:
        server.kill()
        server.join()


# --------------------------------------------------------------------------- database


def _dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def bench_database(server_url: str) -> Any:
    """A migrated database of its own on the server, dropped afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"digestbot_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_database(url)
        yield url
    finally:
        admin = await asyncpg.connect(_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def add_feeds(url: str, base: str, feeds: int) -> None:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            for feed_index in range(feeds):
                await feed_repo.add_feed(
                    session, base + feed_path(feed_index), fetch_full_text=False
                )
            await session.commit()
    finally:
        await engine.dispose()


async def scalar(url: str, sql: str, *args: Any) -> Any:
    import asyncpg

    connection = await asyncpg.connect(_dsn(url))
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


# --------------------------------------------------------------------------- processes


@dataclass
class ProcessUsage:
    """CPU seconds and peak memory of one process, from /proc."""

    pid: int
    name: str
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0


@dataclass
class WorkerWatch:
    """A worker process and every descendant it had, sampled from /proc."""

    root: int
    usage: dict[int, ProcessUsage] = field(default_factory=dict)
    peak_total_rss_mb: float = 0.0
    peak_total_pss_mb: float = 0.0

    def tree(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        members, frontier = [self.root], [self.root]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            members += children
            frontier = children
        return members

    def sample(self) -> None:
        total_rss = total_pss = 0.0
        for pid in self.tree():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                status = Path(f"/proc/{pid}/status").read_text()
                rss = _kb(status, "VmRSS:") / 1024
                hwm = _kb(status, "VmHWM:") / 1024
                pss = _kb(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss:") / 1024
            except (OSError, ValueError, IndexError):
                continue
            usage = self.usage.setdefault(pid, ProcessUsage(pid, name))
            usage.cpu = max(usage.cpu, cpu)
            usage.peak_rss_mb = max(usage.peak_rss_mb, hwm)
            usage.peak_pss_mb = max(usage.peak_pss_mb, pss)
            total_rss += rss
            total_pss += pss
        self.peak_total_rss_mb = max(self.peak_total_rss_mb, total_rss)
        self.peak_total_pss_mb = max(self.peak_total_pss_mb, total_pss)

    @property
    def cpu(self) -> float:
        return sum(usage.cpu for usage in self.usage.values())


def _kb(text: str, key: str) -> float:
    for line in text.splitlines():
        if line.startswith(key):
            return float(line.split()[1])
    return 0.0


def start_worker(url: str, log: Path, *, interval_minutes: int, processes: int) -> Any:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "FEED", "POLL_", "INGEST_", "METRICS_"))
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        BOT_TOKEN=TOKEN,
        DATABASE_URL=url,
        LOG_LEVEL="INFO",
        FEEDS_ALLOW_PRIVATE="1",
        POLL_INTERVAL_MINUTES=str(interval_minutes),
        INGEST_PROCESSES=str(processes),
        # Every feed is on one host here; in production they are spread over many.
        FEED_PER_HOST_CONCURRENCY="16",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--role", "ingest"],
        cwd=log.parent,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_worker(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def print_usage(watches: list[WorkerWatch]) -> None:
    for number, watch in enumerate(watches, 1):
        print(
            f"  worker {number}: {watch.cpu:7.1f} s CPU in {len(watch.usage)} processes; "
            f"peak memory of all of them together {watch.peak_total_rss_mb:.0f} MB RSS "
            f"({watch.peak_total_pss_mb:.0f} MB PSS)"
        )
        for usage in sorted(watch.usage.values(), key=lambda usage: usage.pid):
            role = "worker" if usage.pid == watch.root else "child"
            print(
                f"    pid {usage.pid:>7} {role:6} {usage.name:16} {usage.cpu:7.1f} s CPU, "
                f"peak {usage.peak_rss_mb:5.0f} MB RSS, {usage.peak_pss_mb:5.0f} MB PSS"
            )


# --------------------------------------------------------------------------- throughput


@dataclass
class ThroughputRun:
    workers: int
    articles: int
    wall: float
    window: float
    fetches: list[int]
    watches: list[WorkerWatch]


async def throughput_run(
    server_url: str, base: str, args: argparse.Namespace, workers: int, workdir: Path
) -> ThroughputRun:
    expected = args.feeds * args.items
    async with bench_database(server_url) as url:
        await add_feeds(url, base, args.feeds)
        await control(base, "reset")
        started = time.monotonic()
        processes = [
            start_worker(
                url, workdir / f"w{workers}-{n}.log", interval_minutes=15, processes=args.processes
            )
            for n in range(workers)
        ]
        watches = [WorkerWatch(process.pid) for process in processes]
        first_article: float | None = None
        articles = 0
        try:
            while True:
                for watch in watches:
                    watch.sample()
                articles = int(await scalar(url, "SELECT count(*) FROM articles"))
                if articles and first_article is None:
                    first_article = time.monotonic()
                done = await scalar(
                    url, "SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL"
                )
                if done == args.feeds:
                    break
                failed = await scalar(
                    url, "SELECT count(*) FROM feeds WHERE last_error IS NOT NULL"
                )
                if failed:
                    raise RuntimeError(f"{failed} feeds failed; see the logs in {workdir}")
                if any(process.poll() is not None for process in processes):
                    raise RuntimeError(f"a worker exited; see the logs in {workdir}")
                await asyncio.sleep(0.5)
            finished = time.monotonic()
            for watch in watches:
                watch.sample()
            stats = await control(base, "reset")
        finally:
            for process in processes:
                stop_worker(process)
    if articles != expected:
        print(f"  warning: {articles} articles stored, {expected} expected")
    fetches = [len(stats["fetches"].get(feed_index, [])) for feed_index in range(args.feeds)]
    return ThroughputRun(
        workers=workers,
        articles=articles,
        wall=finished - started,
        window=finished - (first_article or started),
        fetches=fetches,
        watches=watches,
    )


async def throughput(args: argparse.Namespace, server_url: str, workdir: Path) -> None:
    plan = ServerPlan(args.feeds, args.items, args.chars, pregenerate=True)
    print(f"load average before: {load_average()}")
    with feed_server(plan) as base:
        print(f"{args.feeds} feeds × {args.items} items of ~{args.chars} characters served")
        runs = []
        for workers in (1, 2):
            run = await throughput_run(server_url, base, args, workers, workdir)
            runs.append(run)
            print(
                f"\n{workers} worker(s) × (1 + {args.processes} pool processes): "
                f"{run.articles} articles in {run.wall:.1f} s from the start "
                f"({run.articles / run.wall:.1f} articles/s), "
                f"{run.window:.1f} s from the first stored "
                f"({run.articles / run.window:.1f} articles/s); load average {load_average()}"
            )
            print(
                f"  fetches per feed: min {min(run.fetches)}, max {max(run.fetches)} "
                f"(feeds fetched other than once: {sum(f != 1 for f in run.fetches)})"
            )
            cpu = sum(watch.cpu for watch in run.watches)
            print(
                f"  CPU of all processes: {cpu:.1f} s = {1000 * cpu / run.articles:.1f} ms/article"
            )
            print_usage(run.watches)
    one, two = runs
    from_start = two.articles / two.wall / (one.articles / one.wall)
    from_first = two.articles / two.window / (one.articles / one.window)
    print(
        f"\nthroughput 2 workers / 1 worker: {from_start:.2f} from the start, {from_first:.2f} "
        f"from the first stored article (target ≥ 1.8); {os.cpu_count()} cores on this machine"
    )


# --------------------------------------------------------------------------- steady state


async def fill(url: str, base: str, interval: float) -> int:
    """Stores the feeds' current items with tagging off (preparation, not measured)."""
    engine = create_engine(url)
    try:
        config = IngestConfig(
            concurrency=16,
            per_host=16,
            timeout=120,
            allow_private_addresses=True,
            poll_interval=timedelta(seconds=interval),
        )
        pipeline = IngestPipeline(
            create_session_factory(engine), _NoTagging(), config, lemmatize=_no_lemmas
        )
        outcomes = await pipeline.run_once(due_only=False)
        failed = [outcome.error for outcome in outcomes if outcome.error]
        if failed:
            raise RuntimeError(f"{len(failed)} feeds failed to fill: {failed[:3]}")
        return sum(outcome.new_items for outcome in outcomes)
    finally:
        await engine.dispose()


async def steady(args: argparse.Namespace, server_url: str, workdir: Path) -> None:
    period = round(1 / args.share)
    plan = ServerPlan(
        args.feeds,
        args.items,
        args.chars,
        new_items=args.new_items,
        period=period,
        interval=args.interval,
    )
    with feed_server(plan) as base:
        async with bench_database(server_url) as url:
            await add_feeds(url, base, args.feeds)
            filling = time.perf_counter()
            stored = await fill(url, base, args.interval)
            print(
                f"filled: {stored} articles of {args.feeds} feeds in "
                f"{time.perf_counter() - filling:.0f} s (tagging off, not measured)"
            )
            # As in a running deployment: the feeds' next checks spread over one interval.
            await scalar(
                url,
                "UPDATE feeds SET next_check_at = now() + random() * make_interval(secs => $1)"
                " RETURNING 0",
                float(args.interval),
            )
            await control(base, "start")
            print(f"load average before: {load_average()}")
            process = start_worker(
                url,
                workdir / "steady.log",
                interval_minutes=round(args.interval / 60),
                processes=args.processes,
            )
            watch = WorkerWatch(process.pid)
            try:
                articles_before = 0
                window_start = time.monotonic() + args.interval
                window_end = window_start + args.intervals * args.interval
                cpu_start = 0.0
                measuring = False
                while time.monotonic() < window_end:
                    watch.sample()
                    if not measuring and time.monotonic() >= window_start:
                        measuring = True
                        cpu_start = watch.cpu
                        wall_start = time.monotonic()
                        window_from = time.time()
                        articles_before = int(await scalar(url, "SELECT count(*) FROM articles"))
                        stats_start = await control(base, "status")
                        print(f"warm-up interval over; measuring {args.intervals} intervals")
                    if process.poll() is not None:
                        raise RuntimeError(f"the worker exited; see {workdir / 'steady.log'}")
                    await asyncio.sleep(0.5)
                watch.sample()
                cpu = watch.cpu - cpu_start
                wall = time.monotonic() - wall_start
                articles = int(await scalar(url, "SELECT count(*) FROM articles")) - articles_before
                stats = await control(base, "status")
            finally:
                stop_worker(process)
    print(f"load average after: {load_average()}")
    per_feed = []
    gaps: list[float] = []
    for feed_index in range(args.feeds):
        times = stats["fetches"].get(feed_index, [])
        per_feed.append(sum(window_from <= moment < window_from + wall for moment in times))
        gaps += [later - earlier for earlier, later in itertools.pairwise(times)]
    full = stats["full_answers"] - stats_start["full_answers"]
    fetched = sum(len(times) for times in stats["fetches"].values()) - sum(
        len(times) for times in stats_start["fetches"].values()
    )
    cores = cpu / wall
    print(
        f"\n{args.feeds} feeds every {args.interval:.0f} s, {100 * args.share:.0f} % with "
        f"{args.new_items} new items per interval, {args.items} items per feed; "
        f"1 worker × (1 + {args.processes} pool processes)"
    )
    print(
        f"measured {wall:.0f} s: {fetched} fetches ({full} answered in full, "
        f"{100 * full / max(fetched, 1):.1f} %), {articles} new articles stored"
    )
    print(
        f"fetches per feed in the window of {wall / args.interval:.2f} intervals: "
        f"min {min(per_feed)}, median {statistics.median(per_feed):.0f}, max {max(per_feed)}"
    )
    if gaps:
        print(
            f"gap between two fetches of a feed: shortest {min(gaps):.1f} s, longest "
            f"{max(gaps):.1f} s (interval {args.interval:.0f} s)"
        )
    print(
        f"CPU of all the worker's processes: {cpu:.1f} s in {wall:.0f} s = {cores:.3f} cores "
        f"at a {args.interval:.0f} s interval; the same work per interval at 15 minutes: "
        f"{cores * args.interval / 900:.3f} cores (target ≤ 1)"
    )
    print(
        f"peak memory of the worker and its pool together: {watch.peak_total_rss_mb:.0f} MB RSS, "
        f"{watch.peak_total_pss_mb:.0f} MB PSS (target ≤ 350 MB)"
    )
    print_usage([watch])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("throughput", "steady"))
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--feeds", type=int)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--chars", type=int, default=1500)
    parser.add_argument("--processes", type=int, default=1, help="INGEST_PROCESSES per worker")
    parser.add_argument("--interval", type=float, default=60.0, help="steady: seconds")
    parser.add_argument("--share", type=float, default=0.05, help="steady: feeds changed")
    parser.add_argument("--new-items", type=int, default=2, help="steady: per changed feed")
    parser.add_argument("--intervals", type=int, default=3, help="steady: measured")
    args = parser.parse_args()
    if not args.postgres:
        parser.error("needs a PostgreSQL server: --postgres URL or TEST_POSTGRES_URL")
    if args.feeds is None:
        args.feeds = 3000 if args.mode == "throughput" else 5000
    if args.interval < 60 or args.interval % 60:
        parser.error("--interval: whole minutes (POLL_INTERVAL_MINUTES), at least 60")
    if not 0 < args.share <= 1:
        parser.error("--share: between 0 and 1")
    with tempfile.TemporaryDirectory(prefix="digestbot-scale-") as workdir:
        runner = throughput if args.mode == "throughput" else steady
        try:
            asyncio.run(runner(args, args.postgres, Path(workdir)))
        except RuntimeError as error:
            print(f"ingest_scale: {error}", file=sys.stderr)
            for log in Path(workdir).glob("*.log"):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
