from __future__ import annotations

import codecs
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from ingest.feedlist import (
    FeedSpec,
    OutlineProblem,
    export_opml,
    load_feed_list,
    parse_feed_lines,
    parse_opml,
    read_opml,
)
from ingest.report import FeedOutcome, format_outcomes_table
from ingest.urls import is_public_http_url
from storage.feeds import MAX_FEED_TITLE_LENGTH, MAX_FEED_URL_LENGTH, FeedRecord

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


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE opml [<!ENTITY смех "ха-ха-ха-ха-ха-ха-ха-ха-ха-ха">'
    + "".join(
        f'<!ENTITY смех{level} "{("&смех" + (str(level - 1) if level > 1 else "") + ";") * 10}">'
        for level in range(1, 10)
    )
    + ']>\n<opml version="2.0"><head><title>&смех9;</title></head><body>'
    '<outline text="&смех9;" xmlUrl="https://bk55.example/news.rss"/></body></opml>'
)
RUSSIAN_OPML = (
    '<opml version="2.0"><head><title>Омские издания</title></head><body>'
    '<outline text="Деловые"><outline text="Бизнес-курс" title="БК55 — деловые новости Омска" '
    'xmlUrl="https://bk55.example/news.rss"/></outline>'
    '<outline text="Омская правда: экономика и сотрудничество" '
    'xmlUrl="https://omskaya-pravda.example/rss"/></body></opml>'
)
RUSSIAN_FEEDS = [
    FeedSpec("https://bk55.example/news.rss", "БК55 — деловые новости Омска"),
    FeedSpec("https://omskaya-pravda.example/rss", "Омская правда: экономика и сотрудничество"),
]


def _utf16(text: str, order: str) -> bytes:
    mark = codecs.BOM_UTF16_LE if order == "le" else codecs.BOM_UTF16_BE
    return mark + text.encode(f"utf-16-{order}")


@pytest.mark.parametrize("order", ["le", "be"])
def test_utf16_opml_with_a_billion_laughs_dtd_is_refused(order: str) -> None:
    data = _utf16(BILLION_LAUGHS, order)
    assert b"<!DOCTYPE" not in data
    with pytest.raises(ValueError) as raised:
        parse_opml(data)
    message = str(raised.value)
    assert message == "OPML with a DOCTYPE or ENTITY declaration is not accepted"


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS.encode("utf-32"),
        BILLION_LAUGHS.encode("utf-16-le"),
        BILLION_LAUGHS.replace('"1.0"?>', '"1.0" encoding="windows-1251"?>').encode("cp1251"),
        codecs.BOM_UTF8 + BILLION_LAUGHS.encode("utf-8"),
    ],
    ids=["utf-32", "utf-16-without-mark", "windows-1251", "utf-8-with-mark"],
)
def test_a_dtd_is_found_in_every_encoding(data: bytes) -> None:
    with pytest.raises(ValueError, match="DOCTYPE"):
        parse_opml(data)


@pytest.mark.parametrize("order", ["le", "be"])
def test_clean_utf16_opml_is_imported(order: str, tmp_path: Path) -> None:
    document = '<?xml version="1.0" encoding="UTF-16"?>\n' + RUSSIAN_OPML
    assert parse_opml(_utf16(document, order)) == RUSSIAN_FEEDS
    path = tmp_path / "ленты.list"
    path.write_bytes(_utf16(document, order))
    assert load_feed_list(path) == RUSSIAN_FEEDS


def test_windows_1251_opml_with_russian_titles_is_imported() -> None:
    document = '<?xml version="1.0" encoding="windows-1251"?>\n' + RUSSIAN_OPML
    data = document.encode("cp1251")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert parse_opml(data) == RUSSIAN_FEEDS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml version="1.0" encoding="x-marsian"?><opml/>', "unknown encoding"),
        (b'<?xml version="1.0" encoding="utf-16"?><opml/>', "declared utf-16"),
        (
            '<?xml version="1.0"?><opml><head><title>Омск</title></head></opml>'.encode("cp1251"),
            "not utf-8 text",
        ),
    ],
)
def test_opml_that_does_not_decode_is_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_opml(data)
    assert "\n" not in str(raised.value)


def _opml_outlines(*outlines: tuple[str, str]) -> bytes:
    body = "".join(f'<outline text="{text}" xmlUrl="{url}"/>' for text, url in outlines)
    return f'<opml version="2.0"><body>{body}</body></opml>'.encode()


def test_an_outline_with_an_over_long_url_is_refused_and_the_rest_read() -> None:
    long_url = "https://bk55.example/" + "novosti/" * 750
    long_title = ("Омская область и Узбекистан подписали соглашение о сотрудничестве " * 110)[:7000]
    data = _opml_outlines(
        (long_title, "https://omskinform.example/rss"), ("Длинный адрес", long_url)
    )
    found = read_opml(data)
    assert [spec.url for spec in found.feeds] == ["https://omskinform.example/rss"]
    title = found.feeds[0].title
    assert title is not None and len(title) <= MAX_FEED_TITLE_LENGTH and title.endswith("…")
    assert title.startswith("Омская область и Узбекистан")
    ((refused_url, problem),) = [(item.url, item.problem) for item in found.refused]
    assert refused_url == long_url and problem is OutlineProblem.TOO_LONG

    with pytest.raises(ValueError) as raised:
        parse_opml(data)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 300
    assert f"longer than {MAX_FEED_URL_LENGTH} characters" in message


def test_a_url_of_exactly_the_maximum_is_accepted() -> None:
    base = "https://ngs55.example/rss?"
    url = base + "q" * (MAX_FEED_URL_LENGTH - len(base))
    assert parse_opml(_opml_outlines(("НГС55", url))) == [FeedSpec(url, "НГС55")]


def test_text_feed_list_refuses_an_over_long_url_and_caps_titles() -> None:
    long_url = "https://kvnews.example/" + "lenta/" * 400
    with pytest.raises(ValueError) as raised:
        parse_feed_lines(f"https://bk55.example/rss БК55\n{long_url} Коммерческие вести\n")
    message = str(raised.value)
    assert "\n" not in message and len(message) < 300
    assert message.startswith("feed list: line 2: URL longer than 2048 characters")
    (spec,) = parse_feed_lines("https://bk55.example/rss " + "Бизнес-курс " * 100)
    assert spec.title is not None and len(spec.title) <= MAX_FEED_TITLE_LENGTH
