"""A paid broadcast from several sender processes sharing one send budget.

    TEST_POSTGRES_URL=… .venv/bin/python bench/broadcast.py [--chats 10000] [--senders 2]
        [--rate 950] [--limit 1000] [--pause-at 0.5]

Creates a database of its own on the PostgreSQL server of TEST_POSTGRES_URL (dropped at the
end), starts a Bot API emulator that allows `--limit` messages a second (a separate
process) and `--senders` `digestbot run --role sender` processes with PAID_BROADCAST=1 and
SEND_RATE=`--rate`, and once they are up queues one message for each of N chats (in one
transaction, as a broadcast would be queued). When `--pause-at` of the messages
are out, the emulator answers one request with a 429 (retry_after 1 s), which the senders
must all wait out. Prints: sustained messages/s (first to last send) and its ratio to the
limit (target ≥ 0.9), 429 answers, sends during the pause (target 0), lost and duplicated
messages (target 0), the CPU seconds of each process (a sender's include about 4 s of
start-up: compare with a run of `--chats 20`), those of the PostgreSQL server's processes
from the queueing on (when the server runs on this machine) and the machine's load
average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.fanout import DEFAULT_TOKEN, control, start_emulator, subscribed_chat  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from storage.models import Chat, OutboxMessage  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--rate", type=float, default=950.0, help="SEND_RATE of the senders")
    parser.add_argument("--limit", type=float, default=1000.0, help="the emulator's messages/s")
    parser.add_argument("--pause-at", type=float, default=0.5, help="share sent before a 429")
    parser.add_argument("--timeout", type=float, default=300.0)
    return parser.parse_args()


async def fill(url: str, chats: int) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_session_factory(engine)() as session:
            ids = range(7_000_000, 7_000_000 + chats)
            await session.execute(
                insert(Chat),
                [subscribed_chat(chat_id, created_at=now, updated_at=now) for chat_id in ids],
            )
            await session.execute(
                insert(OutboxMessage),
                [
                    {
                        "chat_id": chat_id,
                        "digest_key": now.date().isoformat(),
                        "digest_date": now.date(),
                        "part": 0,
                        "kind": "digest",
                        "text": f"<b>Дайджест за сегодня</b>\nНовости сотрудничества, выпуск {n}",
                        "article_ids": "",
                        "status": "pending",
                        "attempts": 0,
                        "available_at": now,
                        "created_at": now,
                    }
                    for n, chat_id in enumerate(ids)
                ],
            )
            await session.commit()
    finally:
        await engine.dispose()


def _stat(process: Path) -> tuple[str, list[str]]:
    """A process's name and the fields of /proc/PID/stat after it (state first)."""
    name, _, rest = process.joinpath("stat").read_text().partition(" (")[2].rpartition(")")
    return name, rest.split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc (clock ticks)."""
    fields = _stat(Path(f"/proc/{pid}"))[1]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU of the PostgreSQL server's processes so far, when they run on this machine:
    user + system of each, with what its exited children (backends) used. None when no
    such process is visible."""
    total, found = 0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = _stat(entry)
        except OSError:
            continue
        if name == "postgres":
            total += sum(int(value) for value in fields[11:15])
            found = True
    return total / os.sysconf("SC_CLK_TCK") if found else None


async def run(arguments: argparse.Namespace) -> None:
    server = os.environ.get("TEST_POSTGRES_URL")
    if not server:
        raise SystemExit("set TEST_POSTGRES_URL (bash .ci/postgres.sh prints one)")
    load_before = os.getloadavg()[0]
    name = f"digestbot_bench_{uuid.uuid4().hex[:10]}"
    admin_dsn = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    emulator, api_url = await start_emulator(arguments.limit)
    senders: list[asyncio.subprocess.Process] = []
    try:
        await upgrade_database(url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DATABASE"))},
            "PYTHONPATH": str(REPO_ROOT),
            "BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": url,
            "SEND_RATE": str(arguments.rate),
            "PAID_BROADCAST": "1",
            "LOG_LEVEL": "WARNING",
        }
        for _ in range(arguments.senders):
            senders.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--role", "sender", cwd=REPO_ROOT, env=env
                )
            )
        # The senders start first (each asks getMe once it is up): the figures are those
        # of sending, not of starting processes (a sender's start-up takes seconds of CPU,
        # which would otherwise slow down the first one's sending).
        deadline = time.monotonic() + 120
        while (await control(api_url, "stats"))["call_counts"].get("getMe", 0) < len(senders):
            if time.monotonic() > deadline:
                raise SystemExit("the senders did not start")
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        print(f"queueing {arguments.chats} messages in {name}", flush=True)
        postgres_before = postgres_cpu_seconds()
        await fill(url, arguments.chats)
        started = time.monotonic()
        paused = False
        cpu: dict[int, float] = {}
        while time.monotonic() - started < arguments.timeout:
            await asyncio.sleep(0.5)
            for process in senders:
                if process.returncode is None:
                    cpu[process.pid] = cpu_seconds(process.pid)
            stats = await control(api_url, "stats")
            sent = int(stats["sent"])
            if not paused and sent >= arguments.pause_at * arguments.chats:
                await control(
                    api_url,
                    "fail_next",
                    method="sendMessage",
                    status=429,
                    description="Too Many Requests: retry after 1",
                    parameters={"retry_after": 1},
                )
                paused = True
                print(f"  one 429 (retry_after 1 s) after {sent} messages", flush=True)
            if sent >= arguments.chats:
                break
        await asyncio.sleep(1.0)
        emulator_cpu = cpu_seconds(emulator.pid)
        postgres_after = postgres_cpu_seconds()
        stats = await control(api_url, "stats")
        messages = await control(api_url, "sent_messages")
    finally:
        for process in senders:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        emulator.terminate()
        await emulator.wait()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    stamps = sorted(float(message["timestamp"]) for message in messages)
    delivered = Counter(int(message["chat_id"]) for message in messages)
    sustained = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    # Without the second the senders were told to wait.
    paused_seconds = 1.0 if stats.get("count_429") else 0.0
    span = stamps[-1] - stamps[0] - paused_seconds if len(stamps) > 1 else 0.0
    expected = set(range(7_000_000, 7_000_000 + arguments.chats))
    results = {
        "chats": arguments.chats,
        "senders": arguments.senders,
        "send_rate": arguments.rate,
        "emulator_limit": arguments.limit,
        "seconds_first_to_last": round(stamps[-1] - stamps[0], 2) if stamps else None,
        "sustained_messages_per_second": round(sustained, 1),
        "sustained_outside_the_pause": round((len(stamps) - 1) / span, 1) if span > 0 else None,
        "ratio_to_limit": round(sustained / arguments.limit, 3),
        "max_rate_observed": stats.get("max_rate_observed"),
        "count_429": stats.get("count_429"),
        "sends_during_pause": stats.get("sends_during_pause"),
        "lost": len(expected - set(delivered)),
        "duplicates": sum(count - 1 for count in delivered.values() if count > 1),
        "sender_cpu_seconds": [round(value, 1) for value in cpu.values()],
        "emulator_cpu_seconds": round(emulator_cpu, 1),
        # Queueing the messages included.
        "postgres_cpu_seconds": (
            round(postgres_after - postgres_before, 1)
            if postgres_before is not None and postgres_after is not None
            else None
        ),
        # Other work on the machine competes for the same cores.
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    width = max(len(key) for key in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(results, ensure_ascii=False))


def main() -> None:
    asyncio.run(run(parse_arguments()))


if __name__ == "__main__":
    main()
