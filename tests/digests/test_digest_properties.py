"""Random article sets full of hostile text always render to valid Telegram messages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digests.cluster import cluster_stories
from digests.compose import compose_digest
from digests.model import DigestArticle, Labels, Subscription
from digests.render import (
    MAX_ENTITIES,
    MAX_HTML_LENGTH,
    MAX_MESSAGE_LENGTH,
    entity_count,
    escape,
    html_to_text,
    render_article_list,
    render_digest,
    render_plain,
    split_html_items,
    utf16_length,
    visible_length,
)
from digests.select import select_articles
from testing.articles import TOPIC_ORDER

Checker = Callable[[str], list[str]]

HOSTILE_PIECES = [
    "<", ">", "&", '"', "'", "&amp;", "&lt;b&gt;", "<b>", "</b>", "</a>", '<a href="x">',
    "&#0;", "&#xD800;", "&nbsp;", "😀", "👨‍👩‍👧‍👦", "🇺🇿", "\u202e", "\u2066", "\u200b",
    "\u200d", "\ufeff", "שלום", "مرحبا", "\x00", "\x1b[31m", "\x07", "\n", "\r\n", "\t",
    "  ", "Ё", "ё", "\U0001f600", "\ue000", "\u0301", "\u2028", "\ud83d", "Узбекистан",
]  # fmt: skip
SUMMARIES = [
    "Губернатор Омской области Виталий Хоценко и хоким Бухарской области подписали "
    "соглашение о сотрудничестве в торговле, науке и культуре до 2028 года.",
    "С 15 декабря авиакомпания «Победа» возобновит прямые рейсы из Омска в Астану, "
    "самолёты будут летать по вторникам и субботам, билеты от 6900 рублей.",
    "",
]

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=15)), max_size=10
).map("".join)
long_text = st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["Я", "😀", "&", "<b>", "слово ", "\u200b", '"']),
    st.integers(1500, 10_000),
)
titles = st.one_of(hostile_text, long_text, st.sampled_from(["Омск и Бухара", ""]))
urls = st.one_of(
    hostile_text.map(lambda path: "https://bk55.ru/news/" + path),
    st.sampled_from(["javascript:alert(1)", "", "http://", "ftp://x.ru/", "https://x.ru/a b"]),
    st.integers(0, 3000).map(lambda n: "https://x.ru/" + "a" * n),
)
sources = st.one_of(
    hostile_text, long_text, st.sampled_from(["БК55", "Омскинформ", "НГС55", "Омская правда"])
)
scores = st.floats(0.0, 1.0)
countries = st.dictionaries(st.sampled_from(["UZ", "KZ", "TJ", "CN"]), scores, max_size=3)
topics = st.dictionaries(
    st.sampled_from([*TOPIC_ORDER, "unknown_topic"]), scores, max_size=3
)  # fmt: skip
summaries = st.one_of(st.sampled_from(SUMMARIES), hostile_text)
BASE = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@st.composite
def article_sets(draw: st.DrawFn) -> list[DigestArticle]:
    count = draw(st.integers(0, 30))
    articles = []
    for number in range(1, count + 1):
        published = BASE + timedelta(hours=draw(st.floats(-72.0, 72.0)))
        articles.append(
            DigestArticle(
                id=number,
                title=draw(titles),
                url=draw(urls),
                source=draw(sources),
                published_at=published,
                first_seen_at=published,
                countries=draw(countries),
                topics=draw(topics),
                summary=draw(summaries),
            )
        )
    return articles


@st.composite
def label_sets(draw: st.DrawFn, plain: Labels) -> Labels:
    if draw(st.booleans()):
        return plain
    return Labels(
        country_names={"UZ": draw(hostile_text), "KZ": draw(long_text)},
        topic_names={"trade": draw(hostile_text), "agreements": draw(long_text)},
        digest_title=draw(hostile_text) + draw(st.sampled_from([" {date}", " {", "{0}", "}"])),
        also=draw(hostile_text),
        more=draw(hostile_text) + draw(st.sampled_from([" {n}", "{x}", "{"])),
        other_topics=draw(hostile_text),
        month_names=[draw(hostile_text) for _ in range(12)],
    )


def assert_valid_message(markup: str, check_html: Checker) -> None:
    assert check_html(markup) == [], check_html(markup)[:3]
    assert visible_length(markup) <= MAX_MESSAGE_LENGTH
    assert utf16_length(markup) <= MAX_HTML_LENGTH
    assert entity_count(markup) <= MAX_ENTITIES


def test_checker_rejects_what_telegram_rejects(check_html: Checker) -> None:
    assert check_html('<b>ok</b> <a href="https://x.ru/?a=1&amp;b=2">x</a> &lt;&#128512;') == []
    for bad in [
        "a & b",
        "<b>open",
        "<b><i>x</b></i>",
        "<script>x</script>",
        '<a href="javascript:x">x</a>',
        '<a href="https://x.ru">a <a href="https://y.ru">b</a></a>',
        "1 < 2",
        "\ud83d",
    ]:
        assert check_html(bad), bad


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_digest_renders_to_valid_messages_holding_each_article_once(
    data: st.DataObject, check_html: Checker, labels: Labels
) -> None:
    articles = data.draw(article_sets())
    chosen_labels = data.draw(label_sets(labels))
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset(data.draw(st.sets(st.sampled_from(["UZ", "KZ", "TJ"])))),
        topics=frozenset(data.draw(st.sets(st.sampled_from(TOPIC_ORDER[:4]), max_size=2))),
        per_country_cap=data.draw(st.integers(0, 8)),
    )
    tz = data.draw(st.sampled_from(["Asia/Omsk", "UTC", "America/St_Johns", "Bad/Zone"]))
    digest = compose_digest(articles, sub, None, ())
    messages = render_digest(digest, chosen_labels, tz=tz, date=date(2026, 11, 21))

    for message in messages:
        assert_valid_message(message.html, check_html)
    placed = Counter(article_id for message in messages for article_id in message.article_ids)
    assert all(times == 1 for times in placed.values())
    assert set(placed) == set(digest.article_ids)
    left_out = {
        article_id
        for section in digest.sections
        for story in section.more_stories
        for article_id in story.article_ids
    }
    selected = {article.id for article in select_articles(articles, sub, None, ())}
    assert set(digest.article_ids) | left_out == selected
    assert not set(digest.article_ids) & left_out
    assert bool(messages) == (not digest.is_empty)

    plain = render_plain(digest, chosen_labels, tz=tz, date=date(2026, 11, 21))
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", plain)

    listing = render_article_list(cluster_stories(articles), chosen_labels, tz=tz, header="Список")
    assert_valid_message(listing, check_html)


item_texts = st.one_of(hostile_text, long_text)


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(item_texts, max_size=40),
    limit=st.integers(200, MAX_MESSAGE_LENGTH),
)
def test_splitting_keeps_items_whole_and_in_order(
    texts: list[str], limit: int, check_html: Checker
) -> None:
    items = [
        f'• <a href="https://x.ru/{number}">{escape(text)}</a> — <i>{number}</i>'
        for number, text in enumerate(texts)
    ]
    messages = split_html_items("<b>Заголовок</b>", items, limit=limit)
    lines: list[str] = []
    for message in messages:
        assert check_html(message) == []
        assert visible_length(message) <= limit
        assert utf16_length(message) <= MAX_HTML_LENGTH
        header, *rest = message.split("\n")
        assert header == "<b>Заголовок</b>"
        lines.extend(rest)
    assert len(lines) == len(items)
    for number, (line, item) in enumerate(zip(lines, items, strict=True)):
        if line != item:  # shortened because it could not fit a message on its own
            assert line.endswith(f"…</a> — <i>{number}</i>")
            assert html_to_text(line)[:-10].rstrip("…") in html_to_text(item)
