from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from ingest.pipeline import (
    FeedOutcome,
    FeedSpec,
    export_opml,
    format_outcomes_table,
    load_feed_list,
    parse_opml,
)
from ingest.urls import is_public_http_url
from storage.feeds import FeedRecord

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _record(feed_id: int, url: str, title: str | None) -> FeedRecord:
    return FeedRecord(
        id=feed_id,
        url=url,
        title=title,
        active=True,
        fetch_full_text=True,
        etag=None,
        last_modified=None,
        body_hash=None,
        last_checked_at=None,
        last_success_at=None,
        last_new_item_at=None,
        last_error=None,
        last_error_at=None,
        consecutive_failures=0,
        total_items=0,
        next_check_at=None,
        created_at=NOW,
    )


def test_text_feed_list_with_comments_titles_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text(
        "# Омские издания\n\nhttps://bk55.example/news.rss БК55\n"
        "  https://omskinform.example/rss  \nhttps://bk55.example/news.rss\n",
        "utf-8",
    )
    assert load_feed_list(path) == [
        FeedSpec("https://bk55.example/news.rss", "БК55"),
        FeedSpec("https://omskinform.example/rss", None),
    ]


def test_invalid_lines_are_reported_with_numbers_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text("https://ok.example/rss\nbk55.ru/rss\n# note\nftp://x.example/\n", "utf-8")
    with pytest.raises(ValueError) as raised:
        load_feed_list(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("feeds.txt:")
    assert "line 2" in message and "line 4" in message and "line 1" not in message


def test_opml_with_nested_outlines(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><head/><body>'
        '<outline text="Омск"><outline text="БК55" xmlUrl="https://bk55.example/news.rss"/>'
        '<outline text="Регион"><outline title="Омскинформ" text="x" '
        'xmlurl="https://omskinform.example/rss"/></outline></outline>'
        '<outline text="Без адреса"/></body></opml>',
        "utf-8",
    )
    assert load_feed_list(path) == [
        FeedSpec("https://bk55.example/news.rss", "БК55"),
        FeedSpec("https://omskinform.example/rss", "Омскинформ"),
    ]


def test_opml_with_a_dtd_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline xmlUrl="https://x.example/&b;"/></body></opml>'
    )
    with pytest.raises(ValueError, match="DOCTYPE"):
        parse_opml(bomb)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline xmlUrl='javascript:alert(1)'/></body></opml>", "not an http"),
        (b"<rss/>", "not an OPML file"),
        (b"<opml><body>", "not a valid OPML file"),
    ],
)
def test_bad_opml(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_opml(data)


def test_opml_export_round_trips_with_escaping() -> None:
    feeds = [
        _record(1, "https://bk55.example/news.rss?a=1&b=2", "БК55 & «Бизнес-курс»"),
        _record(2, "https://omskinform.example/rss", None),
    ]
    exported = export_opml(feeds)
    assert exported.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert parse_opml(exported.encode("utf-8")) == [
        FeedSpec("https://bk55.example/news.rss?a=1&b=2", "БК55 & «Бизнес-курс»"),
        FeedSpec("https://omskinform.example/rss", "https://omskinform.example/rss"),
    ]


def test_default_feed_list_is_shipped_and_valid() -> None:
    with resources.as_file(resources.files("ingest") / "default_feeds.txt") as path:
        specs = load_feed_list(Path(path))
    urls = {spec.url for spec in specs}
    assert len(specs) == 12
    assert {"https://kvnews.ru/structure/rss/ya", "https://bk55.ru/news.rss"} <= urls
    assert all(spec.title for spec in specs)


def test_outcomes_table_lists_every_feed_and_the_totals() -> None:
    outcomes = [
        FeedOutcome(
            1,
            "https://bk55.example/news.rss",
            "new",
            12,
            38,
            1,
            None,
            0.84,
            skip_reasons={"no link": 1},
        ),
        FeedOutcome(2, "https://omskinform.example/rss", "unchanged", 0, 0, 0, None, 0.05),
        FeedOutcome(3, "https://down.example/rss", "failed", 0, 0, 0, "HTTP 503", 0.11),
    ]
    table = format_outcomes_table(outcomes)
    lines = table.splitlines()
    assert len(lines) == 7
    assert lines[2].startswith("new") and "bk55" in lines[2] and "no link: 1" in lines[2]
    assert lines[4].startswith("failed") and lines[4].endswith("— HTTP 503")
    assert lines[-1].startswith("3 feeds: 1 with new items, 1 unchanged, 1 failed; 12 new")
    assert format_outcomes_table([]) == "No feeds were due."


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("http://127.0.0.1:8080/rss", False),
        ("http://localhost/rss", False),
        ("http://10.0.0.5/rss", False),
        ("http://[::1]/rss", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("ftp://8.8.8.8/rss", False),
        ("not a url", False),
        ("https://8.8.8.8/rss", True),
    ],
)
async def test_public_url_check(url: str, public: bool) -> None:
    assert await is_public_http_url(url) is public
