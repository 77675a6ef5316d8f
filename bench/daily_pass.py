"""The daily pass over many due chats at once, and what users tapping meanwhile see.

    .venv/bin/python bench/daily_pass.py [--chats 5000] [--articles 2000] [--processes 1]
                                         [--thread]

Fills a fresh SQLite file with CHATS chats all due now (each following one to four
countries, as bench/fanout.py makes them) and a day of ARTICLES tagged articles, then runs
the daily pass (`delivery.daily.compose_due_digests`) as `digestbot run` does: batches
loaded on the event loop, planned in parse-and-tag worker processes (`--processes`, as
INGEST_PROCESSES; one batch at a time per process) or with `--thread` in a thread (as the
other roles and the command line do), written back a chunk of chats per transaction.
Meanwhile, on the same event loop, a probe sleeps 5 ms at a time and measures how late it
wakes, and `/agreements Узбекистан` pages are built every 20 ms on the same database file
(the reply a user waits for).

Printed: digests queued and the pass's wall time; the time each batch's load held the
event loop; the workers' CPU per due chat and their peak memory; the loop's lateness (p99,
max, and how often over 100 ms); and the page's latency idle and during the pass. On a
machine with fewer free cores than the worker processes plus this one, more processes
measure the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.procfs import children, cpu_seconds, peak_memory_mb  # noqa: E402

# The rest of the product is imported where it is used: a worker process started by
# `spawn` runs this module's top level again, and should hold what a worker of
# `digestbot run` holds, not the bot's handlers as well.

PAGE_EVERY_SECONDS = 0.02
PROBE_SECONDS = 0.005
IDLE_SECONDS = 3.0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=5000)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--thread", action="store_true", help="plan in a thread")
    parser.add_argument("--processes", type=int, default=1, help="as INGEST_PROCESSES")
    return parser.parse_args()


def quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def until_stopped(stop: asyncio.Event, step: Callable[[], Awaitable[float]]) -> list[float]:
    found: list[float] = []
    while not stop.is_set():
        found.append(await step())
    return found


async def run(arguments: argparse.Namespace, executor: Executor | None) -> None:
    from bench.fanout import fill_database
    from core.settings import Settings
    from delivery import daily
    from delivery.labels import digest_labels
    from handlers.archive import AGREEMENTS, ArchiveRequest, build_page
    from storage.db import create_engine, create_session_factory, upgrade_database

    with tempfile.TemporaryDirectory(prefix="digestbot-daily-") as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'daily.db'}"
        await upgrade_database(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        now = await fill_database(session_factory, arguments.chats, arguments.articles, 7)
        settings = Settings.model_construct()
        request = ArchiveRequest(kind=AGREEMENTS, country="UZ")

        async def page() -> float:
            started = time.perf_counter()
            async with session_factory() as session:
                await build_page(session, settings, 1, request)
            await asyncio.sleep(PAGE_EVERY_SECONDS)
            return time.perf_counter() - started - PAGE_EVERY_SECONDS

        async def probe() -> float:
            started = time.perf_counter()
            await asyncio.sleep(PROBE_SECONDS)
            return time.perf_counter() - started - PROBE_SECONDS

        stop = asyncio.Event()
        idle = asyncio.ensure_future(until_stopped(stop, page))
        await asyncio.sleep(IDLE_SECONDS)
        stop.set()
        idle_pages = await idle

        loads: list[tuple[float, int]] = []
        load_batch = daily._load_batch

        async def timed_load(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            batch = await load_batch(*args, **kwargs)
            loads.append((time.perf_counter() - started, len(batch.chats)))
            return batch

        daily._load_batch = timed_load
        workers = children(os.getpid()) if executor is not None else []
        peaks_before = {pid: peak_memory_mb(pid) for pid in workers}
        worker_cpu = sum(cpu_seconds(pid) for pid in workers)
        own_cpu = time.process_time()
        stop = asyncio.Event()
        pages = asyncio.ensure_future(until_stopped(stop, page))
        lateness = asyncio.ensure_future(until_stopped(stop, probe))
        started = time.perf_counter()
        report = await daily.compose_due_digests(
            session_factory,
            now=now,
            labels_for=digest_labels,
            executor=executor,
            planners=arguments.processes,
        )
        wall = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        worker_cpu = sum(cpu_seconds(pid) for pid in workers) - worker_cpu
        stop.set()
        busy_pages, lates = await pages, await lateness
        daily._load_batch = load_batch
        await engine.dispose()

    ms = [round(1000 * seconds) for seconds, chats in loads if chats]
    print(
        f"{arguments.chats} chats due, {arguments.articles} articles of the day; "
        f"planned in {'a thread' if executor is None else 'a worker process'}"
    )
    print(f"pass: {report}; wall {wall:.1f} s")
    print(f"batch loads on the event loop (ms): {ms}")
    print(f"this process's CPU: {own_cpu:.1f} s (the page builds and the probe included)")
    if executor is not None:
        per_chat = 1000 * worker_cpu / max(report.due, 1)
        print(f"worker processes' CPU: {worker_cpu:.1f} s, {per_chat:.1f} ms per due chat")
        for pid in workers:
            peak, before = peak_memory_mb(pid), peaks_before.get(pid)
            if peak is not None and before is not None:
                print(f"  pid {pid}: peak memory {peak:.0f} MB ({before:.0f} MB after tagging one)")
    print(
        f"event loop late: p99 {1000 * quantile(lates, 0.99):.0f} ms, "
        f"max {1000 * max(lates):.0f} ms, {sum(late > 0.1 for late in lates)} times over 100 ms"
    )
    for label, values in (("idle", idle_pages), ("during the pass", busy_pages)):
        print(
            f"/agreements page {label}: {len(values)} builds, p50 "
            f"{1000 * statistics.median(values):.0f} ms, p95 {1000 * quantile(values, 0.95):.0f} "
            f"ms, max {1000 * max(values):.0f} ms"
        )


def warm_up(executor: Executor, processes: int) -> None:
    """Has the worker tag an article first, as a worker of `digestbot run` has by the time
    digests fall due: its memory then holds the tagger's dictionaries, which planning
    shares."""
    from datetime import UTC, datetime

    from ingest import workers
    from ingest.parse import FeedItem

    item = FeedItem(
        guid="warm-up",
        url="https://omskinform.ru/news/warm-up",
        title="Омская делегация обсудила поставки зерна в Узбекистан",
        summary="Стороны договорились о новых контрактах.",
        full_text="",
        published_at=datetime.now(UTC),
        content_hash="0" * 64,
    )
    # A few calls at once per process, so that each gets some.
    for call in [executor.submit(workers.analyse, [item]) for _ in range(4 * processes)]:
        call.result()


def main() -> None:
    arguments = parse_arguments()
    executor: Executor | None = None
    if not arguments.thread:
        from ingest.workers import create_ingest_pool

        executor = create_ingest_pool(0.5, processes=arguments.processes)
        warm_up(executor, arguments.processes)
    from core.i18n import create_i18n

    i18n = create_i18n()
    try:
        with i18n.context(), i18n.use_locale("ru"):
            asyncio.run(run(arguments, executor))
    finally:
        if executor is not None:
            executor.shutdown()


if __name__ == "__main__":
    main()
