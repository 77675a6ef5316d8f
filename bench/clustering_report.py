"""Figures for story merging: pairwise precision/recall on the written fixtures (and on
the labelled evaluation set's `group` field when ../shared/eval is present), and the time
to merge, compose and render 2,000 articles.

    .venv/bin/python bench/clustering_report.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digests import cluster  # noqa: E402
from digests.cluster import cluster_stories  # noqa: E402
from digests.compose import compose_digest  # noqa: E402
from digests.model import DigestArticle, Story, Subscription  # noqa: E402
from digests.render import render_digest  # noqa: E402
from testing.articles import (  # noqa: E402
    LABELS_RU,
    TOPIC_ORDER,
    load_story_fixture,
    merge_counts,
    realistic_articles,
    synthetic_articles,
)

EVAL_FILE = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def line(name: str, true: int, false: int, missed: int) -> str:
    precision = true / (true + false) if true + false else 1.0
    recall = true / (true + missed) if true + missed else 1.0
    return (
        f"{name:<28} same-story pairs {true + missed:>3}  merged right {true:>3}  "
        f"wrongly merged {false:>2}  missed {missed:>2}  "
        f"precision {precision:.3f}  recall {recall:.3f}"
    )


def eval_articles() -> tuple[list[DigestArticle], dict[int, str]]:
    """The evaluation excerpts, all at one moment (so only the text decides)."""
    moment = datetime(2026, 11, 20, tzinfo=UTC)
    articles: list[DigestArticle] = []
    gold: dict[int, str] = {}
    for number, raw in enumerate(EVAL_FILE.read_text(encoding="utf-8").splitlines()):
        record = json.loads(raw)
        articles.append(
            DigestArticle(
                id=number,
                title=record.get("title") or "",
                url=record.get("url") or "",
                source=record.get("source") or "",
                published_at=moment,
                first_seen_at=moment,
                countries={},
                topics={},
                summary=record["text"][:600],
            )
        )
        gold[number] = record.get("group") or record["id"]
    return articles, gold


def merged_pairs(stories: list[Story]) -> set[tuple[int, int]]:
    return {
        (first, second)
        for story in stories
        for first in story.article_ids
        for second in story.article_ids
        if first < second
    }


@contextmanager
def exhaustive_search() -> Iterator[None]:
    saved = cluster._MIN_POSTING_CAP
    cluster._MIN_POSTING_CAP = 10**9
    try:
        yield
    finally:
        cluster._MIN_POSTING_CAP = saved


def best_of(runs: int, action: Callable[[], object]) -> float:
    """Median CPU seconds of `runs` calls (CPU time: the machine may be busy)."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> int:
    print("Merging the same story (pairwise, threshold", cluster.DEFAULT_SIMILARITY, ")")
    for name in ("stories_tuning.json", "stories_heldout.json", "stories_heldout2.json"):
        articles, gold = load_story_fixture(name)
        print(line(f"{name} ({len(articles)})", *merge_counts(cluster_stories(articles), gold)))
    if EVAL_FILE.exists():
        articles, gold = eval_articles()
        counts = merge_counts(cluster_stories(articles), gold)
        print(line(f"eval groups ({len(articles)})", *counts))

    articles = realistic_articles(2000)
    gold = {article.id: article.url.split("/")[3] for article in articles}
    print(line("synthetic rewrites (2000)", *merge_counts(cluster_stories(articles), gold)))

    print()
    for name, articles in (
        ("2,000 articles, a week, rewrites", realistic_articles(2000)),
        ("2,000 articles, one day, rewrites", realistic_articles(2000, days=1)),
        ("2,000 articles, 83 stories x 24 copies", synthetic_articles(2000)),
    ):
        cold = best_of(1, lambda: cluster_stories(articles))  # noqa: B023
        warm = best_of(3, lambda: cluster_stories(articles))  # noqa: B023
        stories = cluster_stories(articles)
        found = merged_pairs(stories)
        with exhaustive_search():
            complete_seconds = best_of(1, lambda: cluster_stories(articles))  # noqa: B023
            complete = merged_pairs(cluster_stories(articles))
        agreement = len(found & complete) / len(complete) if complete else 1.0
        print(
            f"{name:<40} {len(stories):>5} stories  first run {cold * 1000:>5.0f} ms  "
            f"again {warm * 1000:>5.0f} ms  comparing everything {complete_seconds * 1000:>6.0f} ms"
            f"  merged pairs found {agreement:.3f}, extra {len(found - complete)}"
        )
    articles = realistic_articles(2000)
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "KZ", "TJ", "BY", "CN", "KG", "MN", "AM", "AZ", "TM"}),
        topics=frozenset(),
    )
    seconds = best_of(
        3,
        lambda: render_digest(
            compose_digest(articles, sub, None, ()),
            LABELS_RU,
            tz="Asia/Omsk",
            date=date(2026, 11, 23),
        ),
    )
    print(f"compose + render a digest from 2,000 articles (a week): {seconds * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
