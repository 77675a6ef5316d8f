"""`digestbot demo` as a newcomer runs it: a real process, offline, printing a digest."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class DemoRun:
    result: subprocess.CompletedProcess[str]
    database: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    workdir = tmp_path_factory.mktemp("demo")
    database = workdir / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--keep", str(database)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)},
        cwd=workdir,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return DemoRun(result, database)


def test_demo_prints_uzbekistan_and_tajikistan_sections(demo_run: DemoRun) -> None:
    result = demo_run.result
    output = result.stdout
    assert "Узбекистан" in output
    assert "Таджикистан" in output
    assert "Traceback" not in result.stderr

    gold = json.loads((FIXTURES / "expected_demo_tags.json").read_text("utf-8"))
    feeds_in_manifest = json.loads(
        (Path(__file__).parents[1] / "bot" / "demo" / "manifest.json").read_text("utf-8")
    )["feeds"]
    for feed in feeds_in_manifest:
        assert feed["title"] in output, f"no summary row for {feed['title']}"

    digest_part = output.split("Articles per country and topic")[0]
    for label in ("Казахстан", "Беларусь", "Китай"):
        assert f" {label}\n" not in digest_part, f"{label} heading in a UZ/TJ digest"
    uz_tj_positive = [guid for guid, item in gold.items() if {"UZ", "TJ"} & set(item["countries"])]
    assert len(uz_tj_positive) >= 10
    table = output.split("Articles per country and topic")[1]
    rows = {line.split()[0]: line for line in table.splitlines()[2:] if line[:2].isupper()}
    assert {"UZ", "TJ", "KZ", "KG", "CN", "BY"} <= set(rows)
    assert demo_run.database.is_file()


def test_demo_tags_match_gold_labels_of_bundled_feeds(demo_run: DemoRun) -> None:
    """The whole pipeline (fetch, full text, cleaning, tagging) on articles nobody tuned on."""
    gold = json.loads((FIXTURES / "expected_demo_tags.json").read_text("utf-8"))
    connection = sqlite3.connect(demo_run.database)
    guids = dict(connection.execute("select id, guid from articles"))
    predicted: dict[str, dict[str, set[str]]] = {
        guid: {"country": set(), "topic": set()} for guid in guids.values()
    }
    for article_id, kind, value in connection.execute(
        "select article_id, kind, value from article_tags where score >= 0.5"
    ):
        if kind in ("country", "topic"):
            predicted[guids[article_id]][kind].add(value)
    assert set(predicted) <= set(gold)
    assert len(predicted) == len(gold) - 1, "one item shares its URL with another and is merged"

    country = [0, 0, 0]
    topic = [0, 0, 0]
    for guid, tags in predicted.items():
        expected = gold[guid]
        wanted = set(expected["countries"])
        country[0] += len(tags["country"] & wanted)
        country[1] += len(tags["country"] - wanted)
        country[2] += len(wanted - tags["country"])
        if expected["label"] == "positive":
            allowed = set(expected["topics"]) | set(expected.get("topics_optional", []))
            topic[0] += len(tags["topic"] & allowed)
            topic[1] += len(tags["topic"] - allowed)
            topic[2] += len(set(expected["topics"]) - tags["topic"])

    def f1(true_positive: int, false_positive: int, false_negative: int) -> float:
        return 2 * true_positive / (2 * true_positive + false_positive + false_negative)

    assert f1(*country) >= 0.95, f"country tp/fp/fn {country}"
    assert f1(*topic) >= 0.85, f"topic tp/fp/fn {topic}"


@pytest.mark.parametrize("existing", ["notes.txt", "digest.db", "digest.db-wal"])
def test_demo_keep_refuses_a_path_that_exists(tmp_path: Path, existing: str) -> None:
    kept = tmp_path / existing
    kept.write_bytes("Заметки редактора: не удалять.\n".encode())
    target = tmp_path / existing.removesuffix("-wal")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--keep", str(target)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "already exists" in result.stderr
    assert kept.read_bytes() == "Заметки редактора: не удалять.\n".encode()
    assert sorted(path.name for path in tmp_path.iterdir()) == [existing]


def test_demo_lists_the_agreements_it_extracted(demo_run: DemoRun) -> None:
    output = demo_run.result.stdout
    register = output.split("Соглашения (извлечены из статей):\n")[1].split("\n\n")[0]
    lines = register.splitlines()
    assert any(
        line.startswith("TJ · ")
        and "Омская область; Согдийская область" in line
        and "— подписано —" in line
        for line in lines
    ), register
    assert any(line.startswith("UZ · ") and "дорожн" in line for line in lines), register
    # Two outlets word the Sogd agreement otherwise: one line, both outlets.
    (sogd,) = [line for line in lines if line.startswith("TJ · ") and "Согдийская" in line]
    assert sogd.endswith("Омские вести, Сибирь-55") or sogd.endswith("Сибирь-55, Омские вести")
    with sqlite3.connect(demo_run.database) as connection:
        sources = connection.execute(
            "select count(*) from fact_sources join facts on facts.id = fact_sources.fact_id"
        ).fetchone()[0]
        facts = connection.execute("select count(*) from facts").fetchone()[0]
    assert facts > 10 and sources >= facts
