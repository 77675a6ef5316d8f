"""CPU per update of onboarding, in-process: the bot's own work without HTTP.

    .venv/bin/python bench/onboarding.py [--users 200] [--concurrency 10] [--profile]

Feeds the updates of N users going through onboarding (/start, two countries, next,
next, 09:00, Omsk) to the real Dispatcher (middlewares, routers, storage on a fresh
SQLite file) through the fake Telegram session, `--concurrency` users at a time, after
a warm-up of 20 users and the dispatcher's start-up (lookup tables, heap frozen).
The latest articles each new subscriber gets are composed meanwhile, as in the bot, and
sent by one sender run at the end, as the bot's one sender would send them (not drained
after each update, as handler tests do). Prints the process's CPU time per update
(time.process_time), steadier on a shared machine than bench/surge.py's wall-clock
figures; the fake Telegram's own work is included. `--profile` prints the measured
part's cProfile top entries (by own time, then by cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.app import create_bot, create_dispatcher  # noqa: E402
from core.settings import Settings  # noqa: E402
from delivery.sender import Sender  # noqa: E402
from handlers.middlewares import TokenBucket  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from testing.telegram import BOT_TOKEN, Conversation, MockedSession, Sent, button  # noqa: E402

STEPS = ("Узбекистан", "Таджикистан", "Далее", "Далее", "09:00", "Омск")


async def measure(
    folder: Path, users: int, concurrency: int, profiler: cProfile.Profile | None = None
) -> tuple[int, float]:
    url = f"sqlite+aiosqlite:///{folder / 'onboarding.db'}"
    await upgrade_database(url)
    settings = Settings(
        bot_token=BOT_TOKEN,
        database_url=url,
        default_timezone="Asia/Omsk",
        default_digest_time="09:00",
        _env_file=None,
    )
    engine = create_engine(url)
    telegram = MockedSession()
    bot = create_bot(settings, session=telegram)
    unlimited = TokenBucket(capacity=10**9, rate=10**9)
    session_factory = create_session_factory(engine)
    dispatcher = create_dispatcher(
        settings=settings,
        session_factory=session_factory,
        message_bucket=unlimited,
        callback_bucket=unlimited,
    )
    updates = 0

    async def onboard(user: int) -> None:
        nonlocal updates
        chat = Conversation(dispatcher, bot, telegram, user, drain_outbox=False)

        def mine(sent: Sequence[Sent]) -> list[Sent]:
            # Other users' calls interleave in the session's log.
            return [item for item in sent if str(getattr(item.method, "chat_id", "")) == str(user)]

        sent = await chat.send("/start")
        updates += 1
        for label in STEPS:
            sent = await chat.press(button(mine(sent), label))
            updates += 1

    gate = asyncio.Semaphore(concurrency)

    async def one(user: int) -> None:
        async with gate:
            await onboard(user)

    try:
        await asyncio.gather(*(one(7_000_000 + number) for number in range(20)))
        # The dispatcher's start-up, as `digestbot run` has it: the lookup tables load, then
        # what is loaded is frozen.
        await dispatcher.emit_startup(bot=bot)
        updates = 0
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(one(8_000_000 + number) for number in range(users)))
        # The latest articles each new subscriber gets, composed meanwhile, sent by one
        # sender run: what the bot process's sender does for them.
        await dispatcher.workflow_data["welcome"].join()
        await Sender(bot, session_factory, rate=1000.0).run_until_empty()
        if profiler is not None:
            profiler.disable()
        return updates, time.process_time() - started
    finally:
        await engine.dispose()
        await bot.session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    arguments = parser.parse_args()
    if arguments.users < 1 or arguments.concurrency < 1:
        parser.error("--users and --concurrency must be at least 1")
    profiler = cProfile.Profile() if arguments.profile else None
    with tempfile.TemporaryDirectory() as folder:
        updates, cpu = asyncio.run(
            measure(Path(folder), arguments.users, arguments.concurrency, profiler)
        )
    print(
        f"{updates} updates of {arguments.users} users, {arguments.concurrency} at a time: "
        f"CPU {1000 * cpu / updates:.2f} ms per update"
        + (" (under the profiler)" if profiler is not None else "")
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
