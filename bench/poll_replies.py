"""Reply latency of the real bot process while its first poll brings thousands of articles.

    .venv/bin/python bench/poll_replies.py [--feeds 100] [--items 20] [--chats 10]
                                           [--ingest-processes N]

A child process serves FEEDS generated feeds of ITEMS new articles each (bench/ingest.py's
feeds: about 3,000 characters of Russian text per article) on 127.0.0.1; `digestbot run`
starts on a fresh SQLite file with those feeds, against the project's Bot API emulator.
From the moment the first article is stored, CHATS chats take turns sending
`/agreements Узбекистан` (each waits for its answer, then 0.2 s; a chat's turn comes
again after the others', so Telegram's per-chat flood limit never applies), until the
article count has not grown for four answers in a row, and then for 20 answers more.

Printed: the number of answers, p50, p95 and max latency during the poll and after it;
the articles stored; the peak memory (VmHWM) of the bot's process and of each of its
children (the parse-and-tag worker processes, multiprocessing's resource tracker).
`--ingest-processes` sets INGEST_PROCESSES (by default the bot's own default applies).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.ingest import feed_path, serve  # noqa: E402
from bench.procfs import children, peak_memory_mb  # noqa: E402
from bench.surge import (  # noqa: E402
    TOKEN,
    bot_environment,
    count_rows,
    percentile,
    start_process,
    stop_processes,
)
from testing.telegram import BotApiEmulator  # noqa: E402

COMMAND = "/agreements Узбекистан"
FIRST_CHAT = 5_000_001
SETTLED_ANSWERS = 4
ANSWERS_AFTER = 20


def describe(label: str, latencies: list[float]) -> str:
    if not latencies:
        return f"{label}: no answers"
    return (
        f"{label}: {len(latencies)} answers, latency p50 "
        f"{1000 * statistics.median(latencies):.0f} ms, "
        f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, max {1000 * max(latencies):.0f} ms"
    )


async def run(arguments: argparse.Namespace) -> int:
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(
        target=serve, args=(arguments.feeds, arguments.items, 3000, ports), daemon=True
    )
    server.start()
    workdir = Path(tempfile.mkdtemp(prefix="digestbot-poll-replies-"))
    url = f"sqlite+aiosqlite:///{workdir / 'bot.db'}"
    try:
        port = await asyncio.to_thread(ports.get, True, 300)
        feeds = workdir / "feeds.txt"
        feeds.write_text(
            "".join(
                f"http://127.0.0.1:{port}{feed_path(index)} Издание {index}\n"
                for index in range(arguments.feeds)
            ),
            "utf-8",
        )
        async with BotApiEmulator(token=TOKEN, global_rate=None) as api:
            environment = bot_environment(workdir, api.base_url, url, feeds)
            if arguments.ingest_processes:
                environment["INGEST_PROCESSES"] = str(arguments.ingest_processes)
            process, log_path = await start_process(workdir, "bot", environment)
            try:
                return await measure(arguments, api, url, process.pid, log_path)
            finally:
                await stop_processes([process])
    finally:
        server.kill()
        server.join()


async def measure(
    arguments: argparse.Namespace, api: BotApiEmulator, url: str, pid: int, log_path: Path
) -> int:
    during: list[float] = []
    after: list[float] = []
    articles = previous = 0
    settled = 0
    turn = 0
    deadline = time.monotonic() + arguments.timeout
    while len(after) < ANSWERS_AFTER:
        if time.monotonic() > deadline:
            print(f"timed out; the bot's log is {log_path}")
            return 1
        chat = FIRST_CHAT + turn % arguments.chats
        turn += 1
        sent = time.monotonic()
        api.send_user_message(chat, COMMAND)
        await api.wait_for_reply(chat, 1, timeout=60)
        latency = time.monotonic() - sent
        articles = await count_rows(url, "SELECT count(*) FROM articles")
        if articles:
            settled = settled + 1 if articles == previous else 0
            (after if settled >= SETTLED_ANSWERS else during).append(latency)
        previous = articles
        await asyncio.sleep(0.2)
    print(f"{arguments.feeds} feeds × {arguments.items} new articles; {articles} stored")
    print(describe("during the first poll", during))
    print(describe("after it", after))
    for number, member in enumerate([pid, *children(pid)]):
        memory = peak_memory_mb(member)
        role = "the bot's process" if number == 0 else f"child {member}"
        print(f"  peak memory of {role}: {memory:.0f} MB" if memory else f"  {role}: gone")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--ingest-processes", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    arguments = parser.parse_args()
    if min(arguments.feeds, arguments.items, arguments.chats) < 1:
        parser.error("--feeds, --items and --chats must be at least 1")
    return asyncio.run(run(arguments))


if __name__ == "__main__":
    sys.exit(main())
