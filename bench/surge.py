"""A surge of new users against the real bot process, while digests fall due.

    .venv/bin/python bench/surge.py [--users 300] [--due-chats 300] [--database-url URL]
                                    [--replicas N --redis-url URL]

Starts the project's Bot API emulator (per-chat flood limits as Telegram has them, no
global cap on replies), the bundled demo feeds on 127.0.0.1 and `digestbot run` against a
fresh SQLite file (or the PostgreSQL database given, which is emptied first). When the
first poll has stored the articles, `--due-chats` subscribers fall due a few seconds into
the surge; then N users send /start within one second and go through onboarding (two
countries, all topics, 09:00, Omsk), each waiting for the bot's answer before the next
tap, as a person does.

Prints: updates per second, the bot's CPU per update with the time of a fixed loop before
and after the surge (the machine's speed at the moment), reply latency p50/p95/max (over
all taps and by step), failed updates (apologies sent and errors logged), users
subscribed, when the newest articles that follow a subscription reached every user (and
the bot's CPU until then), digests delivered and how late, and the peak memory of each of
the bot's processes and of their worker processes. Targets (issue
"From clone to production"): 0 failed, every user subscribed, at least 150 updates/s on
SQLite, p95 at most 2 s for 300 users, every due digest at most 60 s late.

With `--replicas N` (PostgreSQL and Redis), the users are answered by N `run --role bot`
processes in webhook mode behind a round-robin reverse proxy, with FSM state and flood
counters in Redis, while one `ingest`, one `clock` and one `sender` process do the rest.
The emulator posts updates as Telegram does: up to max_connections requests open at once,
one at a time per chat; so a user's next tap often lands on the other replica. Target
(issue "Beyond one process"): 2,000 users onboarding, 0 failed updates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import text  # noqa: E402

from bench.procfs import children, cpu_seconds, peak_memory_mb  # noqa: E402
from bot.demo_runner import demo_feeds, serve_demo_feeds  # noqa: E402
from storage import chats as chat_repo  # noqa: E402
from storage.db import create_engine, create_session_factory  # noqa: E402
from testing.ports import free_port  # noqa: E402
from testing.proxy import RoundRobinProxy  # noqa: E402
from testing.telegram import BotApiEmulator, SentMessage  # noqa: E402
from testing.telegram.server import keep_full_collections_off  # noqa: E402

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
FIRST_USER = 7_000_000
FIRST_DUE_CHAT = 8_000_000
APOLOGY = "Что-то пошло не так"
LATEST = ("Свежее по вашим странам", "В архиве пока нет")
STEP_TIMEOUT = 180.0
WEBHOOK_SECRET = "surge-webhook-secret"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    updates: int = 0
    stuck: list[str] = field(default_factory=list)
    finished: int = 0


def button(message: SentMessage, label: str) -> str:
    for caption, data in zip(message.button_texts(), message.button_data(), strict=True):
        if label in caption:
            return data
    raise LookupError(f"no button {label!r} in {message.button_texts()}")


async def timed(
    tally: Tally, step: str, action: Callable[[], Awaitable[SentMessage]]
) -> SentMessage:
    started = time.monotonic()
    result = await action()
    latency = time.monotonic() - started
    tally.latencies.append(latency)
    tally.by_step.setdefault(step, []).append(latency)
    tally.updates += 1
    return result


async def onboard(api: BotApiEmulator, user: int, delay: float, tally: Tally) -> None:
    await asyncio.sleep(delay)

    async def say(message: str) -> SentMessage:
        api.send_user_message(user, message)
        replies = await api.wait_for_reply(user, 2, timeout=STEP_TIMEOUT)
        return replies[-1]

    async def press(message: SentMessage, label: str) -> SentMessage:
        api.press_button(user, message.message_id, button(message, label))
        return await api.wait_for_edit(user, message.message_id, timeout=STEP_TIMEOUT)

    step = "start"
    try:
        countries = await timed(tally, step, lambda: say("/start"))
        step = "Узбекистан"
        countries = await timed(tally, step, lambda: press(countries, "Узбекистан"))
        step = "Таджикистан"
        countries = await timed(tally, step, lambda: press(countries, "Таджикистан"))
        step = "countries done"
        topics = await timed(tally, step, lambda: press(countries, "Далее"))
        step = "topics done"
        times = await timed(tally, step, lambda: press(topics, "Далее"))
        step = "time"
        zones = await timed(tally, step, lambda: press(times, "09:00"))
        step = "zone"
        await timed(tally, step, lambda: press(zones, "Омск"))
        tally.finished += 1
    except (TimeoutError, LookupError) as error:
        tally.stuck.append(f"user {user} at {step}: {str(error)[:160]}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def prepare_database(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()


async def subscribe_due_chats(url: str, count: int, due: datetime) -> None:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        for offset in range(count):
            chat_id = FIRST_DUE_CHAT + offset
            await chat_repo.ensure_chat(
                session,
                chat_id,
                type="private",
                title=None,
                language="ru",
                timezone="Asia/Omsk",
                digest_time="09:00",
            )
            await chat_repo.set_countries(session, chat_id, ["UZ", "TJ", "KZ"])
            await chat_repo.update_chat(
                session, chat_id, subscribed=True, next_digest_at=due, last_digest_at=None
            )
        await session.commit()
    await engine.dispose()


async def count_rows(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def wait_for(condition: Callable[[], Awaitable[bool]], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.5)
    return False


@dataclass
class Processes:
    """The bot's processes: those that answer users (the one `run` process, or the webhook
    replicas) and, with replicas, the ingest, clock and sender roles beside them."""

    answering: list[asyncio.subprocess.Process]
    background: list[asyncio.subprocess.Process]
    logs: list[Path]

    def all(self) -> list[asyncio.subprocess.Process]:
        return self.answering + self.background

    def exited(self) -> bool:
        return any(process.returncode is not None for process in self.all())

    def answering_cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.answering)

    def background_cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.background)

    def peak_memory(self) -> str:
        """Each process's peak memory, its children's (the worker processes that parse,
        tag and plan digests) in parentheses."""

        def megabytes(pid: int) -> str:
            peak = peak_memory_mb(pid)
            return "gone" if peak is None else f"{peak:.0f} MB"

        return ", ".join(
            megabytes(process.pid)
            + "".join(f" ({megabytes(child)})" for child in children(process.pid))
            for process in self.all()
        )

    def log_text(self) -> str:
        return "".join(path.read_text("utf-8", "replace") for path in self.logs if path.exists())


def bot_environment(workdir: Path, api_url: str, url: str, feeds: Path) -> dict[str, str]:
    """What a bench's `digestbot run` is given: only these, nothing of this shell's."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO_ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": url,
        "FEEDS_FILE": str(feeds),
        "FEEDS_ALLOW_PRIVATE": "1",
        "LOG_LEVEL": "INFO",
    }


async def start_process(
    workdir: Path, name: str, environment: dict[str, str], *arguments: str
) -> tuple[asyncio.subprocess.Process, Path]:
    log_path = workdir / f"{name}.log"
    log = await asyncio.to_thread(log_path.open, "wb")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            *arguments,
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()
    return process, log_path


async def stop_processes(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def run(arguments: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="digestbot-surge-"))
    url = arguments.database_url or f"sqlite+aiosqlite:///{workdir / 'surge.db'}"
    await prepare_database(url)
    if arguments.redis_url:
        await flush_redis(arguments.redis_url)
    async with (
        BotApiEmulator(token=TOKEN, global_rate=None) as api,
        serve_demo_feeds() as feeds_base,
    ):
        feeds = workdir / "feeds.txt"
        feeds.write_text(
            "".join(f"{feeds_base}/feeds/{feed.file} {feed.title}\n" for feed in demo_feeds()),
            "utf-8",
        )
        environment = {
            **bot_environment(workdir, api.base_url, url, feeds),
            "DIGEST_CHECK_SECONDS": "1",
        }
        if arguments.update_concurrency:
            environment["UPDATE_CONCURRENCY"] = str(arguments.update_concurrency)
        if arguments.redis_url:
            environment["REDIS_URL"] = arguments.redis_url
        if not arguments.replicas:
            process, log_path = await start_process(workdir, "bot", environment)
            processes = Processes([process], [], [log_path])
            try:
                return await surge(arguments, api, url, processes)
            finally:
                await stop_processes(processes.all())
        backends = [f"http://127.0.0.1:{free_port()}" for _ in range(arguments.replicas)]
        async with RoundRobinProxy(backends) as proxy:
            processes = Processes([], [], [])
            try:
                for number, backend in enumerate(backends, 1):
                    process, log_path = await start_process(
                        workdir,
                        f"bot-{number}",
                        {
                            **environment,
                            "WEBHOOK_URL": proxy.url,
                            "WEBHOOK_SECRET": WEBHOOK_SECRET,
                            "WEBHOOK_HOST": "127.0.0.1",
                            "WEBHOOK_PORT": backend.rsplit(":", 1)[1],
                        },
                        "--role",
                        "bot",
                    )
                    processes.answering.append(process)
                    processes.logs.append(log_path)
                for role in ("ingest", "clock", "sender"):
                    process, log_path = await start_process(
                        workdir, role, environment, "--role", role
                    )
                    processes.background.append(process)
                    processes.logs.append(log_path)
                result = await surge(arguments, api, url, processes)
                print(
                    "requests per replica through the proxy: "
                    + ", ".join(str(proxy.handled[backend]) for backend in backends)
                )
                return result
            finally:
                await stop_processes(processes.all())


async def surge(
    arguments: argparse.Namespace,
    api: BotApiEmulator,
    url: str,
    processes: Processes,
) -> int:
    async def articles_stored() -> bool:
        if processes.exited():
            return True
        try:
            return await count_rows(url, "SELECT count(*) FROM articles") > 0
        except Exception:
            return False

    if not await wait_for(articles_stored, 120) or processes.exited():
        log = await asyncio.to_thread(processes.log_text)
        print(f"surge: the bot did not get through its first feed poll\n{log[-2000:]}")
        return 1
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=arguments.due_after)
    await subscribe_due_chats(url, arguments.due_chats, due)

    speed_before = await asyncio.to_thread(reference_loop_seconds)
    tally = Tally()
    rng = random.Random(7)
    bot_cpu_before = processes.answering_cpu()
    background_cpu_before = processes.background_cpu()
    own_cpu_before = time.process_time()
    started = time.monotonic()
    await asyncio.gather(
        *(
            onboard(api, FIRST_USER + index, rng.uniform(0.0, 1.0), tally)
            for index in range(arguments.users)
        )
    )
    surge_seconds = time.monotonic() - started
    bot_cpu = processes.answering_cpu() - bot_cpu_before
    background_cpu = processes.background_cpu() - background_cpu_before
    own_cpu = time.process_time() - own_cpu_before

    # The newest articles follow the last reply (delivery.welcome): the surge's work is done
    # when every user has them.
    def has_latest(user: int) -> bool:
        return any(
            (message.plain_text or "").startswith(LATEST) for message in api.messages_for(user)
        )

    async def all_latest_arrived() -> bool:
        return all(has_latest(FIRST_USER + index) for index in range(arguments.users))

    latest_by_last_reply = sum(has_latest(FIRST_USER + index) for index in range(arguments.users))
    await wait_for(all_latest_arrived, 120)
    latest_seconds = time.monotonic() - started - surge_seconds
    latest_count = sum(has_latest(FIRST_USER + index) for index in range(arguments.users))
    bot_cpu_with_latest = processes.answering_cpu() - bot_cpu_before

    def digest_arrival(chat_id: int) -> float | None:
        for message in api.messages_for(chat_id):
            if (message.plain_text or "").startswith("Дайджест за"):
                return float(message.date)
        return None

    async def digests_arrived() -> bool:
        due_ids = range(FIRST_DUE_CHAT, FIRST_DUE_CHAT + arguments.due_chats)
        return all(digest_arrival(chat_id) is not None for chat_id in due_ids)

    await wait_for(digests_arrived, max(0.0, due.timestamp() + 60 - time.time()) + 5)
    arrivals = [digest_arrival(FIRST_DUE_CHAT + n) for n in range(arguments.due_chats)]
    lateness = [arrival - due.timestamp() for arrival in arrivals if arrival is not None]
    memory = processes.peak_memory()

    speed_after = await asyncio.to_thread(reference_loop_seconds)
    subscribed = await count_rows(
        url,
        f"SELECT count(*) FROM chats WHERE subscribed AND id >= {FIRST_USER} "
        f"AND id < {FIRST_USER + arguments.users}",
    )
    log = await asyncio.to_thread(processes.log_text)
    apologies = sum(
        APOLOGY in (message.plain_text or "")
        for user in range(FIRST_USER, FIRST_USER + arguments.users)
        for message in api.messages_for(user)
    )
    failed_in_log = log.count("failed: ")
    latencies = tally.latencies
    print(
        f"users {arguments.users}, due chats {arguments.due_chats}, database "
        f"{url.split(':', 1)[0]}, update concurrency "
        f"{arguments.update_concurrency or 'default'}, "
        + (
            f"{arguments.replicas} webhook replicas behind a proxy + ingest, clock, sender"
            if arguments.replicas
            else "one process, long polling"
        )
    )
    print(
        f"updates {tally.updates} in {surge_seconds:.1f} s: "
        f"{tally.updates / surge_seconds:.0f} updates/s"
    )
    print(
        f"CPU during the surge: bot {bot_cpu:.1f} s ({1000 * bot_cpu / max(tally.updates, 1):.1f} "
        f"ms per update)"
        + (f", other roles {background_cpu:.1f} s" if processes.background else "")
        + f", emulator, proxy and users {own_cpu:.1f} s"
    )
    print(
        f"latest articles after subscribing: {latest_count} of {arguments.users} "
        f"({latest_by_last_reply} by the last reply), the last "
        f"{latest_seconds:.1f} s after the last reply; bot CPU with them "
        f"{bot_cpu_with_latest:.1f} s ({1000 * bot_cpu_with_latest / max(tally.updates, 1):.1f} "
        "ms per update)"
    )
    per_update = bot_cpu / max(tally.updates, 1)
    print(
        f"  every user waits for each answer, so a bot busy all along answers in about "
        f"users × CPU per update = {arguments.users * per_update:.2f} s; "
        f"this machine ran the reference loop in {speed_before:.2f} s before the surge "
        f"and {speed_after:.2f} s after it (compare runs by it)"
    )
    if latencies:
        print(
            f"reply latency p50 {statistics.median(latencies):.2f} s, "
            f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s"
        )
        print(
            "  by step (p50/p95): "
            + ", ".join(
                f"{step} {statistics.median(values):.2f}/{percentile(values, 0.95):.2f}"
                for step, values in tally.by_step.items()
            )
        )
    print(
        f"failed updates: {apologies} apologies sent, {failed_in_log} errors logged; "
        f"users stuck {len(tally.stuck)}"
    )
    for line in tally.stuck[:5]:
        print(f"  {line}")
    print(f"users subscribed {subscribed} of {arguments.users}")
    if lateness:
        print(
            f"digests delivered {len(lateness)} of {arguments.due_chats}, late by "
            f"p50 {statistics.median(lateness):.1f} s, max {max(lateness):.1f} s"
        )
    else:
        print(f"digests delivered 0 of {arguments.due_chats}")
    print(f"peak memory of the bot's processes (their children's): {memory}")
    print(f"emulator: {api.stats()['count_429']} answers 429, logs in {processes.logs[0].parent}")
    ok = (
        not tally.stuck
        and apologies == 0
        and subscribed == arguments.users
        and len(lateness) == arguments.due_chats
        and max(lateness, default=0) <= 60
    )
    return 0 if ok else 1


def reference_loop_seconds() -> float:
    """The CPU time of a fixed pure-Python loop: this machine's speed at the moment, which
    on shared machines drifts by more than the changes being measured."""
    started = time.thread_time()
    total = 0
    for number in range(3_000_000):
        total += number
    return time.thread_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--due-chats", type=int, default=300)
    parser.add_argument("--due-after", type=float, default=5.0, help="seconds into the surge")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to empty and use")
    parser.add_argument("--update-concurrency", type=int, default=None)
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="webhook replicas (`run --role bot`) behind a round-robin proxy; needs "
        "--database-url and --redis-url",
    )
    parser.add_argument("--redis-url", default=None, help="a Redis URL to empty and use")
    arguments = parser.parse_args()
    if arguments.users < 1 or arguments.due_chats < 0:
        parser.error("--users must be at least 1 and --due-chats not negative")
    if arguments.replicas and not (
        (arguments.database_url or "").startswith("postgresql") and arguments.redis_url
    ):
        parser.error("--replicas needs a PostgreSQL --database-url and a --redis-url")
    # This process plays Telegram for the bot: the emulator keeps every message, and a
    # full collection of them would hold every user's answer at once.
    keep_full_collections_off()
    return asyncio.run(run(arguments))


if __name__ == "__main__":
    sys.exit(main())
