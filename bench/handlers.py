"""Command latency: from an update received to the reply sent, for /agreements.

    .venv/bin/python bench/handlers.py [--articles 100000] [--runs 1000]

Fills a fresh SQLite database (migrated, then synthetic articles, tags and facts written
with plain SQL: an agreement for most articles on the agreements topic, a third of them
reported by a second outlet, i.e. one fact with two sources, and trade figures) and feeds
real `/agreements <country>` updates, whose answer opens with the register of agreements,
through the real Dispatcher (middlewares, routers, storage, rendering). The Bot API is a
double at the HTTP-session boundary that timestamps the sendMessage call, so the figures
are the bot's own work. Prints p50/p95/p99 latency; the target is p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from aiogram.methods import SendMessage, TelegramMethod  # noqa: E402
from aiogram.types import Update  # noqa: E402

from bot.app import create_bot, create_dispatcher  # noqa: E402
from core.settings import Settings  # noqa: E402
from handlers.middlewares import TokenBucket  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database_sync  # noqa: E402
from tagging import topics  # noqa: E402
from testing.telegram import BOT_TOKEN, MockedSession  # noqa: E402

COUNTRIES = ("UZ", "TJ", "KZ", "KG", "TM", "BY", "CN", "MN", "AZ", "AM", "GE", "TR", "IR", "IN")
# Share of articles about each country: a few partners dominate the regional press.
COUNTRY_WEIGHTS = (14, 8, 20, 6, 3, 10, 12, 3, 3, 3, 2, 4, 2, 3)
TOPICS = tuple(topic.id for topic in topics())
QUERIES = ("Узбекистан", "узбекистане", "Казахстан", "kz", "Киргизия", "Китай", "Беларусь")
WORDS = [
    "омский",
    "регион",
    "делегация",
    "соглашение",
    "сотрудничество",
    "поставка",
    "зерно",
    "завод",
    "выставка",
    "университет",
    "студент",
    "инвестиция",
    "проект",
    "губернатор",
    "министр",
    "торговля",
    "экспорт",
    "импорт",
    "логистика",
    "железная",
    "дорога",
    "авиарейс",
    "культура",
    "фестиваль",
    "молодёжь",
    "энергетика",
    "нефть",
]
SOURCES = ("БК55", "Омскинформ", "Омская правда", "НГС55", "Правительство Омской области")


def fill_database(path: Path, count: int, seed: int = 7) -> None:
    """Synthetic articles over two years, 1–2 countries and 1–2 topics each."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    articles: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    reports: list[tuple[int, str, datetime, str]] = []  # article, country, published, topic
    for number in range(1, count + 1):
        published = now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        words = rng.sample(WORDS, 8)
        title = " ".join(words).capitalize() + f" № {number}"
        articles.append(
            (
                number,
                f"guid-{number}",
                f"https://example.ru/news/{number}",
                title,
                "Краткое содержание статьи " + " ".join(rng.sample(WORDS, 20)),
                "",
                rng.choice(SOURCES),
                published.isoformat(sep=" "),
                published.isoformat(sep=" "),
                f"{number:064x}",
                " ".join(words),
            )
        )
        codes = set(rng.choices(COUNTRIES, COUNTRY_WEIGHTS, k=rng.randint(1, 2)))
        for code in codes:
            tags.append((number, "country", code, round(rng.uniform(0.3, 1.0), 2)))
        for topic in set(rng.choices(TOPICS, k=rng.randint(1, 2))):
            tags.append((number, "topic", topic, round(rng.uniform(0.3, 1.0), 2)))
            if topic in {"agreements", "trade"} and rng.random() < 0.7:
                reports.append((number, min(codes), published, topic))
    with connection:
        connection.executemany(
            "INSERT INTO articles (id, guid, url, title, summary, full_text, source, "
            "published_at, fetched_at, content_hash, search_lemmas) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            articles,
        )
        connection.executemany(
            "INSERT INTO article_tags (article_id, kind, value, score) VALUES (?, ?, ?, ?)", tags
        )
        _fill_facts(connection, reports, rng)
    connection.execute("ANALYZE")
    connection.close()


def command_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Анна"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Анна", "language_code": "ru"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def measure(database: Path, runs: int, warmup: int) -> list[float]:
    url = f"sqlite+aiosqlite:///{database}"
    settings = Settings(
        bot_token=BOT_TOKEN,
        database_url=url,
        _env_file=None,
    )
    engine = create_engine(url)
    session = MockedSession()
    bot = create_bot(settings, session=session)
    unlimited = TokenBucket(capacity=10**9, rate=10**9)
    dispatcher = create_dispatcher(
        settings=settings,
        session_factory=create_session_factory(engine),
        message_bucket=unlimited,
        callback_bucket=unlimited,
    )
    replied_at: list[float] = []

    def on_request(method: TelegramMethod[Any]) -> None:
        if isinstance(method, SendMessage):
            replied_at.append(time.perf_counter())
            if "Реестр соглашений" not in method.text:
                raise RuntimeError("the answer does not open with the register of agreements")

    session.on_request = on_request
    latencies: list[float] = []
    try:
        for number in range(warmup + runs):
            text = f"/agreements {QUERIES[number % len(QUERIES)]}"
            update = Update.model_validate(
                command_update(number + 1, 10_000 + number % 50, text), context={"bot": bot}
            )
            replied_at.clear()
            started = time.perf_counter()
            await dispatcher.feed_update(bot, update)
            if len(replied_at) != 1:
                raise RuntimeError(f"expected one reply to {text!r}, got {len(replied_at)}")
            if number >= warmup:
                latencies.append((replied_at[0] - started) * 1000)
    finally:
        await engine.dispose()
        await bot.session.close()
    return latencies


def _fill_facts(
    connection: sqlite3.Connection,
    reports: list[tuple[int, str, datetime, str]],
    rng: random.Random,
) -> None:
    """One fact per report; every third report repeats the previous fact of its country and
    kind (another outlet), so the fact gains a second source."""
    facts: list[tuple[Any, ...]] = []
    countries: list[tuple[Any, ...]] = []
    sources: list[tuple[int, int]] = []
    last: dict[tuple[str, str], int] = {}
    for article_id, code, published, topic in reports:
        kind = "agreement" if topic == "agreements" else "figure"
        previous = last.get((code, kind))
        if previous is not None and rng.random() < 1 / 3:
            sources.append((previous, article_id))
            continue
        fact_id = len(facts) + 1
        sort_at = published.isoformat(sep=" ")
        if kind == "agreement":
            subject = "соглашение о " + " ".join(rng.sample(WORDS, 4))
            facts.append(
                (
                    fact_id,
                    kind,
                    f"{fact_id:064x}",
                    code,
                    subject,
                    "Омская область\nпартнёр",
                    "signed" if rng.random() < 0.8 else "planned",
                    None,
                    None,
                    None,
                    None,
                    sort_at,
                )
            )
        else:
            facts.append(
                (
                    fact_id,
                    kind,
                    f"{fact_id:064x}",
                    code,
                    "",
                    "",
                    None,
                    "trade_turnover",
                    round(rng.uniform(1, 900), 1),
                    "млн долл.",
                    0,
                    sort_at,
                )
            )
        countries.append((fact_id, code, kind, sort_at))
        sources.append((fact_id, article_id))
        last[(code, kind)] = fact_id
    connection.executemany(
        "INSERT INTO facts (id, kind, key, countries, subject, parties, status, indicator, "
        "value, unit, change, sort_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*fact, fact[-1]) for fact in facts],
    )
    connection.executemany(
        "INSERT INTO fact_countries (fact_id, country, kind, sort_at) VALUES (?, ?, ?, ?)",
        countries,
    )
    connection.executemany(
        "INSERT OR IGNORE INTO fact_sources (fact_id, article_id) VALUES (?, ?)", sources
    )
    print(f"facts: {len(facts):,} ({len(sources):,} sources)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.db"
        started = time.perf_counter()
        upgrade_database_sync(f"sqlite+aiosqlite:///{database}")
        fill_database(database, args.articles)
        print(f"database: {args.articles:,} articles in {time.perf_counter() - started:.1f} s")
        latencies = asyncio.run(measure(database, args.runs, args.warmup))
    p95 = percentile(latencies, 0.95)
    print(f"/agreements, {len(latencies)} runs, update received -> sendMessage:")
    print(
        f"  p50 {percentile(latencies, 0.5):.1f} ms   p95 {p95:.1f} ms   "
        f"p99 {percentile(latencies, 0.99):.1f} ms   max {max(latencies):.1f} ms   "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )
    print(f"  target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'}")
    return 0 if p95 < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
