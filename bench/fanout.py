"""Digest fan-out against a Bot API emulator that enforces Telegram's limits.

    .venv/bin/python bench/fanout.py [--chats 10000] [--rate 28] [--articles 120]

Fills a fresh SQLite database with N subscribed chats that are all due at once and a day
of tagged articles, composes every digest into the outbox (timed), then drains it with
the real Sender into the emulator (a separate process, 30 messages/s across chats) and
prints: sustained messages/s and its ratio to the limit (target ≥ 0.93), 429 answers,
sends during a pause (must be 0), duplicates and lost messages, peak memory, and the
compose time as a share of the send time (target < 10%). 10,000 chats take about six
minutes at 28 messages/s.

`--welcome-at K`: once K messages are out, one more chat subscribes, and its welcome
message (delivery.welcome) is composed and queued behind the rest of the fan-out; prints
how long after it was queued it reached the emulator and how many digest messages were
still waiting when it was queued.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import aiohttp  # noqa: E402
from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from core.metrics import SendReport  # noqa: E402
from delivery.daily import compose_due_digests  # noqa: E402
from delivery.labels import digest_labels  # noqa: E402
from delivery.sender import Sender  # noqa: E402
from delivery.welcome import WELCOME_KIND, compose_welcomes, request_welcome  # noqa: E402
from storage import articles as article_repo  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from storage.models import Article, Chat, ChatCountry, ChatTopic, OutboxMessage  # noqa: E402

TELEGRAM_LIMIT = 30.0
DEFAULT_TOKEN = "100000:AAEmulatedTokenForLocalTests_0123456789"
CITIES: dict[str, tuple[str, ...]] = {
    # where the news happened, in the prepositional case
    "UZ": ("Ташкенте", "Самарканде", "Бухаре", "Фергане", "Намангане"),
    "TJ": ("Душанбе", "Худжанде", "Кулябе", "Бохтаре"),
    "KZ": ("Астане", "Павлодаре", "Петропавловске", "Алматы", "Костанае"),
    "KG": ("Бишкеке", "Оше", "Караколе"),
    "TM": ("Ашхабаде", "Туркменабаде", "Мары"),
    "BY": ("Минске", "Гродно", "Гомеле", "Витебске"),
    "CN": ("Урумчи", "Харбине", "Пекине", "Чэнду"),
    "MN": ("Улан-Баторе", "Ховде", "Дархане"),
    "AZ": ("Баку", "Гяндже", "Сумгаите"),
    "AM": ("Ереване", "Гюмри", "Ванадзоре"),
}
SUBJECTS = (
    "Омские аграрии",
    "Делегация регионального минпромторга",
    "Омский госуниверситет",
    "Центр поддержки экспорта",
    "Губернатор Омской области",
    "Завод транспортного машиностроения",
    "Сибирские логисты",
    "Торгово-промышленная палата",
    "Фермеры Называевского района",
    "Омский театр драмы",
    "Молодёжный парламент",
    "Омский аэропорт",
    "Региональный минздрав",
    "Нефтехимики Прииртышья",
    "Экспортёры зерна",
    "Омский аграрный университет",
    "Шинный завод",
    "Мэрия Омска",
)
PRODUCTS = (
    "льна",
    "пшеницы",
    "подсолнечного масла",
    "сельхозтехники",
    "шин",
    "медицинского оборудования",
    "полимеров",
    "сыра и масла",
    "мебели",
    "кирпича",
    "минеральных удобрений",
    "комбикормов",
    "рапса",
    "гороха",
    "кабельной продукции",
)
ACTIONS: tuple[tuple[str, str], ...] = (
    ("подписали соглашение о поставках {product}", "agreements"),
    ("договорились об экспорте {product}", "trade"),
    ("открыли склад {product}", "trade"),
    ("запустили сборку {product}", "industry"),
    ("набрали группу студентов для изучения переработки {product}", "education_science"),
    ("отправили первый контейнерный поезд с партией {product}", "transport_logistics"),
    ("провели выставку {product}", "visits_events"),
    ("нашли инвестора для завода {product}", "investment"),
    ("показали спектакль о производителях {product}", "culture_tourism"),
    ("закупили оборудование для анализа {product}", "health"),
)
DETAILS = (
    "Объём первого контракта — {n} млн рублей.",
    "В программе визита — {n} встреч с предпринимателями.",
    "До конца года планируют отгрузить {n} тонн.",
    "Соглашение рассчитано на {n} лет.",
    "В проекте участвуют {n} омских предприятий.",
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=28.0, help="the sender's messages/s")
    parser.add_argument("--articles", type=int, default=120, help="tagged articles of the last day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", type=Path, help="keep the database at this path")
    parser.add_argument(
        "--welcome-at", type=int, help="a new subscriber's welcome queued after this many sends"
    )
    return parser.parse_args()


async def start_emulator(
    limit: float = TELEGRAM_LIMIT,
) -> tuple[asyncio.subprocess.Process, str]:
    """The Bot API emulator in a process of its own, allowing `limit` messages a second;
    returns the process and its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testing.telegram",
        "--port",
        "0",
        "--global-rate",
        str(limit),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
    return process, line.decode().strip()


async def control(api_url: str, action: str, **body: Any) -> Any:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{api_url}/_emulator/{action}", json=body) as response,
    ):
        payload = await response.json()
    if not payload.get("ok"):
        raise RuntimeError(f"emulator {action}: {payload}")
    return payload["result"]


def subscribed_chat(chat_id: int, **fields: Any) -> dict[str, Any]:
    """A `chats` row of a subscribed private chat in Omsk at 09:00, with `fields` over it."""
    return {
        "id": chat_id,
        "type": "private",
        "language": "ru",
        "timezone": "Asia/Omsk",
        "digest_time": "09:00",
        "notify_empty": False,
        "subscribed": True,
        "active": True,
        "paused": False,
        **fields,
    }


async def fill_database(
    session_factory: async_sessionmaker[AsyncSession], chats: int, articles: int, seed: int
) -> datetime:
    """Chats all due now, each following 1–4 countries; a day of articles. Returns now."""
    generator = random.Random(seed)
    now = datetime.now(UTC)
    codes = list(CITIES)
    async with session_factory() as session:
        for number in range(articles):
            code = codes[number % len(codes)]
            second = generator.choice(codes) if generator.random() < 0.2 else None
            action, topic = generator.choice(ACTIONS)
            product = generator.choice(PRODUCTS)
            city = generator.choice(CITIES[code])
            title = f"{generator.choice(SUBJECTS)} {action.format(product=product)} в {city}"
            detail = generator.choice(DETAILS).format(n=generator.randint(2, 900))
            seen = now - timedelta(minutes=5 + number * (23 * 60 // max(articles, 1)))
            article_id = await article_repo.insert_article(
                session,
                article_repo.NewArticle(
                    feed_id=None,
                    guid=f"bench-{number}",
                    url=f"https://omskinform.ru/news/{200000 + number}",
                    title=title,
                    summary=f"{title}. {detail}",
                    full_text="",
                    source=("БК55", "Омскинформ", "Омская правда", "НГС55")[number % 4],
                    published_at=seen - timedelta(minutes=15),
                    content_hash=f"{number:032d}",
                ),
            )
            assert article_id is not None
            tags = [article_repo.TagValue("country", code, 0.9)]
            if second and second != code:
                tags.append(article_repo.TagValue("country", second, 0.7))
            tags.append(article_repo.TagValue("topic", topic, 0.8))
            await article_repo.save_tags(session, article_id, tags)
            await session.execute(
                update(Article).where(Article.id == article_id).values(fetched_at=seen)
            )
        zones = ("Asia/Omsk", "Asia/Tashkent", "Europe/Moscow", "Asia/Novosibirsk")
        for start in range(0, chats, 2000):
            ids = range(start + 1, min(chats, start + 2000) + 1)
            chosen = {chat_id: generator.sample(codes, generator.randint(1, 4)) for chat_id in ids}
            await session.execute(
                insert(Chat),
                [
                    subscribed_chat(
                        chat_id,
                        timezone=zones[chat_id % len(zones)],
                        next_digest_at=now - timedelta(seconds=1),
                        last_digest_at=now - timedelta(days=1),
                    )
                    for chat_id in ids
                ],
            )
            await session.execute(
                insert(ChatCountry),
                [
                    {"chat_id": c, "country": code}
                    for c, picked in chosen.items()
                    for code in picked
                ],
            )
            topic_rows = [
                {"chat_id": c, "topic": topic}
                for c in ids
                if c % 5 == 0
                for topic in ("agreements", "trade", "investment")
            ]
            if topic_rows:
                await session.execute(insert(ChatTopic), topic_rows)
        await session.commit()
    return now


async def queue_welcome_when(
    session_factory: async_sessionmaker[AsyncSession],
    sender: Sender,
    chat_id: int,
    reached: asyncio.Event,
) -> tuple[int, int]:
    """Once `reached` is set, subscribes `chat_id` and queues its welcome; returns how
    many messages were out by then and how many digest messages were still waiting."""
    await reached.wait()
    now = datetime.now(UTC)
    async with session_factory() as session:
        await session.execute(
            insert(Chat), [subscribed_chat(chat_id, next_digest_at=now + timedelta(days=1))]
        )
        await session.execute(insert(ChatCountry), [{"chat_id": chat_id, "country": "UZ"}])
        await request_welcome(session, chat_id, now=now)
        await session.commit()
    report = await compose_welcomes(session_factory, now=now)
    assert report.messages == 1, report
    out = sender.report.sent
    async with session_factory() as session:
        waiting = await session.scalar(
            select(func.count()).where(
                OutboxMessage.status == "pending", OutboxMessage.kind != WELCOME_KIND
            )
        )
    sender.notify()
    return out, int(waiting or 0)


async def expected_per_chat(session_factory: async_sessionmaker[AsyncSession]) -> Counter[int]:
    async with session_factory() as session:
        rows = await session.execute(select(OutboxMessage.chat_id))
        return Counter(chat_id for (chat_id,) in rows)


async def run(arguments: argparse.Namespace) -> None:
    emulator, api_url = await start_emulator()
    workdir = tempfile.TemporaryDirectory(prefix="fanout-")
    database = arguments.database or Path(workdir.name) / "fanout.db"
    url = f"sqlite+aiosqlite:///{database}"
    try:
        await upgrade_database(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        print(f"filling {database} with {arguments.chats} chats, {arguments.articles} articles")
        now = await fill_database(
            session_factory, arguments.chats, arguments.articles, arguments.seed
        )

        started = time.perf_counter()
        composed = await compose_due_digests(
            session_factory, now=now, labels_for=digest_labels, threshold=0.5
        )
        compose_seconds = time.perf_counter() - started
        print(f"composed: {composed}")
        expected = await expected_per_chat(session_factory)

        bot = Bot(DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
        sender = Sender(bot, session_factory, rate=arguments.rate)
        total = sum(expected.values())

        reached = asyncio.Event()

        def progress(report: SendReport) -> None:
            if report.sent and report.sent % 1000 == 0:
                print(f"  sent {report.sent}/{total}", flush=True)
            if arguments.welcome_at is not None and report.sent >= arguments.welcome_at:
                reached.set()

        welcome_chat = arguments.chats + 1
        welcome: asyncio.Task[tuple[int, int]] | None = None
        if arguments.welcome_at is not None:
            welcome = asyncio.create_task(
                queue_welcome_when(session_factory, sender, welcome_chat, reached)
            )
        started = time.perf_counter()
        try:
            report = await sender.run_until_empty(progress)
            if welcome is not None:
                out_when_queued, waiting = await welcome
                # Queued after the sender ran out of rows: send it too.
                report = await sender.run_until_empty()
        finally:
            await bot.session.close()
        send_seconds = time.perf_counter() - started
        # Before the emulator's records are fetched: those are the benchmark's own memory.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await engine.dispose()

        stats = await control(api_url, "stats")
        sent = await control(api_url, "sent_messages")
    finally:
        emulator.send_signal(signal.SIGINT)
        await emulator.wait()
        if arguments.database is None:
            workdir.cleanup()

    if welcome is not None:
        arrivals = sorted(sent, key=lambda message: float(message["timestamp"]))
        (position,) = [
            index
            for index, message in enumerate(arrivals)
            if int(message["chat_id"]) == welcome_chat
        ]
        # In the emulator's clock: from the last message out when the welcome was queued.
        waited = float(arrivals[position]["timestamp"]) - float(
            arrivals[out_when_queued - 1]["timestamp"]
        )
        sent = [message for message in sent if int(message["chat_id"]) != welcome_chat]
        print(
            f"welcome: queued with {waiting} digest messages waiting "
            f"({waiting / arguments.rate:.1f} s of sending at {arguments.rate:g}/s); "
            f"{position - out_when_queued} messages went out before it, "
            f"{waited:.2f} s after the last one out when it was queued"
        )
    stamps = sorted(float(message["timestamp"]) for message in sent)
    delivered = Counter(int(message["chat_id"]) for message in sent)
    sustained = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    trim = len(stamps) // 20
    middle = stamps[trim : len(stamps) - trim]
    steady = (len(middle) - 1) / (middle[-1] - middle[0]) if len(middle) > 1 else 0.0
    duplicates = sum(max(0, delivered[c] - n) for c, n in expected.items())
    lost = sum(max(0, n - delivered[c]) for c, n in expected.items())
    unexpected = sum(n for c, n in delivered.items() if c not in expected)
    results = {
        "chats": arguments.chats,
        "digests": composed.digests,
        "messages": total,
        "compose_seconds": round(compose_seconds, 2),
        "send_seconds": round(send_seconds, 2),
        "compose_share_of_send": round(compose_seconds / send_seconds, 4) if send_seconds else None,
        "sustained_messages_per_second": round(sustained, 2),
        "steady_messages_per_second": round(steady, 2),
        "ratio_to_limit": round(sustained / TELEGRAM_LIMIT, 4),
        "count_429": stats["count_429"],
        "sends_during_pause": stats["sends_during_pause"],
        "sends_during_chat_pause": stats["sends_during_chat_pause"],
        "max_rate_observed": stats["max_rate_observed"],
        "duplicates": duplicates + unexpected,
        "lost": lost,
        "peak_memory_mb": round(peak_mb, 1),
    }
    print(f"sender: {report}")
    width = max(len(key) for key in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    verdicts = {
        "ratio ≥ 0.93": results["ratio_to_limit"] >= 0.93,
        "no sends during a pause": stats["sends_during_pause"] == 0,
        "nothing lost or repeated": lost == 0 and duplicates + unexpected == 0,
        "compose < 10% of send": compose_seconds < 0.1 * send_seconds,
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(json.dumps(results, ensure_ascii=False))


def main() -> None:
    asyncio.run(run(parse_arguments()))


if __name__ == "__main__":
    main()
