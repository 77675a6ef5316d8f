"""A learned weighting of the tagger's country evidence against its hand-set weights, under
leave-one-source-out cross-validation on the labelled sets.

    .venv/bin/python bench/learn_weights.py [PATH ...] [--l2 1.0] [--write PATH]

PATHs default to ../shared/eval/dev.jsonl and ../shared/eval/dev3.jsonl relative to the
repository root.  Every country candidate of an article (the tagger's `Analysis.countries`)
carries the features its score is made of (`CountryEvidence.features`: the capped salience,
cooperation and Russian-party terms, the rules that lowered or capped it, where it is named).
A candidate is positive when the article's label lists the country.  For each source (the
`source` field) a logistic regression with an L2 penalty is fitted on the candidates of all
other sources and decides the held-out source's candidates at 0.5; the hand-set scorer decides
the same articles with no training.  Both are scored as bench/eval_tagger.py scores countries.

The hand-set weights were tuned by hand on these same sets, so their figures here are not a
cross-validated estimate: they are an upper bound for them, and a learned weighting that does
not beat them under cross-validation has not shown it generalises better.

`--write PATH` writes the weights fitted on all the candidates (feature names, means, scales,
coefficients) as JSON; the tagger does not read such a file unless it is shipped with it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.eval_tagger import Prediction, Report, score  # noqa: E402
from tagging import Tagger  # noqa: E402

DEFAULT_PATHS = (
    REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl",
    REPO_ROOT.parent / "shared" / "eval" / "dev3.jsonl",
)
FEATURES = (
    "salience",
    "cooperation_near",
    "cooperation_total",
    "russia_near",
    "negative",
    "listed_only",
    "sole_country",
    "trade_link",
    "route_link",
    "no_russia",
    "negative_domain",
    "diaspora",
    "ceremony",
    "passing",
    "no_cooperation",
    "title_mentions",
    "lead_mentions",
    "body_mentions",
    "weakened_mentions",
    "in_title",
    "relative_salience",
)
THRESHOLD = 0.5
NEWTON_STEPS = 25


@dataclass(frozen=True, slots=True)
class Candidate:
    article: int
    code: str
    features: tuple[float, ...]
    positive: bool
    hand_score: float


def load(paths: list[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


def candidates(tagger: Tagger, records: list[dict[str, Any]]) -> list[Candidate]:
    result: list[Candidate] = []
    for index, record in enumerate(records):
        analysis = tagger.analyse(record.get("title"), record["text"])
        gold = set(record.get("countries") or [])
        for code, ev in analysis.countries.items():
            values = tuple(float(ev.features.get(name, 0.0)) for name in FEATURES)
            result.append(Candidate(index, code, values, code in gold, ev.score))
    return result


# -- logistic regression, L2, Newton's method ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Model:
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]  # bias first

    def probability(self, features: tuple[float, ...]) -> float:
        x = self.coefficients[0]
        for value, mean, scale, weight in zip(
            features, self.means, self.scales, self.coefficients[1:], strict=True
        ):
            x += weight * (value - mean) / scale
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "means": list(self.means),
            "scales": list(self.scales),
            "bias": self.coefficients[0],
            "weights": dict(zip(FEATURES, self.coefficients[1:], strict=True)),
        }


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is positive definite)."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        head = a[col][col]
        for r in range(col + 1, n):
            factor = a[r][col] / head
            if factor:
                row, top = a[r], a[col]
                for c in range(col, n + 1):
                    row[c] -= factor * top[c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        total = a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))
        solution[r] = total / a[r][r]
    return solution


def fit(train: list[Candidate], l2: float) -> Model:
    d = len(FEATURES)
    n = len(train)
    means = [sum(c.features[j] for c in train) / n for j in range(d)]
    scales = []
    for j in range(d):
        variance = sum((c.features[j] - means[j]) ** 2 for c in train) / n
        scales.append(math.sqrt(variance) if variance > 1e-12 else 1.0)
    rows = [[1.0] + [(c.features[j] - means[j]) / scales[j] for j in range(d)] for c in train]
    targets = [1.0 if c.positive else 0.0 for c in train]
    beta = [0.0] * (d + 1)
    for _ in range(NEWTON_STEPS):
        gradient = [0.0] * (d + 1)
        hessian = [[0.0] * (d + 1) for _ in range(d + 1)]
        for row, target in zip(rows, targets, strict=True):
            x = sum(b * v for b, v in zip(beta, row, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))
            weight = p * (1.0 - p)
            error = p - target
            for i, value in enumerate(row):
                if value:
                    gradient[i] += error * value
                    scaled = weight * value
                    hessian_row = hessian[i]
                    for k in range(i, d + 1):
                        hessian_row[k] += scaled * row[k]
        for i in range(d + 1):
            for k in range(i):
                hessian[i][k] = hessian[k][i]
            if i:  # the bias is not penalised
                gradient[i] += l2 * beta[i]
                hessian[i][i] += l2
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-7:
            break
    return Model(tuple(means), tuple(scales), tuple(beta))


# -- comparison ------------------------------------------------------------------------------


def predictions(
    records: list[dict[str, Any]], decided: dict[int, set[str]], articles: list[int]
) -> tuple[list[dict[str, Any]], list[Prediction]]:
    chosen = [records[i] for i in articles]
    return chosen, [Prediction(frozenset(decided.get(i, ())), frozenset()) for i in articles]


def cross_validate(
    records: list[dict[str, Any]], pool: list[Candidate], l2: float
) -> tuple[Report, Report]:
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_source[str(record.get("source") or record.get("id"))].append(index)
    learned: dict[int, set[str]] = defaultdict(set)
    hand: dict[int, set[str]] = defaultdict(set)
    for source_articles in by_source.values():
        held_out = set(source_articles)
        train = [c for c in pool if c.article not in held_out]
        model = fit(train, l2)
        for candidate in pool:
            if candidate.article not in held_out:
                continue
            if model.probability(candidate.features) >= THRESHOLD:
                learned[candidate.article].add(candidate.code)
            if candidate.hand_score >= THRESHOLD:
                hand[candidate.article].add(candidate.code)
    everything = list(range(len(records)))
    return score(*predictions(records, learned, everything)), score(
        *predictions(records, hand, everything)
    )


def line(name: str, report: Report) -> str:
    micro = report.country_micro()
    return (
        f"  {name:<28} P {micro.precision:.3f}  R {micro.recall:.3f}  F1 {micro.f1:.3f}  "
        f"negatives w/ country {report.negatives_with_country}/{report.negatives}  "
        f"hard exact {report.hard_exact}/{report.hard_total}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=list(DEFAULT_PATHS))
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty (standardised features)")
    parser.add_argument("--write", type=Path, help="write the weights fitted on all candidates")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.l2 < 0:
        print("--l2 must not be negative", file=sys.stderr)
        return 2

    records = load(args.paths)
    pool = candidates(Tagger(), records)
    sources = len({str(r.get("source") or r.get("id")) for r in records})
    positives = sum(c.positive for c in pool)
    print(
        f"{len(records)} articles from {sources} sources; {len(pool)} country candidates "
        f"({positives} labelled partners); {len(FEATURES)} features; L2 {args.l2:g}"
    )
    learned, hand = cross_validate(records, pool, args.l2)
    print("Countries, leave-one-source-out:")
    print(line("learned (logistic, CV)", learned))
    print(line("hand-set (tuned on these)", hand))
    verdict = learned.country_micro().f1 > hand.country_micro().f1 and (
        learned.negatives_with_country <= hand.negatives_with_country
    )
    print(f"learned weighting wins: {'yes' if verdict else 'no'}")
    if args.write:
        model = fit(pool, args.l2)
        args.write.write_text(json.dumps(model.as_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"weights fitted on all candidates written to {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
