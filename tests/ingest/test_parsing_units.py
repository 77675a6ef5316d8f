from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.clean import html_to_text, inline_text, lead, plain_text_to_paragraphs
from ingest.dates import parse_feed_date, resolve_item_date
from ingest.encoding import decode_document, with_utf8_declaration
from ingest.fulltext import extract_article_text, matches_title
from ingest.parse import (
    MAX_ITEMS_PER_FEED,
    FeedParseError,
    content_hash,
    parse_feed,
    strip_internal_subset,
)
from ingest.urls import canonical_url, is_public_address
from tests.ingest.parsing_samples import BILLION_LAUGHS

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
STORY = "Омская область и Узбекистан подписали соглашение о поставках зерна."


def _rss(items: str, *, encoding: str = "utf-8", title: str = "Омские новости") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<rss version="2.0"><channel><title>{title}</title><link>https://news.example/</link>'
        f"{items}</channel></rss>"
    )


# --- encodings ---------------------------------------------------------------------------


def test_windows1251_and_koi8r_are_told_apart_by_the_bytes_alone() -> None:
    for encoding in ("cp1251", "koi8_r"):
        document = decode_document(_rss(f"<item><title>{STORY}</title></item>").encode(encoding))
        assert STORY in document.text
        assert document.encoding == ("cp1251" if encoding == "cp1251" else "koi8-r")


def test_http_charset_that_contradicts_the_bytes_is_overruled() -> None:
    body = _rss(f"<item><title>{STORY}</title></item>", encoding="koi8-r").encode("koi8_r")
    document = decode_document(body, "text/xml; charset=windows-1251")
    assert STORY in document.text
    assert document.encoding == "koi8-r"


def test_declaration_that_lies_is_rewritten_to_utf8() -> None:
    body = _rss(f"<item><title>{STORY}</title></item>", encoding="windows-1251").encode()
    document = decode_document(body, "application/rss+xml")
    assert document.encoding == "utf-8" and document.declaration_lied
    fixed = document.as_utf8_xml()
    assert fixed.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert STORY.encode() in fixed


def test_utf16_with_bom() -> None:
    body = _rss(f"<item><title>{STORY}</title></item>", encoding="utf-16").encode("utf-16")
    document = decode_document(body)
    assert STORY in document.text
    assert with_utf8_declaration(document.text).startswith('<?xml version="1.0" encoding="utf-8"')


def test_declaration_is_added_when_missing() -> None:
    assert with_utf8_declaration("  <rss/>") == '<?xml version="1.0" encoding="utf-8"?>\n<rss/>'


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ср, 30 апр 2025 10:00:00 +0300", "2025-04-30T07:00:00+00:00"),
        ("Wed, 30 Apr 2025 10:00:00 MSK", "2025-04-30T07:00:00+00:00"),
        ("Wed, 30 Apr 2025 10:00:00 GMT", "2025-04-30T10:00:00+00:00"),
        ("30 мая 2025, 10:00", "2025-05-30T07:00:00+00:00"),
        ("Пт, 2 мая 2025 09:15 (OMST)", "2025-05-02T03:15:00+00:00"),
        ("2025-04-30T10:00:00+06:00", "2025-04-30T04:00:00+00:00"),
        ("2025-04-30T10:00:00Z", "2025-04-30T10:00:00+00:00"),
        ("2025-04-30 10:00", "2025-04-30T07:00:00+00:00"),
        ("30.04.2025 10:00", "2025-04-30T07:00:00+00:00"),
        ("Tue, 7 Jul 20 09:17:00 +0300", "2020-07-07T06:17:00+00:00"),
    ],
)
def test_feed_dates(raw: str, expected: str) -> None:
    parsed = parse_feed_date(raw)
    assert parsed is not None and parsed.isoformat() == expected


@pytest.mark.parametrize("raw", ["", "вчера", "Mon, 32 Jan 2025 10:00 +0300", "30 апр 2025 +9900"])
def test_unparseable_dates(raw: str) -> None:
    assert parse_feed_date(raw) is None


def test_future_and_missing_dates_resolve_to_fetch_time() -> None:
    tolerance = timedelta(minutes=10)
    assert resolve_item_date(None, fetched_at=NOW, tolerance=tolerance) == NOW
    soon = NOW + timedelta(minutes=5)
    assert resolve_item_date(soon, fetched_at=NOW, tolerance=tolerance) == soon
    later = NOW + timedelta(days=2)
    assert resolve_item_date(later, fetched_at=NOW, tolerance=tolerance) == NOW


# --- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTPS://BK55.Example:443/news/1/?utm_source=rss&id=7&from=main&fbclid=a#top",
            "https://bk55.example/news/1/?id=7",
        ),
        ("http://x.example/a?yclid=1&utm_campaign=z", "http://x.example/a"),
        ("http://x.example/news?12345", "http://x.example/news?12345"),
        ("http://x.example", "http://x.example/"),
        ("http://x.example:8080/a%d0%bf", "http://x.example:8080/a%D0%BF"),
        (
            "https://x.example/новости/1",
            "https://x.example/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1",
        ),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a00:1450:4010:c05::65", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# --- cleaning ----------------------------------------------------------------------------


def test_html_is_reduced_to_paragraphs_without_furniture() -> None:
    markup = (
        '<div class="article"><p>Делегация&nbsp;Ташкента прибыла в&nbsp;Омск.</p>'
        "<p>Переговоры\u00a0продлятся два дня.<br>Итоги подведут в пятницу.</p>"
        '<div class="read-also"><a href="/a">Другая новость про Казахстан</a></div>'
        '<p>Смотрите также: <a href="/b">Фоторепортаж с вокзала</a></p>'
        "<figure><img src='x.jpg'><figcaption>Фото: пресс-служба</figcaption></figure>"
        "<p><a href='/c'>Омск и Бишкек обсудили авиарейсы</a></p>"
        "<aside>Реклама</aside><p>Подробнее…</p></div>"
    )
    assert html_to_text(markup) == (
        "Делегация Ташкента прибыла в Омск.\n\n"
        "Переговоры продлятся два дня.\n\nИтоги подведут в пятницу."
    )


def test_teaser_heading_takes_the_following_headlines_with_it() -> None:
    text = (
        "Первый абзац статьи.\nЧитайте также:\nВ Омске открыли мост\nЦены на молоко\nКонец статьи."
    )
    assert plain_text_to_paragraphs(text) == ["Первый абзац статьи.", "Конец статьи."]


def test_inline_text_and_unresolved_entities() -> None:
    assert inline_text("Омск&nbsp;&amp; <b>Бухара</b>") == "Омск & Бухара"
    assert html_to_text("Текст &lol9; и &xxe; конец") == "Текст и конец"


def test_lead_cuts_at_a_sentence() -> None:
    paragraphs = ["Первое предложение. " * 20, "Второй абзац."]
    teaser = lead(paragraphs, limit=100)
    assert len(teaser) <= 100 and teaser.endswith(".")


def test_content_hash_ignores_case_spacing_and_yo() -> None:
    assert content_hash("Ёлки  в Омске", "Текст.") == content_hash("елки в омске", "текст")
    assert content_hash("Ёлки в Омске", "Текст") != content_hash("Ёлки в Омске", "Другой")


# --- broken and hostile documents --------------------------------------------------------


def test_entity_bomb_is_not_expanded() -> None:
    started = time.perf_counter()
    parsed = parse_feed(
        BILLION_LAUGHS.encode(), url="https://bomb.example/rss", content_type=None, fetched_at=NOW
    )
    assert time.perf_counter() - started < 2
    texts = " ".join(item.title + item.summary for item in parsed.items)
    assert "lollol" not in texts and "root:" not in texts
    assert len(texts) < 500
    assert [item.title for item in parsed.items] == ["Заголовок", "Обычная новость"]


def test_internal_subset_is_removed_but_the_document_kept() -> None:
    stripped = strip_internal_subset(BILLION_LAUGHS)
    assert "<!ENTITY" not in stripped and stripped.endswith("</rss>")


def test_html_page_is_not_a_feed() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>\xd0\x9e\xd0\xbc\xd1\x81\xd0\xba</title></head></html>"
    )
    with pytest.raises(FeedParseError, match=r"not a feed \(HTML page\)"):
        parse_feed(page, url="https://x.example/", content_type="text/html", fetched_at=NOW)


def test_broken_xml_without_entries_is_an_error() -> None:
    with pytest.raises(FeedParseError, match="broken XML"):
        parse_feed(b"<rss><chan", url="https://x.example/", content_type=None, fetched_at=NOW)


def test_broken_xml_with_entries_keeps_them_with_a_warning() -> None:
    body = _rss(
        f"<item><title>Омск & Алматы</title><link>https://news.example/1</link>"
        f"<description>{STORY} <b>без закрытия</description></item>"
    ).encode()
    parsed = parse_feed(body, url="https://news.example/rss", content_type=None, fetched_at=NOW)
    assert parsed.warning is not None and parsed.warning.startswith("broken XML")
    assert [item.title for item in parsed.items] == ["Омск & Алматы"]


def test_valid_empty_feed_is_not_an_error() -> None:
    parsed = parse_feed(
        _rss("").encode(), url="https://x.example/", content_type=None, fetched_at=NOW
    )
    assert parsed.items == () and parsed.title == "Омские новости"


def test_plain_text_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(
            "просто текст".encode(), url="https://x.example/", content_type=None, fetched_at=NOW
        )


def test_only_the_head_of_a_huge_feed_is_read() -> None:
    items = "".join(
        f"<item><title>Новость {n}</title><link>https://news.example/{n}</link>"
        f"<description>Текст новости номер {n}.</description></item>"
        for n in range(MAX_ITEMS_PER_FEED + 20)
    )
    parsed = parse_feed(
        _rss(items).encode(), url="https://news.example/rss", content_type=None, fetched_at=NOW
    )
    assert len(parsed.items) == MAX_ITEMS_PER_FEED
    assert parsed.skipped == {"beyond the item limit": 20}
    assert parsed.items[0].title == "Новость 0"


def test_article_page_in_windows1251_with_meta_charset() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        "<title>Омск и Ташкент</title></head><body><nav><a href='/'>Главная</a></nav><article>"
        "<h1>Омск и Ташкент запустят грузовой авиарейс</h1>"
        "<p>Первый рейс из аэропорта Омск-Центральный в Ташкент запланирован на июнь. "
        "Самолёт будет перевозить овощи, фрукты и промышленное оборудование.</p>"
        "<p>Организатором выступает омская логистическая компания, которая уже возит "
        "грузы в Казахстан и Кыргызстан. Рейсы будут выполняться дважды в неделю.</p>"
        "<p>Читайте также: Омские аграрии отправят зерно в Павлодар</p>"
        "</article><footer>Все права защищены</footer></body></html>"
    ).encode("cp1251")
    text = extract_article_text(page, "text/html", "https://news.example/flight")
    assert "Самолёт будет перевозить овощи" in text
    assert "дважды в неделю" in text
    assert "Читайте также" not in text and "Главная" not in text
    assert matches_title(text, "Омск и Ташкент запустят грузовой авиарейс")
    assert not matches_title(
        "Мы используем файлы cookie. Согласны?", "Омск и Ташкент запустят грузовой авиарейс"
    )


def test_feed_served_as_text_html_is_still_a_feed() -> None:
    body = _rss(f"<item><title>{STORY}</title><link>https://news.example/1</link></item>")
    parsed = parse_feed(
        body.encode(), url="https://x.example/", content_type="text/html", fetched_at=NOW
    )
    assert [item.title for item in parsed.items] == [STORY]


def test_utf8_with_a_broken_letter_stays_utf8() -> None:
    good = _rss(f"<item><title>{STORY}</title></item><item><title>{STORY}</title></item>")
    body = good.encode().replace("поставках".encode(), "поставках".encode()[:-1], 1)
    document = decode_document(body, "application/rss+xml")
    assert document.encoding == "utf-8"
    assert document.text.count(STORY) == 1 and "\ufffd" in document.text
