"""Precision, recall and F1 of fact extraction (agreements, figures) on labelled JSON Lines,
next to a naive baseline.

    .venv/bin/python bench/eval_facts.py [PATH ...] [--errors] [--gold-countries]

PATH defaults to ../shared/eval/dev3.jsonl relative to the repository root; every record needs
`title`, `text`, `published` (or null) and `facts: {"agreements": [...], "figures": [...]}`.
The extractor gets the partner countries the tagger finds in the record (the product's path);
with --gold-countries it gets the record's labelled `countries` instead, which isolates
extraction from tagging errors.

Matching, one to one within a record (a predicted fact matches at most one label):

- an **agreement** matches a label with the same set of countries, the same status, and a
  subject overlap of at least 0.5: the content lemmas of the two subjects (words of three
  letters or more, lemmatised with pymorphy3, prepositions and conjunctions dropped) share at
  least half of the smaller set, |A ∩ B| / min(|A|, |B|) ≥ 0.5.  «Соглашение о сотрудничестве»
  matches «соглашение о сотрудничестве в сфере образования»; «меморандум» does not match
  «соглашение».
- a **figure** matches a label with the same indicator, the same value (to 1e-6), the same
  unit after reduction to scale and base («млн долларов США» = «млн. долларов» = «млн долл.»;
  «процента» = «%»; see tagging.facts.canonical_unit) and the same `change`.  Countries and
  period are not compared.

Parties are not part of the match; the line «parties» gives, over the matched agreements, the
share whose parties equal the label's: the same number of parties, each with the same lemmas
(«Омской областью» = «Омская область»; «губернатор Омской области» ≠ «Омская область»).

The baseline marks every sentence naming a document next to «подпис…»/«заключ…» as a signed
agreement with all partners (subject: the document word), and every number with a unit in a
sentence naming trade, export, import or investment as a figure of the first such word, a
change when the unit is per cent.

First-sight scores on our own held-out sets (tests/fixtures/facts_heldout*.jsonl, each scored
once before any rule was written against it; tagger's countries):

- set 3, 16 articles: agreements F1 0.960, figures F1 0.889;
- set 4, 24 articles (12 partners, 5 negatives), extractor FACTS_VERSION 2: agreements
  P 0.933 R 0.933 F1 0.933 (tp 14, fp 1, fn 1), figures P 0.941 R 0.941 F1 0.941 (tp 32, fp 2,
  fn 2); the same with --gold-countries.  The errors: a document that «будет подписано» at the
  end of its sentence taken as signed; vegetables «из Азербайджана … ввезено» taken as export;
  a share of payments in national currencies taken as trade turnover.  FACTS_VERSION 3 (rules
  written against dev3 and sets 1–3 only, never against set 4) scores the same on set 4.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tagging import Tagger  # noqa: E402
from tagging.facts import canonical_unit, extract_facts  # noqa: E402
from tagging.morph import shared_lemmatizer  # noqa: E402

DEFAULT_PATH = REPO_ROOT.parent / "shared" / "eval" / "dev3.jsonl"
SUBJECT_OVERLAP = 0.5
_STOP = {"для", "при", "между", "или", "который", "этот", "год"}
_WORD = re.compile(r"[A-Za-zА-Яа-яЁё]{3,}")

Extractor = Callable[[dict[str, Any], list[str]], dict[str, list[dict[str, Any]]]]


def subject_lemmas(subject: str) -> frozenset[str]:
    lemmatizer = shared_lemmatizer()
    return frozenset(lemmatizer.lemma(w) for w in _WORD.findall(subject)) - _STOP


def subjects_overlap(left: str, right: str) -> bool:
    a, b = subject_lemmas(left), subject_lemmas(right)
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= SUBJECT_OVERLAP


def same_parties(predicted: dict[str, Any], label: dict[str, Any]) -> bool:
    def key(parties: list[str]) -> list[frozenset[str]]:
        return sorted((subject_lemmas(p) | {"~"} for p in parties), key=sorted)

    return len(predicted["parties"]) == len(label["parties"]) and key(predicted["parties"]) == key(
        label["parties"]
    )


def agreement_matches(predicted: dict[str, Any], label: dict[str, Any]) -> bool:
    return (
        set(predicted["countries"]) == set(label["countries"])
        and predicted["status"] == label["status"]
        and subjects_overlap(predicted["subject"], label["subject"])
    )


def figure_matches(predicted: dict[str, Any], label: dict[str, Any]) -> bool:
    return (
        predicted["indicator"] == label["indicator"]
        and abs(float(predicted["value"]) - float(label["value"])) < 1e-6
        and canonical_unit(predicted["unit"]) == canonical_unit(label["unit"])
        and bool(predicted["change"]) == bool(label["change"])
    )


@dataclass(slots=True)
class Score:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    misses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    false_hits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def add(
        self,
        record_id: str,
        predicted: list[dict[str, Any]],
        labels: list[dict[str, Any]],
        matches: Callable[[dict[str, Any], dict[str, Any]], bool],
    ) -> None:
        unmatched = list(labels)
        for fact in predicted:
            for label in unmatched:
                if matches(fact, label):
                    unmatched.remove(label)
                    self.true_positive += 1
                    self.pairs.append((fact, label))
                    break
            else:
                self.false_positive += 1
                self.false_hits.append((record_id, fact))
        self.false_negative += len(unmatched)
        self.misses.extend((record_id, label) for label in unmatched)

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        total = self.true_positive + self.false_negative
        return self.true_positive / total if total else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<28} P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"
            f"  (tp {self.true_positive}, fp {self.false_positive}, fn {self.false_negative})"
        )


def _published(record: dict[str, Any]) -> date | None:
    value = record.get("published")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def product_extractor(record: dict[str, Any], countries: list[str]) -> dict[str, Any]:
    facts = extract_facts(record.get("title"), record["text"], countries, _published(record))
    return facts.as_dict()


_BASE_DOCUMENT = re.compile(r"(соглашени|меморандум|договор|контракт|протокол)\w*", re.I)
_BASE_SIGN = re.compile(r"подпис|заключ", re.I)
_BASE_TRADE = re.compile(r"(товарооборот|экспорт|импорт|инвестиц|торговл)", re.I)
_BASE_NUMBER = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(%|процент\w*|млн\.?\s*\w+|млрд\.?\s*\w+|тыс\.\s*тонн|тонн\w*)", re.I
)
_BASE_INDICATOR = {
    "товарооборот": "trade_turnover",
    "торговл": "trade_turnover",
    "экспорт": "export",
    "импорт": "import",
    "инвестиц": "investment",
}


def baseline_extractor(record: dict[str, Any], countries: list[str]) -> dict[str, Any]:
    agreements: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    if not countries:
        return {"agreements": agreements, "figures": figures}
    for sentence in re.split(r"(?<=[.!?])\s+", record["text"]):
        document = _BASE_DOCUMENT.search(sentence)
        if document and _BASE_SIGN.search(sentence):
            agreements.append(
                {
                    "parties": [],
                    "countries": countries,
                    "subject": document.group(),
                    "status": "signed",
                    "date": None,
                }
            )
        trade = _BASE_TRADE.search(sentence)
        if trade is None:
            continue
        indicator = _BASE_INDICATOR[trade.group(1).lower()]
        for match in _BASE_NUMBER.finditer(sentence):
            unit = match.group(2)
            figures.append(
                {
                    "indicator": indicator,
                    "value": float(match.group(1).replace(",", ".")),
                    "unit": unit,
                    "change": canonical_unit(unit) == "%",
                    "period": None,
                    "countries": countries,
                }
            )
    return {"agreements": agreements, "figures": figures}


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if "facts" not in record:
                    raise ValueError(f"{path}:{number}: record has no 'facts'")
                records.append(record)
    return records


def evaluate(
    records: list[dict[str, Any]], extractor: Extractor, countries_of: Callable[[dict], list[str]]
) -> tuple[Score, Score]:
    agreements, figures = Score(), Score()
    for record in records:
        predicted = extractor(record, countries_of(record))
        record_id = str(record.get("id"))
        labels = record["facts"]
        agreements.add(
            record_id, predicted["agreements"], labels.get("agreements", []), agreement_matches
        )
        figures.add(record_id, predicted["figures"], labels.get("figures", []), figure_matches)
    return agreements, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_PATH])
    parser.add_argument("--errors", action="store_true", help="list misses and false hits")
    parser.add_argument(
        "--gold-countries", action="store_true", help="use labelled countries, not the tagger's"
    )
    args = parser.parse_args(argv)
    try:
        records = load(args.paths)
    except (OSError, ValueError) as error:
        print(f"cannot read the labelled set: {error}", file=sys.stderr)
        return 2
    tagger = Tagger()

    def countries_of(record: dict[str, Any]) -> list[str]:
        if args.gold_countries:
            return list(record.get("countries", []))
        return list(tagger.tag(record.get("title"), record["text"]).country_codes)

    cache: dict[int, list[str]] = {}

    def cached_countries(record: dict[str, Any]) -> list[str]:
        key = id(record)
        if key not in cache:
            cache[key] = countries_of(record)
        return cache[key]

    agreements, figures = evaluate(records, product_extractor, cached_countries)
    base_agreements, base_figures = evaluate(records, baseline_extractor, cached_countries)
    labels = sum(len(r["facts"].get("agreements", [])) for r in records)
    numbers = sum(len(r["facts"].get("figures", [])) for r in records)
    source = "labelled countries" if args.gold_countries else "tagger's countries"
    print(f"{len(records)} records, {labels} agreements, {numbers} figures; {source}")
    print(agreements.line("agreements"))
    print(base_agreements.line("agreements (baseline)"))
    same = sum(same_parties(fact, label) for fact, label in agreements.pairs)
    share = same / len(agreements.pairs) if agreements.pairs else 1.0
    print(
        f"{'parties (matched agreements)':<28} same {share:.3f}"
        f"  ({same} of {len(agreements.pairs)})"
    )
    print(figures.line("figures"))
    print(base_figures.line("figures (baseline)"))
    if args.errors:
        for name, score in (("agreements", agreements), ("figures", figures)):
            for record_id, fact in score.misses:
                print(f"MISS {name} {record_id}: {json.dumps(fact, ensure_ascii=False)}")
            for record_id, fact in score.false_hits:
                print(f"FALSE {name} {record_id}: {json.dumps(fact, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
