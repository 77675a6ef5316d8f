"""The weekly brief for many chats, and the latency of instant messages.

    .venv/bin/python bench/weekly.py [--chats 10000] [--articles 1400] [--sets random|presets]
                                     [--send-seconds 120] [--profile] [--skip-latency]

1. Weekly brief. Fills a fresh SQLite database with N chats whose Monday brief is due now
   (the chat and article generator of bench/fanout.py: 1–4 of ten countries per chat, four
   time zones) and two weeks of tagged articles, composes every brief into the outbox with
   the real pass (`delivery.weekly.compose_due_weekly`), and prints its wall and CPU time
   against the time the messages take to send at Telegram's 30 messages/s (two messages a
   brief: the text and the chart). Target: compose ≤ 5 % of send. `--sets random` gives
   every chat a random set (385 possible charts: a worst case); `--sets presets` gives 70 %
   of chats one of the onboarding presets or a single country, the rest random, closer to
   how /start is used. `--profile` prints the compose pass's cProfile top entries.

   Charts are not drawn while composing: each distinct chart is queued as a recipe and the
   sender draws it in its drawing process, ahead of the rows that show it. The script then
   runs the real Sender at 30 messages/s against the HTTP Bot API emulator until every
   chart is drawn (at most `--send-seconds`) and prints the drawing's CPU time and the rate
   kept meanwhile; then, as a control, the same sender on a copy of the outbox whose charts
   were all drawn beforehand, for as long. Equal rates: drawing does not slow sending.

2. Instant latency. Under the rule of delivery.instant, an article stored at t goes out at
   max(t, last instant message + gap) + up to one clock tick + the send. With the feed poll
   interval P as the gap (15 minutes by default) and articles arriving only at polls, the
   first article after a quiet spell waits one tick (DIGEST_CHECK_SECONDS, 30 s by
   default); one stored during a gap waits for the gap's end, at most P; so the bound is
   P + tick. The script measures this with the real passes and the real Sender against the
   HTTP Bot API emulator at a shorter scale (gap 4 s, tick 0.5 s, articles at random
   moments over 40 s), prints the measured latency from the article's fetched_at to the
   emulator's acceptance of sendMessage, and the bound scaled to 15 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from sqlalchemy import delete, func, insert, select, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from bench.fanout import CITIES, fill_database, subscribed_chat  # noqa: E402
from core.metrics import SendReport  # noqa: E402
from delivery import weekly as weekly_module  # noqa: E402
from delivery.instant import compose_instant_messages  # noqa: E402
from delivery.labels import digest_labels  # noqa: E402
from delivery.sender import Sender  # noqa: E402
from delivery.weekly import compose_due_weekly  # noqa: E402
from digests.chart import draw_recipe  # noqa: E402
from storage import articles as article_repo  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from storage.media import store_drawn  # noqa: E402
from storage.models import (  # noqa: E402
    Article,
    Chat,
    ChatCountry,
    ChatInstantTopic,
    Media,
    OutboxMessage,
)
from testing.telegram import DEFAULT_TOKEN, BotApiEmulator  # noqa: E402

TELEGRAM_LIMIT = 30.0
T = TypeVar("T")
PRESETS: tuple[tuple[str, ...], ...] = (
    ("UZ", "TJ", "KZ", "KG", "TM"),
    ("KZ", "KG", "BY", "AM"),
    ("AZ", "AM", "BY", "KZ", "KG", "TJ", "TM", "UZ"),
    ("UZ",),
    ("KZ",),
    ("TJ",),
    ("CN",),
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=1400, help="articles over two weeks")
    parser.add_argument("--sets", choices=("random", "presets"), default="random")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--send-seconds", type=float, default=120.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    return parser.parse_args()


async def weekly(arguments: argparse.Namespace, workdir: Path) -> None:
    url = f"sqlite+aiosqlite:///{workdir / 'weekly.db'}"
    await upgrade_database(url)
    engine = create_engine(url)
    session_factory = create_session_factory(engine)
    now = await fill_database(session_factory, arguments.chats, arguments.articles, arguments.seed)
    generator = random.Random(arguments.seed)
    async with session_factory() as session:
        # Two weeks of articles instead of one day: spread evenly by id.
        ids = list(await session.scalars(select(Article.id)))
        for article_id in ids:
            back = timedelta(minutes=(article_id * 14 * 24 * 60) // max(len(ids), 1))
            await session.execute(
                update(Article)
                .where(Article.id == article_id)
                .values(published_at=now - back, fetched_at=now - back)
            )
        if arguments.sets == "presets":
            codes = list(CITIES)
            rows = []
            chat_ids = list(await session.scalars(select(Chat.id)))
            for chat_id in chat_ids:
                if generator.random() < 0.7:
                    picked: tuple[str, ...] = generator.choice(PRESETS)
                else:
                    picked = tuple(generator.sample(codes, generator.randint(1, 4)))
                rows += [{"chat_id": chat_id, "country": code} for code in picked]
            await session.execute(delete(ChatCountry))
            for start in range(0, len(rows), 5000):
                await session.execute(insert(ChatCountry), rows[start : start + 5000])
        await session.execute(
            update(Chat).values(weekly=True, daily=False, next_weekly_at=now - timedelta(seconds=1))
        )
        distinct_sets = await session.scalar(select(func.count(func.distinct(ChatCountry.country))))
        await session.commit()
    del distinct_sets
    profiler = cProfile.Profile() if arguments.profile else None
    if profiler is not None:
        # cProfile sees one thread: the composing thread's work runs in the loop's thread.
        async def in_this_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
            return function(*args, **kwargs)

        weekly_module.asyncio.to_thread = in_this_thread
    cpu = time.process_time()
    if profiler is not None:
        profiler.enable()
    report = await compose_due_weekly(session_factory, now=now, labels_for=digest_labels)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu
    async with session_factory() as session:
        messages = int(await session.scalar(select(func.count(OutboxMessage.id))) or 0)
        pictures = int(
            await session.scalar(select(func.count(func.distinct(OutboxMessage.media_id)))) or 0
        )
    send_seconds = messages / TELEGRAM_LIMIT
    print(f"weekly brief, {arguments.chats} chats, country sets: {arguments.sets}")
    print(f"  {report}")
    print(f"  outbox messages {messages} ({pictures} distinct chart pictures, queued as recipes)")
    print(f"  compose (no drawing): {report.seconds:.1f} s wall, {cpu:.1f} s CPU")
    print(f"  send at {TELEGRAM_LIMIT:.0f} messages/s: {send_seconds:.0f} s")
    share = report.seconds / send_seconds if send_seconds else 0.0
    print(f"  compose / send: {share:.1%} wall, {cpu / send_seconds:.1%} CPU (target ≤ 5 %)")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(30)
    await engine.dispose()
    # The control: the same outbox with every chart drawn beforehand (as composing did
    # before), sent for as long as the sender drew.
    shutil.copy(workdir / "weekly.db", workdir / "control.db")
    engine = create_engine(url)
    drawing = await run_sender(create_session_factory(engine), pictures, arguments.send_seconds)
    await engine.dispose()
    control_engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'control.db'}")
    control_factory = create_session_factory(control_engine)
    await draw_everything(control_factory)
    control = await run_sender(control_factory, None, drawing.elapsed)
    await control_engine.dispose()
    print(f"  sender (real Sender at {TELEGRAM_LIMIT:.0f}/s, Bot API emulator in this process):")
    sent = drawing.report
    print(
        f"    charts drawn by the sender's drawing process: {sent.charts_drawn} of {pictures} "
        f"in {drawing.elapsed:.1f} s, {sent.chart_seconds:.1f} s CPU "
        f"({sent.chart_seconds / max(sent.charts_drawn, 1):.2f} s each)"
    )
    print(
        f"    while drawing: sent {sent.sent} messages ({drawing.photos} pictures), "
        f"{sent.sent / drawing.elapsed:.1f} messages/s (limit {TELEGRAM_LIMIT:.0f}); "
        f"this process's CPU {drawing.cpu:.1f} s (sender, emulator, SQLite)"
    )
    print(
        f"    control, every chart drawn beforehand: sent {control.report.sent} messages in "
        f"{control.elapsed:.1f} s, {control.report.sent / control.elapsed:.1f} messages/s; "
        f"this process's CPU {control.cpu:.1f} s"
    )


@dataclass
class SenderRun:
    report: SendReport
    elapsed: float
    cpu: float
    photos: int


async def draw_everything(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        recipes = (await session.execute(select(Media.id, Media.recipe))).all()
        for media_id, recipe in recipes:
            if recipe is not None:
                await store_drawn(session, media_id, draw_recipe(recipe))
        await session.commit()


async def run_sender(
    session_factory: async_sessionmaker[AsyncSession], pictures: int | None, limit: float
) -> SenderRun:
    """Runs the real Sender at Telegram's rate against the emulator until every one of
    `pictures` charts is drawn (None: for `limit` seconds), at most `limit` seconds."""
    async with BotApiEmulator(rate_limits=False) as api:
        bot = Bot(
            DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        )
        sender = Sender(bot, session_factory, rate=TELEGRAM_LIMIT, idle_poll=0.1)
        cpu = time.process_time()
        began = time.monotonic()
        sender.start()
        while time.monotonic() - began < limit:
            await asyncio.sleep(min(1.0, max(0.0, limit - (time.monotonic() - began))))
            if pictures is None:
                continue
            async with session_factory() as session:
                drawn = await session.scalar(
                    select(func.count(Media.id)).where(Media.content.is_not(None))
                )
            if int(drawn or 0) >= pictures:
                break
        elapsed = time.monotonic() - began
        await sender.stop()
        cpu = time.process_time() - cpu
        await bot.session.close()
        photos = sum(1 for call in api.calls if call.method == "sendPhoto")
    return SenderRun(sender.report, elapsed, cpu, photos)


async def latency(workdir: Path, seed: int) -> None:
    gap, tick, span = 4.0, 0.5, 40.0
    url = f"sqlite+aiosqlite:///{workdir / 'instant.db'}"
    await upgrade_database(url)
    engine = create_engine(url)
    session_factory = create_session_factory(engine)
    generator = random.Random(seed)
    start = datetime.now(UTC)
    async with session_factory() as session:
        await session.execute(
            insert(Chat),
            [
                subscribed_chat(chat_id, daily=False, weekly=False, instant_seen_until=start)
                for chat_id in range(1, 51)
            ],
        )
        await session.execute(
            insert(ChatCountry), [{"chat_id": c, "country": "UZ"} for c in range(1, 51)]
        )
        await session.execute(
            insert(ChatInstantTopic),
            [{"chat_id": c, "topic": "agreements"} for c in range(1, 51)],
        )
        await session.commit()
    arrivals = sorted(generator.uniform(0, span) for _ in range(25))
    stored: dict[int, datetime] = {}
    async with BotApiEmulator(rate_limits=False) as api:
        bot = Bot(
            DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        )
        sender = Sender(bot, session_factory, rate=28.0, idle_poll=0.1)
        sender.start()
        began = time.monotonic()
        number = 0

        async def store_due() -> None:
            nonlocal number
            while arrivals and time.monotonic() - began >= arrivals[0]:
                arrivals.pop(0)
                number += 1
                async with session_factory() as session:
                    title = f"Омская область и Ташкент подписали соглашение №{number}"
                    article_id = await article_repo.insert_article(
                        session,
                        article_repo.NewArticle(
                            feed_id=None,
                            guid=f"lat-{number}",
                            url=f"https://bk55.ru/news/lat-{number}",
                            title=title,
                            summary=title,
                            full_text="",
                            source="БК55",
                            published_at=datetime.now(UTC),
                            content_hash=f"lat{number:029d}",
                        ),
                    )
                    assert article_id is not None
                    await article_repo.save_tags(
                        session,
                        article_id,
                        [
                            article_repo.TagValue("country", "UZ", 0.9),
                            article_repo.TagValue("topic", "agreements", 0.9),
                        ],
                    )
                    await session.commit()
                    stored[article_id] = datetime.now(UTC)

        while time.monotonic() - began < span + gap + 3 * tick:
            await store_due()
            report = await compose_instant_messages(
                session_factory,
                now=datetime.now(UTC),
                labels_for=digest_labels,
                min_gap=timedelta(seconds=gap),
            )
            if report.messages:
                sender.notify()
            await asyncio.sleep(tick)
        await asyncio.sleep(2)
        await sender.stop()
        await bot.session.close()
        async with session_factory() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.chat_id, OutboxMessage.article_ids, OutboxMessage.sent_at)
                )
            ).all()
        delays: list[float] = []
        per_chat: dict[int, int] = {}
        for chat_id, article_ids, sent_at in rows:
            per_chat[chat_id] = per_chat.get(chat_id, 0) + 1
            assert isinstance(sent_at, datetime), "every instant message was sent"
            sent = sent_at.replace(tzinfo=UTC) if sent_at.tzinfo is None else sent_at
            for article_id in article_ids.split(","):
                delays.append((sent - stored[int(article_id)]).total_seconds())
    await engine.dispose()
    print(
        f"instant latency at gap {gap:.0f} s, tick {tick} s, "
        f"{len(stored)} articles over {span:.0f} s"
    )
    print(
        f"  messages per chat {min(per_chat.values())}–{max(per_chat.values())} "
        f"(at most {int(span // gap) + 1} allowed by the gap)"
    )
    print(
        f"  ingest → sendMessage: median {statistics.median(delays):.2f} s, "
        f"max {max(delays):.2f} s (rule's bound: gap + tick + send = {gap + tick:.1f} s + send)"
    )
    poll, check = 15 * 60, 30
    print(
        f"  at POLL_INTERVAL_MINUTES=15, DIGEST_CHECK_SECONDS={check}: first article after a quiet "
        f"spell ≤ {check} s + send; worst case ≤ {(poll + check) / 60:.1f} min; a busy hour ≤ 4 "
        "messages per chat"
    )


async def run(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="weekly-") as directory:
        await weekly(arguments, Path(directory))
        if not arguments.skip_latency:
            await latency(Path(directory), arguments.seed)


def main() -> None:
    asyncio.run(run(parse_arguments()))


if __name__ == "__main__":
    main()
