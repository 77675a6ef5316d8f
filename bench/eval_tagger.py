"""Precision, recall and F1 of the tagger on a labelled JSON Lines set, next to a naive
baseline (substring match on country names).

    .venv/bin/python bench/eval_tagger.py [PATH] [--errors] [--threshold 0.5]

PATH defaults to ../shared/eval/dev.jsonl relative to the repository root.  Scoring follows
the labelling README of that set: a country from `mentions_only`, or any country on a
negative, is a false positive; topics are scored on positives only, a predicted topic is
correct when it is in `topics` ∪ `topics_optional`, and recall is counted on `topics`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tagging import Tagger, countries, regions, topics  # noqa: E402
from tagging.data import country_data, topic_data  # noqa: E402
from tagging.text import fold  # noqa: E402

DEFAULT_PATH = REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl"


@dataclass(frozen=True, slots=True)
class Prediction:
    countries: frozenset[str]
    topics: frozenset[str]
    regions: frozenset[str] = frozenset()


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class TopicCounts:
    predicted: int = 0
    correct_predicted: int = 0  # in topics ∪ topics_optional
    required: int = 0
    required_found: int = 0

    @property
    def precision(self) -> float:
        return self.correct_predicted / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.required_found / self.required if self.required else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class Report:
    per_country: dict[str, Counts] = field(default_factory=dict)
    per_topic: dict[str, TopicCounts] = field(default_factory=dict)
    hard_total: int = 0
    hard_exact: int = 0
    negatives_with_country: int = 0
    negatives: int = 0
    relevance: Counts = field(default_factory=Counts)
    region_total: int = 0
    region_exact: int = 0

    def country_micro(self) -> Counts:
        total = Counts()
        for c in self.per_country.values():
            total.tp += c.tp
            total.fp += c.fp
            total.fn += c.fn
        return total

    def country_macro_f1(self) -> float:
        scored = [c for c in self.per_country.values() if c.tp + c.fn > 0]
        return sum(c.f1 for c in scored) / len(scored) if scored else 0.0

    def topic_micro(self) -> TopicCounts:
        total = TopicCounts()
        for t in self.per_topic.values():
            total.predicted += t.predicted
            total.correct_predicted += t.correct_predicted
            total.required += t.required
            total.required_found += t.required_found
        return total

    def topic_macro_f1(self) -> float:
        scored = [t for t in self.per_topic.values() if t.required > 0]
        return sum(t.f1 for t in scored) / len(scored) if scored else 0.0


def score(records: list[dict[str, Any]], predictions: list[Prediction]) -> Report:
    report = Report()
    for record, predicted in zip(records, predictions, strict=True):
        gold = set(record.get("countries") or [])
        for code in gold | predicted.countries:
            counts = report.per_country.setdefault(code, Counts())
            if code in gold and code in predicted.countries:
                counts.tp += 1
            elif code in predicted.countries:
                counts.fp += 1
            else:
                counts.fn += 1
        positive = record.get("label") == "positive"
        if record.get("hard"):
            report.hard_total += 1
            report.hard_exact += int(set(predicted.countries) == gold)
        if not positive:
            report.negatives += 1
            report.negatives_with_country += int(bool(predicted.countries))
        if positive and predicted.countries:
            report.relevance.tp += 1
        elif predicted.countries:
            report.relevance.fp += 1
        elif positive:
            report.relevance.fn += 1
        if positive:
            required = set(record.get("topics") or [])
            allowed = required | set(record.get("topics_optional") or [])
            for topic_id in required | predicted.topics:
                counts_t = report.per_topic.setdefault(topic_id, TopicCounts())
                if topic_id in predicted.topics:
                    counts_t.predicted += 1
                    counts_t.correct_predicted += int(topic_id in allowed)
                if topic_id in required:
                    counts_t.required += 1
                    counts_t.required_found += int(topic_id in predicted.topics)
        gold_regions = _gold_regions(record.get("region"))
        if gold_regions is not None:
            report.region_total += 1
            report.region_exact += int(gold_regions == set(predicted.regions))
    return report


def _region_codes_by_name() -> dict[str, str]:
    names = {fold(r.name_ru): r.code for r in regions()}
    aliases = {
        "республика бурятия": "RU-BU",
        "республика татарстан": "RU-TA",
        "республика дагестан": "RU-DA",
        "кемеровская область": "RU-KEM",
        "ханты-мансийский автономный округ": "RU-KHM",
        "республика северная осетия — алания": "RU-SE",
        "республика саха (якутия)": "RU-SA",
    }
    names.update(aliases)
    return names


_REGION_NAMES: dict[str, str] = {}


def _gold_regions(value: Any) -> set[str] | None:
    if not _REGION_NAMES:
        _REGION_NAMES.update(_region_codes_by_name())
    if value is None:
        return set()
    codes: set[str] = set()
    for part in str(value).split(";"):
        name = fold(part.strip())
        if not name:
            continue
        code = _REGION_NAMES.get(name)
        if code is None:
            return None  # a region the data file does not know: not scored
        codes.add(code)
    return codes


def naive_baseline() -> Callable[[str | None, str], Prediction]:
    """Substring match on country names (stripped of a final vowel so that simple case
    endings match) and on topic words (first letters of each lexicon word)."""
    stems: dict[str, list[str]] = {}
    for entry in country_data()["countries"]:
        stems[entry["code"]] = [_naive_stem(n) for n in entry["names"] if " " not in n]
    topic_stems: dict[str, list[str]] = {}
    for entry in topic_data()["topics"]:
        topic_stems[entry["id"]] = [
            _naive_stem(term) for term in entry["terms"] if " " not in term and len(term) >= 4
        ]

    def predict(title: str | None, text: str) -> Prediction:
        haystack = f"{title or ''}\n{text}".lower()
        found = frozenset(c for c, ss in stems.items() if any(s in haystack for s in ss))
        found_topics: frozenset[str] = frozenset()
        if found:
            found_topics = frozenset(
                t for t, ss in topic_stems.items() if any(s in haystack for s in ss)
            )
        return Prediction(found, found_topics)

    return predict


def _naive_stem(word: str) -> str:
    word = word.lower()
    while len(word) > 4 and word[-1] in "аяеиоуыьйю":
        word = word[:-1]
    return word


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _row(name: str, ours: tuple[float, float, float], base: tuple[float, float, float]) -> str:
    cells = " ".join(f"{v:5.2f}" for v in ours)
    base_cells = " ".join(f"{v:5.2f}" for v in base)
    return f"  {name:<26} {cells}   | {base_cells}"


def print_report(ours: Report, base: Report, out: Iterable[str] | None = None) -> None:
    header = f"  {'':<26} {'P':>5} {'R':>5} {'F1':>5}   | {'P':>5} {'R':>5} {'F1':>5}"
    print("Countries (ours | naive baseline)")
    print(header)
    order = [c.code for c in countries()]
    codes = sorted(
        set(ours.per_country) | set(base.per_country),
        key=lambda c: (order.index(c) if c in order else 99, c),
    )
    empty = Counts()
    for code in codes:
        o = ours.per_country.get(code, empty)
        b = base.per_country.get(code, empty)
        support = o.tp + o.fn
        print(
            _row(
                f"{code} (n={support})",
                (o.precision, o.recall, o.f1),
                (b.precision, b.recall, b.f1),
            )
        )
    om, bm = ours.country_micro(), base.country_micro()
    print(_row("micro", (om.precision, om.recall, om.f1), (bm.precision, bm.recall, bm.f1)))
    print(
        f"  {'macro F1':<26} {ours.country_macro_f1():>17.2f}   | {base.country_macro_f1():>17.2f}"
    )
    print(
        f"  {'hard exact-set acc.':<26} {ours.hard_exact / max(ours.hard_total, 1):>17.2f}   | "
        f"{base.hard_exact / max(base.hard_total, 1):>17.2f}   (n={ours.hard_total})"
    )
    print(
        f"  {'negatives w/ country':<26} {ours.negatives_with_country:>17d}   | "
        f"{base.negatives_with_country:>17d}   (of {ours.negatives})"
    )
    r, rb = ours.relevance, base.relevance
    print(_row("relevance", (r.precision, r.recall, r.f1), (rb.precision, rb.recall, rb.f1)))
    print()
    print("Topics, positives only (ours | naive baseline)")
    print(header)
    empty_t = TopicCounts()
    for t in topics():
        o_t = ours.per_topic.get(t.id, empty_t)
        b_t = base.per_topic.get(t.id, empty_t)
        print(
            _row(
                f"{t.id} (n={o_t.required})",
                (o_t.precision, o_t.recall, o_t.f1),
                (b_t.precision, b_t.recall, b_t.f1),
            )
        )
    tm, tb = ours.topic_micro(), base.topic_micro()
    print(_row("micro", (tm.precision, tm.recall, tm.f1), (tb.precision, tb.recall, tb.f1)))
    print(f"  {'macro F1':<26} {ours.topic_macro_f1():>17.2f}   | {base.topic_macro_f1():>17.2f}")
    print()
    if ours.region_total:
        print(
            f"Russian region exact match: {ours.region_exact}/{ours.region_total} "
            f"({ours.region_exact / ours.region_total:.2f})"
        )


def print_errors(records: list[dict[str, Any]], predictions: list[Prediction]) -> None:
    print("\nErrors")
    for record, predicted in zip(records, predictions, strict=True):
        gold = set(record.get("countries") or [])
        problems = []
        if set(predicted.countries) != gold:
            problems.append(f"countries {sorted(predicted.countries)} != {sorted(gold)}")
        if record.get("label") == "positive":
            required = set(record.get("topics") or [])
            allowed = required | set(record.get("topics_optional") or [])
            missing = required - predicted.topics
            extra = predicted.topics - allowed
            if missing:
                problems.append(f"missing topics {sorted(missing)}")
            if extra:
                problems.append(f"extra topics {sorted(extra)}")
        gold_regions = _gold_regions(record.get("region"))
        if gold_regions is not None and gold_regions != set(predicted.regions):
            problems.append(f"regions {sorted(predicted.regions)} != {sorted(gold_regions)}")
        if problems:
            print(f"  {record['id']}: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--errors", action="store_true", help="list records with wrong tags")
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"evaluation file not found: {args.path}", file=sys.stderr)
        return 2
    records = load(args.path)
    tagger = Tagger(threshold=args.threshold)
    started = time.perf_counter()
    ours: list[Prediction] = []
    for record in records:
        result = tagger.tag(record.get("title"), record.get("text") or "")
        ours.append(
            Prediction(
                frozenset(result.country_codes),
                frozenset(result.topic_ids),
                frozenset(result.region_codes),
            )
        )
    elapsed = time.perf_counter() - started
    baseline = naive_baseline()
    base = [baseline(r.get("title"), r.get("text") or "") for r in records]
    labels = Counter(r.get("label") for r in records)
    print(
        f"{args.path}: {len(records)} records ({labels['positive']} positive, "
        f"{labels['negative']} negative), threshold {args.threshold}, "
        f"tagged in {elapsed:.2f} s\n"
    )
    print_report(score(records, ours), score(records, base))
    if args.errors:
        print_errors(records, ours)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
