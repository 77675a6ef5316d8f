"""Ingestion throughput: the real pipeline against a local feed server.

    .venv/bin/python bench/ingest.py [--feeds 300] [--items 50] [--chars 3000] [--repeat 3]
                                     [--processes N]

A separate process serves FEEDS generated feeds of ITEMS Russian news items each (about
CHARS characters of full text per item: plain text in yandex:full-text in even feeds, HTML
paragraphs with an image and a "Читайте также" block in content:encoded in odd ones; every
fifth feed in windows-1251) on 127.0.0.1, with ETag and Last-Modified. The pipeline ingests
them into a fresh SQLite file with the tagger on, then polls again (every feed answers 304).

Printed: wall and CPU time of both passes, peak memory (max RSS) of this process, and
the pipeline's CPU time divided by feedparser's parse-only CPU time on the same bytes.

"feedparser's parse alone", the yardstick of the target (pipeline CPU per new article at
most 1.5 times it), is `feedparser.parse(body, response_headers={"content-type": …})`
with feedparser's default settings, on the very bytes the server sent: what any consumer
of these feeds pays at the least. The ratio against feedparser with HTML sanitising and
URI resolution off (as the pipeline calls it, since it reduces HTML to text itself) is
printed beside it. The ratio is reported twice: with tagging, the target's figure (every
new article is tagged, lemmatised for the search index and read for facts: agreements
and figures), and with tagging switched off (so no facts either), where it measures what
fetching, decoding, cleaning, dedupe and storage add to parsing. Where the CPU goes is
printed per article and stage, each stage timed alone in this process on the same items.
CPU time of the same work varies by tens of percent from run to run on shared machines,
and drifts over minutes, so the measurements run in --repeat rounds (default 3), each
taken back to back (tagged pass, untagged pass, feedparser alone, the stages alone): a
ratio divides figures of one round, and the medians over the rounds are printed with
each round's ratio beside them.

By default the tagged pass parses and tags in threads of this process, as `digestbot
ingest` does. With `--processes N` it does so in N worker processes, as `digestbot run`
(N = 1) and `digestbot run --role ingest` do; the CPU of the workers counts in the pass's
CPU (read from /proc, the feed server's excluded), and their peak memory is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.procfs import children, cpu_seconds, peak_memory_mb  # noqa: E402
from ingest import workers as workers_module  # noqa: E402
from ingest.config import IngestConfig  # noqa: E402
from ingest.parse import parse_feed  # noqa: E402
from ingest.pipeline import IngestPipeline  # noqa: E402
from ingest.workers import create_ingest_pool  # noqa: E402
from storage import feeds as feed_repo  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from tagging import Tagger, TagResult  # noqa: E402

LAST_MODIFIED = "Wed, 30 Apr 2025 10:00:00 GMT"
FETCHED_AT = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

PARTNERS = [
    ("Узбекистан", "узбекской", "Ташкента", "Бухарской области"),
    ("Казахстан", "казахстанской", "Астаны", "Павлодарской области"),
    ("Таджикистан", "таджикской", "Душанбе", "Согдийской области"),
    ("Кыргызстан", "киргизской", "Бишкека", "Чуйской области"),
    ("Беларусь", "белорусской", "Минска", "Гомельской области"),
    ("Китай", "китайской", "Пекина", "провинции Хэйлунцзян"),
    ("Монголия", "монгольской", "Улан-Батора", "аймака Дархан-Уул"),
    ("Армения", "армянской", "Еревана", "Ширакской области"),
]
SUBJECTS = [
    ("поставки зерна", "аграрии"),
    ("строительство логистического центра", "перевозчики"),
    ("подготовку инженеров", "вузы"),
    ("совместное производство техники", "машиностроители"),
    ("обмен студентами", "университеты"),
    ("экспорт продукции нефтехимии", "нефтехимики"),
    ("гастроли театров", "артисты"),
    ("поставки молочной продукции", "переработчики"),
]
TITLES = [
    "Омская область и {country} договорились про {subject}",
    "Омские {actors} обсудили с делегацией из {capital} {subject}",
    "Губернатор встретился с представителями {region}: в центре внимания {subject}",
    "{country} и Прииртышье подпишут соглашение про {subject}",
    "В Омске прошёл деловой форум с участием {adjective} стороны",
]
SENTENCES = [
    "Переговоры прошли в министерстве экономики Омской области, сообщила пресс-служба "
    "регионального правительства.",
    "Делегацию {capital} возглавил заместитель руководителя {region}, в её составе — "
    "{number} представителей предприятий.",
    "Стороны обсудили {subject} и договорились создать рабочую группу, которая подготовит "
    "дорожную карту до конца {month}.",
    "По словам министра, товарооборот региона с партнёрами из страны «{country}» за прошлый год "
    "вырос на {percent} процентов и превысил {number} миллионов рублей.",
    "Омские {actors} готовы поставлять продукцию уже в этом году, а {adjective} сторона "
    "предлагает открыть в Омске представительство своих компаний.",
    "Гости посетили промышленные площадки Ленинского и Кировского округов, а также "
    "выставочный центр «Интерсиб».",
    "Следующая встреча запланирована в {capital} в {month_in}; к ней стороны подготовят "
    "перечень совместных проектов.",
    "Эксперты отмечают, что прямое авиасообщение и новые маршруты грузовых поездов "
    "делают сотрудничество выгоднее для малого бизнеса.",
    "В областном министерстве добавили, что для экспортёров проведут серию семинаров о "
    "таможенных процедурах и сертификации продукции.",
    "Напомним, в прошлом году Омскую область посетили {number} официальных делегаций из "
    "стран СНГ и Азии.",
]
MONTHS = ["мая", "июня", "июля", "августа", "сентября", "октября"]
MONTHS_IN = ["мае", "июне", "июле", "августе", "сентябре", "октябре"]
RU_DAYS = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
RU_MONTHS = ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]


@dataclass(frozen=True, slots=True)
class GeneratedFeed:
    path: str
    body: bytes
    content_type: str
    etag: str


def _date(moment: datetime, style: int) -> str:
    local = moment.astimezone(UTC) + timedelta(hours=3)
    if style == 0:
        day = RU_DAYS[local.weekday()]
        return f"{day}, {local.day:02d} {RU_MONTHS[local.month - 1]} {local:%Y %H:%M:%S} +0300"
    if style == 1:
        return f"{local:%a, %d %b %Y %H:%M:%S} MSK"
    return moment.isoformat()


def item_xml(
    feed_index: int, item_index: int, chars: int, rng: random.Random, *, html: bool
) -> str:
    country, adjective, capital, region = rng.choice(PARTNERS)
    subject, actors = rng.choice(SUBJECTS)
    month = rng.randrange(len(MONTHS))
    slots = {
        "country": country,
        "adjective": adjective,
        "capital": capital,
        "region": region,
        "subject": subject,
        "actors": actors,
        "month": MONTHS[month],
        "month_in": MONTHS_IN[month],
    }
    title = rng.choice(TITLES).format(**slots) + f" (выпуск {feed_index}-{item_index})"
    paragraphs: list[str] = []
    length = 0
    while length < chars:
        sentences = [
            rng.choice(SENTENCES).format(
                number=rng.randint(3, 900), percent=rng.randint(2, 60), **slots
            )
            for _ in range(rng.randint(2, 4))
        ]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        length += len(paragraph)
    published = FETCHED_AT - timedelta(minutes=37 * item_index + feed_index)
    link = f"https://outlet-{feed_index}.example/news/{item_index}?utm_source=rss"
    if html:
        body = (
            f'<p><img src="https://outlet-{feed_index}.example/img/{item_index}.jpg" alt=""></p>'
            + "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs[:2])
            + '<div class="read-also"><p>Читайте также:</p><ul>'
            + f'<li><a href="/news/{item_index + 1}">Омские новости дня</a></li></ul></div>'
            + "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs[2:])
        )
        full_text = f"<content:encoded><![CDATA[{body}]]></content:encoded>"
    else:
        plain = "\n\n".join(paragraphs)
        full_text = f"<yandex:full-text>{escape(plain)}</yandex:full-text>"
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid><pubDate>{_date(published, item_index % 3)}</pubDate>"
        f"<description>{escape(paragraphs[0])}</description>"
        f"<category>Экономика</category>{full_text}</item>"
    )


def generate_feeds(feeds: int, items: int, chars: int) -> list[GeneratedFeed]:
    generated: list[GeneratedFeed] = []
    for feed_index in range(feeds):
        rng = random.Random(feed_index)
        encoding = "windows-1251" if feed_index % 5 == 4 else "utf-8"
        html = feed_index % 2 == 1
        body = (
            f'<?xml version="1.0" encoding="{encoding}"?>\n'
            '<rss version="2.0" xmlns:yandex="http://news.yandex.ru" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Омское издание № {feed_index}</title>"
            f"<link>https://outlet-{feed_index}.example/</link>"
            "<description>Новости Омска и области</description>"
            + "".join(item_xml(feed_index, n, chars, rng, html=html) for n in range(items))
            + "</channel></rss>"
        ).encode(encoding)
        content_type = "application/rss+xml" + ("; charset=utf-8" if encoding == "utf-8" else "")
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        generated.append(GeneratedFeed(feed_path(feed_index), body, content_type, etag))
    return generated


def serve(feeds: int, items: int, chars: int, ports: multiprocessing.Queue[int]) -> None:
    """Runs in a child process, so serving costs neither the pipeline's CPU nor memory."""
    from aiohttp import web

    by_path = {feed.path: feed for feed in generate_feeds(feeds, items, chars)}

    async def handle(request: web.Request) -> web.Response:
        feed = by_path.get(request.path)
        if feed is None:
            raise web.HTTPNotFound()
        headers = {
            "Content-Type": feed.content_type,
            "ETag": feed.etag,
            "Last-Modified": LAST_MODIFIED,
        }
        if request.headers.get("If-None-Match") == feed.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=feed.body, headers=headers)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ports.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class _NoTagging(Tagger):
    def tag_many(self, items: Iterable[tuple[str | None, str]]) -> list[TagResult]:
        return [TagResult((), (), ()) for _ in items]


def _no_lemmas(text: str) -> str:
    return ""


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _workers(exclude: int) -> list[int]:
    """This process's children but `exclude` (the feed server): the worker processes."""
    return [pid for pid in children(os.getpid()) if pid != exclude]


@dataclass(frozen=True, slots=True)
class PassResult:
    wall: float
    cpu: float
    new_items: int
    unchanged: int
    failed: int


def feed_path(feed_index: int) -> str:
    return f"/feeds/{feed_index}.xml"


@dataclass(frozen=True, slots=True)
class Workers:
    """Worker processes the tagged pass parses and tags in, and the process whose CPU
    is not theirs (the feed server)."""

    pool: Executor
    server_pid: int

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in _workers(self.server_pid))


async def run_passes(
    base: str,
    paths: Sequence[str],
    tagger: Tagger,
    *,
    tagging: bool,
    passes: int,
    workers: Workers | None = None,
) -> list[PassResult]:
    with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        await upgrade_database(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        try:
            async with session_factory() as session:
                for path in paths:
                    await feed_repo.add_feed(session, base + path, fetch_full_text=False)
                await session.commit()
            # Every feed is on one host here; in production they are spread over many.
            config = IngestConfig(
                concurrency=16, per_host=16, timeout=60, allow_private_addresses=True
            )
            if not tagging:
                pipeline = IngestPipeline(
                    session_factory, _NoTagging(), config, lemmatize=_no_lemmas
                )
            elif workers is not None:
                pipeline = IngestPipeline(session_factory, None, config, executor=workers.pool)
            else:
                pipeline = IngestPipeline(session_factory, tagger, config)
            results: list[PassResult] = []

            def cpu_now() -> float:
                own = time.process_time()
                return own + workers.cpu() if tagging and workers is not None else own

            for _ in range(passes):
                wall, cpu = time.perf_counter(), cpu_now()
                outcomes = await pipeline.run_once(due_only=False)
                results.append(
                    PassResult(
                        wall=time.perf_counter() - wall,
                        cpu=cpu_now() - cpu,
                        new_items=sum(o.new_items for o in outcomes),
                        unchanged=sum(o.status == "unchanged" for o in outcomes),
                        failed=sum(o.status == "failed" for o in outcomes),
                    )
                )
                failures = [o.error for o in outcomes if o.error]
                if failures:
                    print(f"  failures: {failures[:3]}")
            return results
        finally:
            await engine.dispose()


def _warm_up(pool: Executor, processes: int, base: str) -> None:
    """Loads the workers' taggers before anything is measured, as this process's is: a
    few calls at once per worker, so that each worker gets some."""
    item = parse_feed(
        generate_feeds(1, 1, 300)[0].body,
        url=base + feed_path(0),
        content_type="application/rss+xml; charset=utf-8",
        fetched_at=FETCHED_AT,
    ).items
    calls = [pool.submit(workers_module.analyse, item) for _ in range(4 * processes)]
    for call in calls:
        call.result()


def parse_only_cpu(feeds: Sequence[GeneratedFeed], *, sanitize: bool) -> float:
    import feedparser

    started = time.process_time()
    for feed in feeds:
        feedparser.parse(
            feed.body,
            response_headers={"content-type": feed.content_type},
            sanitize_html=sanitize,
            resolve_relative_uris=sanitize,
        )
    return time.process_time() - started


def our_parse_cpu(feeds: Sequence[GeneratedFeed]) -> float:
    started = time.process_time()
    for feed in feeds:
        parse_feed(
            feed.body,
            url="https://bench.example" + feed.path,
            content_type=feed.content_type,
            fetched_at=FETCHED_AT,
        )
    return time.process_time() - started


def stage_breakdown(feeds: Sequence[GeneratedFeed], tagger: Tagger) -> list[tuple[str, float]]:
    """CPU seconds of each stage of a new article's handling, timed alone on the feeds'
    items: parsing (decode, feedparser, cleaning), tags, search lemmas, facts."""
    from ingest.facts_backfill import new_facts
    from ingest.pipeline import _within_article_limit
    from tagging import lemmatize_for_search

    started = time.process_time()
    items = [
        _within_article_limit(item)
        for feed in feeds
        for item in parse_feed(
            feed.body,
            url="https://bench.example" + feed.path,
            content_type=feed.content_type,
            fetched_at=FETCHED_AT,
        ).items
    ]
    parsing = time.process_time() - started
    started = time.process_time()
    results = tagger.tag_many([(item.title, item.text) for item in items])
    tagging = time.process_time() - started
    started = time.process_time()
    for item in items:
        lemmatize_for_search(f"{item.title} {item.text}")
    lemmas = time.process_time() - started
    started = time.process_time()
    for item, result in zip(items, results, strict=True):
        new_facts(
            item.title, item.text, result.country_codes, item.published_at, result.region_codes
        )
    facts = time.process_time() - started
    return [
        ("parse_feed (decode, feedparser, clean)", parsing),
        ("tags", tagging),
        ("search lemmas", lemmas),
        ("facts", facts),
    ]


def _spread(runs: Sequence[float]) -> str:
    """The range of repeated CPU measurements, printed beside their median."""
    if len(runs) < 2:
        return ""
    return f"  (runs {min(runs):.2f}–{max(runs):.2f} s)"


@dataclass(frozen=True, slots=True)
class Round:
    """One round of measurements taken back to back, so that they share the machine's speed
    at that moment: the tagged pass, the untagged pass, feedparser alone (default and
    unsanitised), our parse_feed and the stages alone."""

    tagged: PassResult
    untagged: PassResult
    parse_default: float
    parse_unsanitised: float
    ours: float
    stages: list[tuple[str, float]]

    @property
    def tagged_ratio(self) -> float:
        return self.tagged.cpu / self.parse_default

    @property
    def rest(self) -> float:
        return self.tagged.cpu - sum(seconds for _, seconds in self.stages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of measurements (each: tagged pass, untagged pass, parse-only, stages)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="worker processes for the tagged pass (0: threads of this process)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.processes < 0:
        parser.error("--processes must be 0 or more")

    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(
        target=serve, args=(args.feeds, args.items, args.chars, ports), daemon=True
    )
    server.start()
    rounds: list[Round] = []
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=300)}"
        paths = [feed_path(feed_index) for feed_index in range(args.feeds)]
        loading = time.perf_counter()
        tagger = Tagger(0.5)
        tagger.warm_up()
        tagger.tag_many([("Омская область и Узбекистан", "Делегация прибыла в Омск.")])
        print(f"tagger loaded in {time.perf_counter() - loading:.1f} s")
        rss_before = _max_rss_mb()
        workers = None
        if args.processes:
            workers = Workers(create_ingest_pool(0.5, args.processes), server.pid or 0)
            _warm_up(workers.pool, args.processes, base)
            print(f"worker processes ({args.processes}) started, their taggers loaded")

        first, second = asyncio.run(
            run_passes(base, paths, tagger, tagging=True, passes=2, workers=workers)
        )
        rss_after = _max_rss_mb()
        # The same bytes the server sent, generated only now so that they do not count in the
        # pipeline's peak memory.
        feeds = generate_feeds(args.feeds, args.items, args.chars)
        for number in range(args.repeat):
            tagged = (
                first
                if number == 0
                else asyncio.run(
                    run_passes(base, paths, tagger, tagging=True, passes=1, workers=workers)
                )[0]
            )
            untagged = asyncio.run(run_passes(base, paths, tagger, tagging=False, passes=1))[0]
            rounds.append(
                Round(
                    tagged=tagged,
                    untagged=untagged,
                    parse_default=parse_only_cpu(feeds, sanitize=True),
                    parse_unsanitised=parse_only_cpu(feeds, sanitize=False),
                    ours=our_parse_cpu(feeds),
                    stages=stage_breakdown(feeds, tagger),
                )
            )
        workers_peak = max(
            (peak_memory_mb(pid) or 0.0 for pid in _workers(server.pid or 0)), default=0.0
        )
    finally:
        if workers is not None:
            workers.pool.shutdown(cancel_futures=True)
        server.kill()
        server.join()
    total_bytes = sum(len(feed.body) for feed in feeds)

    def median(values: Iterable[float]) -> float:
        return statistics.median(list(values))

    print(
        f"{args.feeds} feeds × {args.items} items, ~{args.chars} characters of text each; "
        f"{total_bytes / 1e6:.1f} MB of feed XML; {args.repeat} rounds"
    )
    print()
    print(
        f"first pass (tagger on):   {median(r.tagged.wall for r in rounds):6.2f} s wall, "
        f"{median(r.tagged.cpu for r in rounds):6.2f} s CPU, {first.new_items} articles "
        f"stored, {first.failed} feeds failed{_spread([r.tagged.cpu for r in rounds])}"
    )
    print(
        f"second pass (all 304):    {second.wall:6.2f} s wall, {second.cpu:6.2f} s CPU, "
        f"{second.unchanged} feeds unchanged"
    )
    print(
        f"first pass (tagger off):  {median(r.untagged.wall for r in rounds):6.2f} s wall, "
        f"{median(r.untagged.cpu for r in rounds):6.2f} s CPU, "
        f"{rounds[0].untagged.new_items} articles stored"
        f"{_spread([r.untagged.cpu for r in rounds])}"
    )
    print(
        f"peak memory (max RSS):    {rss_after:6.0f} MB "
        f"({rss_before:.0f} MB with the tagger loaded, before the first pass)"
    )
    if args.processes:
        print(
            f"tagged passes in worker processes ({args.processes}): their CPU is counted in "
            f"the passes' CPU; the largest peak memory of one: {workers_peak:.0f} MB"
        )
    print()
    for label, runs in (
        ("feedparser parse-only CPU, default settings: ", [r.parse_default for r in rounds]),
        ("feedparser parse-only CPU, sanitising off:   ", [r.parse_unsanitised for r in rounds]),
        ("our parse_feed (decode + feedparser + clean):", [r.ours for r in rounds]),
    ):
        print(f"{label} {median(runs):6.2f} s{_spread(runs)}")
    print()
    print("pipeline CPU / feedparser parse-only CPU, each round's own figures")
    print("                                            default   sanitising off   rounds")
    for label, numerator in (
        ("with tagging (target ≤ 1.5 on default):", lambda r: r.tagged.cpu),
        ("without tagging:                       ", lambda r: r.untagged.cpu),
    ):
        ratios = [numerator(r) / r.parse_default for r in rounds]
        unsanitised = [numerator(r) / r.parse_unsanitised for r in rounds]
        print(
            f"  {label}    {median(ratios):5.2f}     {median(unsanitised):5.2f}"
            f"            {', '.join(f'{ratio:.2f}' for ratio in ratios)}"
        )
    print("  (medians over the rounds; the first round's tagged pass is the first pass above)")
    articles = first.new_items or 1
    print()
    print("CPU per new article, each stage alone, medians      ms   × feedparser default")
    per_parse = 1000 * median(r.parse_default for r in rounds) / articles
    print(f"  feedparser.parse, default settings       {per_parse:7.2f}   1.00")
    for index, (name, _) in enumerate(rounds[0].stages):
        per = 1000 * median(r.stages[index][1] for r in rounds) / articles
        print(f"  {name:40} {per:7.2f}   {per / per_parse:4.2f}")
    rest = median(r.rest / r.parse_default for r in rounds)
    print(f"  the rest: fetch, dedupe, storage, threads {rest * per_parse:6.2f}   {rest:4.2f}")
    tagged_ratio = median(r.tagged_ratio for r in rounds)
    print(
        f"  the tagged pass in all                   {tagged_ratio * per_parse:7.2f}"
        f"   {tagged_ratio:4.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
