"""Golden-file tests: each feed shape in fixtures/ parses to the JSON stored next to it.

Regenerate the expected files after an intended change with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/ingest/test_golden_feeds.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.parse import ParsedFeed, parse_feed

FIXTURES = Path(__file__).parent / "fixtures"
CASES: dict[str, Any] = json.loads((FIXTURES / "cases.json").read_text("utf-8"))
FETCHED_AT = datetime.fromisoformat(CASES["fetched_at"])


def _as_json(parsed: ParsedFeed) -> dict[str, Any]:
    return {
        "title": parsed.title,
        "encoding": parsed.encoding,
        "warning": parsed.warning,
        "skipped": dict(sorted(parsed.skipped.items())),
        "items": [
            {
                "guid": item.guid,
                "url": item.url,
                "title": item.title,
                "summary": item.summary,
                "full_text": item.full_text,
                "published_at": item.published_at.isoformat(),
                "content_hash": item.content_hash,
            }
            for item in parsed.items
        ],
    }


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_feed_parses_to_golden_output(name: str) -> None:
    case = CASES["cases"][name]
    parsed = parse_feed(
        (FIXTURES / name).read_bytes(),
        url=case["url"],
        content_type=case["content_type"],
        fetched_at=FETCHED_AT,
    )
    actual = _as_json(parsed)
    golden = FIXTURES / f"{Path(name).stem}.expected.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert golden.is_file(), f"no golden file {golden.name}; run with UPDATE_GOLDEN=1"
    assert actual == json.loads(golden.read_text("utf-8"))


def test_every_fixture_has_a_case() -> None:
    fixtures = {path.name for path in FIXTURES.glob("*.xml")}
    assert fixtures == set(CASES["cases"])


def _parse(name: str) -> ParsedFeed:
    case = CASES["cases"][name]
    return parse_feed(
        (FIXTURES / name).read_bytes(),
        url=case["url"],
        content_type=case["content_type"],
        fetched_at=FETCHED_AT,
    )


# The golden files pin everything; these spell out what each shape is there to prove, so a
# regenerated golden file that loses one of them still fails.


@pytest.mark.parametrize(
    ("name", "encoding", "phrase"),
    [
        ("windows1251_declared.xml", "cp1251", "семенного картофеля"),
        ("declared_cp1251_utf8_bytes.xml", "utf-8", "Таджикские специалисты"),
        ("koi8r_header_only.xml", "koi8-r", "Киргизские перевозчики"),
        ("windows1251_no_charset.xml", "cp1251", "послом Азербайджана"),
        ("utf8_bom_lying_declaration.xml", "utf-8", "из Гомеля"),
    ],
)
def test_encodings_are_detected(name: str, encoding: str, phrase: str) -> None:
    parsed = _parse(name)
    assert parsed.encoding == encoding
    assert phrase in parsed.items[0].title


def test_yandex_full_text_is_used_without_teasers_or_credits() -> None:
    first, second = _parse("yandex_full_text.xml").items
    assert "хокима Бухарской области" in first.full_text
    assert "Читайте также" not in first.full_text
    assert "Фото:" not in first.full_text
    assert "Подписывайтесь" not in second.full_text
    assert first.url == "https://kv.example/news/2025/04/30/omsk-bukhara"
    assert first.published_at.isoformat() == "2025-04-30T07:00:00+00:00"  # «Ср, 30 апр»
    assert second.published_at.isoformat() == "2025-04-30T05:30:00+00:00"  # MSK, not UTC


def test_outlet_full_text_and_non_url_guid() -> None:
    parsed = _parse("rbc_full_text.xml")
    assert parsed.skipped == {"no link": 1}
    contract, medics = parsed.items
    assert contract.guid == "rssexport.rbc.example::68105c2e9a7947a1"
    assert contract.url.startswith("https://omsk.rbc.example/omsk/29/04/2025/")
    assert "Российский экспортный центр" in contract.full_text
    assert medics.url == medics.guid  # no <link>: the guid is a URL, so it is used


def test_html_description_is_reduced_to_text() -> None:
    first, second = _parse("html_description.xml").items
    assert first.title == "В Омске откроют визовый центр для граждан Туркменистана"
    assert "\u00a0" not in first.summary and "<" not in first.summary
    assert "Читать далее" not in first.summary
    assert "Подробнее" not in second.summary
    assert second.url == "https://omskzdes.example/culture/2025/04/29/drama-tashkent"


def test_content_encoded_drops_navigation_related_links_and_duplicates() -> None:
    parsed = _parse("content_encoded.xml")
    assert parsed.skipped == {"duplicate in feed": 1}
    school, cleanup = parsed.items
    assert school.url == "https://bk55.example/news/article/251234/"
    for noise in ("Главная", "Читайте также", "Душанбе", "counter"):
        assert noise not in school.full_text
    assert school.full_text.endswith("к 1 сентября 2026 года.")
    assert cleanup.full_text == ""  # content:encoded only repeats the teaser


def test_dates_missing_or_in_the_future_become_the_fetch_time() -> None:
    _, undated, future = _parse("description_only_cdata.xml").items
    assert undated.published_at == FETCHED_AT
    assert future.published_at == FETCHED_AT
