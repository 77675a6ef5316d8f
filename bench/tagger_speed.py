"""Tagger throughput on one core for 3,000-character articles, its cold-start time, and how
its time grows with the length of one article.

    .venv/bin/python bench/tagger_speed.py [--articles 3000] [--chars 3000] [--source PATH]
                                           [--scaling-only]

Articles are built by joining excerpts of the evaluation set (../shared/eval/dev.jsonl, read
at run time) in shuffled order and cutting them to the requested length; without that file,
from sentences written for this script.  The process is pinned to one CPU where the OS
allows it, and CPU time of the process is reported next to wall-clock time, so that other
load on the machine does not distort the figure.

Two throughput figures are printed: the first pass over the articles, while the word cache
is still filling (every new word form goes through pymorphy3), and the steady state, which is
what a long-running bot sees once its vocabulary has been met.

The scaling lines tag single articles of 10,000, 100,000 and 1,000,000 characters, built
from the sentences written for this script, with the whole text read (the tagger's length
cap off), and print CPU time per character: tagging is linear when the three figures stay
within 1.5x of each other.  One shape is an ordinary article; the other is one sentence with
no full stop at all, the shape on which per-match work proportional to the sentence shows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tagging import MAX_ARTICLE_CHARACTERS, Tagger  # noqa: E402

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl"

_FALLBACK_SENTENCES = (
    "Делегация Омской области во главе с губернатором прибыла с рабочим визитом в Ташкент.",
    "Стороны подписали меморандум о сотрудничестве в сфере сельского хозяйства и образования.",
    "Товарооборот региона с Казахстаном по итогам полугодия вырос на двенадцать процентов.",
    "В Бишкеке прошли Дни культуры Новосибирской области, артисты дали концерт в филармонии.",
    "Генеральный консул Таджикистана обсудил с министром экономики вопросы трудовой миграции.",
    "Из аэропорта Тюмени запустят прямой рейс в Самарканд, полеты начнутся в мае.",
    "Китайская компания построит в Приамурье завод по глубокой переработке сои.",
    "На стадионе прошел товарищеский матч молодежных сборных, хозяева победили со счетом 2:1.",
    "Синоптики обещают резкое похолодание и снегопады в выходные дни.",
    "В мэрии обсудили ремонт дорог и благоустройство дворов в центральном округе города.",
    "Белорусские машиностроители поставят омским аграриям партию тракторов и комбайнов.",
    "Студенты из Монголии смогут обучаться в вузах Бурятии по региональной квоте.",
)


def build_articles(source: Path | None, count: int, chars: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pieces: list[str] = []
    if source is not None and source.exists():
        with source.open(encoding="utf-8") as handle:
            pieces = [json.loads(line)["text"] for line in handle if line.strip()]
    if not pieces:
        pieces = list(_FALLBACK_SENTENCES)
    articles: list[str] = []
    for _ in range(count):
        order = rng.sample(pieces, len(pieces))
        text = ""
        for piece in order:
            text += piece + "\n"
            if len(text) >= chars:
                break
        while len(text) < chars:
            text += rng.choice(pieces) + "\n"
        articles.append(text[:chars])
    return articles


def pin_to_one_cpu() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def cold_start_seconds(runs: int = 3) -> list[tuple[float, float]]:
    """Fresh interpreter: import, load dictionaries and data files, tag one article.
    (wall-clock, CPU) seconds of each run, measured from the first line of the program."""
    program = (
        "import time; started = time.perf_counter(); cpu = time.process_time()\n"
        "from tagging import Tagger\n"
        "Tagger().tag('Делегация Омской области посетила Ташкент', "
        "'Стороны подписали соглашение о сотрудничестве.')\n"
        "print(time.perf_counter() - started, time.process_time() - cpu)\n"
    )
    results = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", program],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall, cpu = output.stdout.strip().splitlines()[-1].split()
        results.append((float(wall), float(cpu)))
    return results


def measure(tagger: Tagger, articles: list[str]) -> tuple[float, float]:
    """Articles per second by CPU time and by wall-clock time."""
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for text in articles:
        tagger.tag(None, text)
    cpu = time.process_time() - cpu_started
    wall = time.perf_counter() - wall_started
    return len(articles) / max(cpu, 1e-9), len(articles) / max(wall, 1e-9)


SCALING_SIZES = (10_000, 100_000, 1_000_000)
# Characters tagged per size and round: small articles are repeated until this much text is
# read, so that each figure is a CPU time of about half a second, not a few milliseconds.
SCALING_BUDGET = 1_000_000
# The best of several rounds: other load on the machine only ever adds time.
SCALING_ROUNDS = 3
LINEAR_SPREAD = 1.5


def scaling_article(characters: int, *, one_sentence: bool) -> str:
    """An article of exactly `characters` characters from this script's own sentences: four
    sentences a paragraph, or, with `one_sentence`, a single sentence of clauses joined by
    commas, without a full stop or a line break."""
    rng = random.Random(characters)
    parts: list[str] = []
    length = 0
    while length < characters:
        sentence = rng.choice(_FALLBACK_SENTENCES)
        if one_sentence:
            piece = sentence.rstrip(".") + ", "
        else:
            piece = sentence + ("\n" if len(parts) % 4 == 3 else " ")
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:characters]


def seconds_per_character(tagger: Tagger, text: str) -> float:
    """CPU seconds per character of tagging `text` whole: the best of a few rounds."""
    repeats = max(1, SCALING_BUDGET // len(text))
    rates = []
    for _ in range(SCALING_ROUNDS):
        gc.collect()
        started = time.process_time()
        for _ in range(repeats):
            tagger.analyse(None, text, max_characters=None)
        rates.append((time.process_time() - started) / (repeats * len(text)))
    return min(rates)


def report_scaling(tagger: Tagger) -> None:
    print("Scaling, one article read whole (no length cap), CPU time:")
    for label, one_sentence in (("article", False), ("one sentence", True)):
        # The first, small article fills the word cache: every size then meets known words.
        tagger.analyse(None, scaling_article(SCALING_SIZES[0], one_sentence=one_sentence))
        rates = [
            seconds_per_character(tagger, scaling_article(size, one_sentence=one_sentence))
            for size in SCALING_SIZES
        ]
        spread = max(rates) / min(rates)
        verdict = "linear" if spread <= LINEAR_SPREAD else f"NOT linear (over {LINEAR_SPREAD}x)"
        figures = "; ".join(
            f"{size:,} chars {rate * size:.3f} s ({rate * 1e6:.2f} µs/char)"
            for size, rate in zip(SCALING_SIZES, rates, strict=True)
        )
        print(f"  {label:>12}: {figures}; spread {spread:.2f}x: {verdict}")
    capped = scaling_article(MAX_ARTICLE_CHARACTERS, one_sentence=False)
    at_cap = seconds_per_character(tagger, capped) * len(capped)
    print(
        f"One article at the length cap ({MAX_ARTICLE_CHARACTERS:,} characters of title and "
        f"text): {at_cap:.3f} s"
    )


def morphology_backend() -> str:
    import importlib.util

    if importlib.util.find_spec("dawg") is None:
        return "pure-Python DAWG reader (pymorphy3 without the [fast] extra)"
    return "compiled DAWG (pymorphy3[fast])"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument(
        "--scaling-only", action="store_true", help="only the time-per-character lines"
    )
    args = parser.parse_args(argv)

    pinning = pin_to_one_cpu()
    if args.scaling_only:
        tagger = Tagger()
        tagger.warm_up()
        print(f"{pinning}; morphology: {morphology_backend()}")
        report_scaling(tagger)
        return 0
    starts = cold_start_seconds()
    walls = [wall for wall, _ in starts]
    cpus = [cpu for _, cpu in starts]
    print(
        f"Cold start (new process: import + dictionaries + data files + first article): "
        f"median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU; "
        f"runs {', '.join(f'{w:.2f}/{c:.2f}' for w, c in starts)}"
    )

    articles = build_articles(args.source, args.articles, args.chars)
    tagger = Tagger()
    started = time.perf_counter()
    tagger.warm_up()
    print(f"Tagger construction in this process: {time.perf_counter() - started:.2f} s")
    print(
        f"Articles: {len(articles)} x {args.chars} characters; {pinning}; "
        f"morphology: {morphology_backend()}"
    )

    cpu_rate, wall_rate = measure(tagger, articles)
    print(
        f"First pass (word cache filling): {cpu_rate:7.0f} articles/s CPU, "
        f"{wall_rate:7.0f} articles/s wall"
    )
    cpu_rate, wall_rate = measure(tagger, articles)
    print(
        f"Steady state (words cached):     {cpu_rate:7.0f} articles/s CPU, "
        f"{wall_rate:7.0f} articles/s wall"
    )
    report_scaling(tagger)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
