from __future__ import annotations

import dataclasses
import re
import sys
import unicodedata
from collections.abc import Callable
from datetime import date

import pytest

from digests.cluster import cluster_stories
from digests.compose import Digest, DigestSection, compose_digest
from digests.model import DigestArticle, Labels, Story, Subscription
from digests.render import (
    LINE_BREAKERS,
    MAX_ENTITIES,
    MAX_HTML_LENGTH,
    MAX_MESSAGE_LENGTH,
    MessageLimits,
    clean_text,
    entity_count,
    fill,
    html_to_text,
    render_article_list,
    render_article_pages,
    render_digest,
    render_plain,
    render_story_item,
    split_html_items,
    visible_length,
)
from testing.articles import TOPIC_ORDER

Factory = Callable[..., DigestArticle]
Checker = Callable[[str], list[str]]
Loader = Callable[[str], tuple[list[DigestArticle], dict[int, str]]]

DAY = date(2026, 11, 21)
EVERYTHING = Subscription(
    topic_order=TOPIC_ORDER, countries=frozenset({"UZ", "KZ", "TJ"}), topics=frozenset()
)


def one_section(stories: list[Story], country: str = "UZ", topic: str = "trade") -> Digest:
    return Digest(
        sections=(DigestSection(country, ((topic, tuple(stories)),), 0),),
        article_ids=frozenset(i for story in stories for i in story.article_ids),
    )


def within_limits(markup: str) -> bool:
    return (
        visible_length(markup) <= MAX_MESSAGE_LENGTH
        and len(markup) <= MAX_HTML_LENGTH
        and entity_count(markup) <= MAX_ENTITIES
    )


def test_item_layout(article_factory: Factory, labels: Labels) -> None:
    lead = article_factory(1, title="Омск и Бухара подписали соглашение", source="Правительство")
    also = [
        article_factory(2, source="БК55", url="https://bk55.ru/a/2", hours=1),
        article_factory(3, source="Омскинформ", url="https://omskinform.ru/n/3", hours=2),
    ]
    item = render_story_item(Story(lead, tuple(also)), labels, tz="Asia/Omsk", today=DAY)
    assert item == (
        '• <a href="https://bk55.ru/news/article/1/">Омск и Бухара подписали соглашение</a>'
        " — Правительство, 20 ноября (также: "
        '<a href="https://bk55.ru/a/2">БК55</a>, <a href="https://omskinform.ru/n/3">Омскинформ</a>)'
    )


def test_hostile_feed_text_is_escaped(
    article_factory: Factory, labels: Labels, check_html: Checker
) -> None:
    hostile = article_factory(
        1,
        title='<script>alert("x")</script> & <b>жирный</b> &amp; &#x41;',
        source='<a href="https://evil.example">БК55</a>',
        url='https://bk55.ru/?a=1&b="2"><b>x</b>',
    )
    [message] = render_digest(one_section([Story(hostile)]), labels, tz="Asia/Omsk", date=DAY)
    assert check_html(message.html) == []
    shown = html_to_text(message.html)
    assert '<script>alert("x")</script> & <b>жирный</b> &amp; &#x41;' in shown
    assert '<a href="https://evil.example">БК55</a>' in shown
    assert 'href="https://bk55.ru/?a=1&amp;b=&quot;2&quot;&gt;&lt;b&gt;x&lt;/b&gt;"' in message.html
    assert entity_count(message.html) == 4  # title, country, topic, one link: nothing injected


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "", "ftp://files.example/a", "//no-scheme.ru/a", "https://", "x" * 50],
)
def test_unsafe_or_broken_urls_are_not_linked(
    article_factory: Factory, labels: Labels, check_html: Checker, url: str
) -> None:
    item = render_story_item(
        Story(article_factory(1, title="Заголовок", url=url)), labels, tz="UTC", today=DAY
    )
    assert "<a " not in item
    assert item.startswith("• Заголовок — БК55, ")
    assert check_html(item) == []


def test_control_and_direction_characters_are_removed(
    article_factory: Factory, labels: Labels
) -> None:
    title = "Новость\x00 с\nпереносом\u202eи обратным\u2066 порядком\x1b[31m\ufeff"
    item = render_story_item(Story(article_factory(1, title=title)), labels, tz="UTC", today=DAY)
    text = html_to_text(item)
    assert "Новость с переносом" in text
    assert not re.search("[\x00-\x1f\u202a-\u202e\u2066-\u2069\ufeff]", text)


def test_the_characters_shown_as_spaces_are_the_control_and_separator_categories() -> None:
    # LINE_BREAKERS stands for unicodedata's Cc, Zl and Zp, which it is faster than asking
    # character by character; a Unicode version that moved a character would show here.
    by_category = {
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Zl", "Zp")
    }
    by_pattern = {
        chr(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and LINE_BREAKERS.fullmatch(chr(code))
    }
    assert by_pattern == by_category
    assert clean_text("Омск\u2028Ташкент\x85Минск\ufeff\t") == "Омск Ташкент Минск"


def test_dates_are_in_the_subscriber_time_zone(article_factory: Factory, labels: Labels) -> None:
    late_evening_utc = article_factory(1, hours=17.5)  # 2026-11-20 20:30 UTC
    story = Story(late_evening_utc)
    assert "— БК55, 21 ноября" in render_story_item(story, labels, tz="Asia/Omsk", today=DAY)
    assert "— БК55, 20 ноября" in render_story_item(story, labels, tz="UTC", today=DAY)
    assert "— БК55, 20 ноября 2026" in render_story_item(
        story, labels, tz="UTC", today=date(2027, 1, 2)
    )
    assert "20 ноября" in render_story_item(story, labels, tz="No/Such_Zone", today=DAY)


def test_catalog_strings_with_stray_braces_do_not_break_rendering(labels: Labels) -> None:
    broken = dataclasses.replace(labels, digest_title="Дайджест {дата}", more="ещё {")
    assert fill(broken.digest_title, date="21 ноября") == "Дайджест {дата}"
    assert fill(labels.digest_title, date="21 ноября") == "Дайджест за 21 ноября"
    digest = Digest(sections=(), article_ids=frozenset())
    assert render_plain(digest, broken, tz="UTC", date=DAY).startswith("Дайджест {дата}\n")


def test_many_outlets_are_capped(article_factory: Factory, labels: Labels) -> None:
    others = tuple(
        article_factory(n, source=f"Издание {n}", url=f"https://e{n}.ru/") for n in range(2, 10)
    )
    item = render_story_item(Story(article_factory(1), others), labels, tz="UTC", today=DAY)
    assert item.count("<a ") == 6
    assert item.endswith(", ещё 3)")


def test_digest_layout_and_title(
    story_fixture: Loader, labels: Labels, check_html: Checker
) -> None:
    articles, _ = story_fixture("stories_tuning.json")
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "TJ"}),
        topics=frozenset(),
        per_country_cap=4,
    )
    digest = compose_digest(articles, sub, None, ())
    [message] = render_digest(digest, labels, tz="Asia/Omsk", date=DAY)
    lines = message.html.split("\n")
    assert lines[:4] == [
        "<b>Дайджест за 21 ноября</b>",
        "",
        "<b>🇺🇿 Узбекистан</b>",
        "<i>Соглашения</i>",
    ]
    assert "<b>🇹🇯 Таджикистан</b>" in lines
    assert lines[lines.index("<b>🇹🇯 Таджикистан</b>") - 1] == ""
    assert sum(line.startswith("• ") for line in lines) == 4 + 3
    assert message.more_buttons == (("UZ", 5),)
    assert set(message.article_ids) == set(digest.article_ids)
    assert check_html(message.html) == []


def test_long_digest_splits_between_items_and_repeats_headings(
    article_factory: Factory, labels: Labels, check_html: Checker
) -> None:
    articles = [
        article_factory(
            n,
            title=f"Материал {n}: " + "длинный заголовок о сотрудничестве " * 4,
            countries={"UZ" if n < 60 else "KZ": 0.9},
            topics={"trade" if n % 3 else "agreements": 0.9},
            hours=n,
        )
        for n in range(1, 90)
    ]
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "KZ"}),
        topics=frozenset(),
        per_country_cap=0,
    )
    digest = compose_digest(articles, sub, None, ())
    messages = render_digest(digest, labels, tz="Asia/Omsk", date=DAY)
    assert len(messages) >= 3
    assert messages[0].html.startswith("<b>Дайджест за 21 ноября</b>\n\n<b>🇺🇿 Узбекистан</b>")
    for message in messages:
        assert check_html(message.html) == []
        assert within_limits(message.html)
        first_lines = message.html.removeprefix("<b>Дайджест за 21 ноября</b>\n\n").split("\n")[:3]
        # every message names its country and topic before its first item
        assert any(line.startswith("<b>🇺🇿") or line.startswith("<b>🇰🇿") for line in first_lines)
        assert any(line.startswith("<i>") for line in first_lines)
    for message in messages[1:]:
        assert "Дайджест" not in message.html
    ids = [i for message in messages for i in message.article_ids]
    assert sorted(ids) == sorted(digest.article_ids)
    for message in messages:  # every id belongs to an item of its own message
        for article_id in message.article_ids:
            assert f"/article/{article_id}/" in message.html


def test_entity_limit_splits_short_items(
    article_factory: Factory, labels: Labels, check_html: Checker
) -> None:
    articles = [
        article_factory(n, title=str(n), url=f"https://a.ru/{n}", hours=n) for n in range(300)
    ]
    digest = compose_digest(
        articles,
        Subscription(frozenset({"UZ"}), per_country_cap=0, topic_order=TOPIC_ORDER),
        None,
        (),
    )
    messages = render_digest(digest, labels, tz="UTC", date=DAY)
    assert all(entity_count(m.html) <= MAX_ENTITIES for m in messages)
    assert all(visible_length(m.html) < MAX_MESSAGE_LENGTH for m in messages)
    assert len(messages) >= 4
    assert sum(len(m.article_ids) for m in messages) == 300


def test_more_button_goes_with_the_section_end(article_factory: Factory, labels: Labels) -> None:
    articles = [
        article_factory(n, title="Заголовок " + "слово " * 150, hours=n, countries={"UZ": 0.9})
        for n in range(1, 41)
    ] + [article_factory(100, countries={"KZ": 0.9})]
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "KZ"}),
        topics=frozenset(),
        per_country_cap=30,
    )
    messages = render_digest(compose_digest(articles, sub, None, ()), labels, tz="UTC", date=DAY)
    with_button = [m for m in messages if m.more_buttons]
    assert len(with_button) == 1
    assert with_button[0].more_buttons == (("UZ", 10),)
    assert "<b>🇰🇿 Казахстан</b>" in messages[-1].html
    assert "<b>🇺🇿 Узбекистан</b>" in with_button[0].html


def test_oversized_item_is_shortened_but_keeps_its_link(
    article_factory: Factory, labels: Labels, check_html: Checker
) -> None:
    huge = article_factory(1, title="Очень " * 3000 + "конец", source="<БК55> & Co")
    [message] = render_digest(one_section([Story(huge)]), labels, tz="UTC", date=DAY)
    assert within_limits(message.html)
    assert check_html(message.html) == []
    assert '<a href="https://bk55.ru/news/article/1/">Очень Очень' in message.html
    assert "…</a> — &lt;БК55&gt; &amp; Co, 20 ноября" in message.html
    assert "конец" not in message.html


def test_split_html_items_never_cuts_an_item(check_html: Checker) -> None:
    items = [
        f'• <a href="https://x.ru/{n}">Пункт {n}</a> — {"текст " * (n % 40)}' for n in range(400)
    ]
    messages = split_html_items("<b>Новости</b>", items)
    assert len(messages) > 1
    seen: list[str] = []
    for message in messages:
        assert within_limits(message)
        assert check_html(message) == []
        header, *lines = message.split("\n")
        assert header == "<b>Новости</b>"
        seen.extend(lines)
    assert seen == items


def test_split_html_items_shortens_an_item_too_long_alone(check_html: Checker) -> None:
    giant = '• <a href="https://x.ru/1">' + "Я" * 9000 + "</a> — <i>источник</i>"
    messages = split_html_items("", ["• первый", giant, "• последний"], limit=1000)
    assert len(messages) == 3
    assert messages[0] == "• первый" and messages[2] == "• последний"
    assert visible_length(messages[1]) <= 1000
    assert check_html(messages[1]) == []
    assert messages[1].endswith("…</a> — <i>источник</i>")
    assert split_html_items("<b>Пусто</b>", []) == ["<b>Пусто</b>"]


def test_visible_length_counts_utf16_after_entities() -> None:
    assert visible_length("<b>&lt;b&gt;</b>") == 3
    assert visible_length('<a href="https://x.ru/?a=1&amp;b=2">ссылка</a>') == 6
    assert visible_length("😀 &#128512; &#x1F600;") == 8  # astral characters count twice
    assert visible_length("&nbsp;") == 6  # Telegram keeps unknown named entities as text
    assert visible_length("a < b & c") == 9


def test_article_list_is_one_message_with_a_count_of_the_rest(
    story_fixture: Loader, labels: Labels, check_html: Checker
) -> None:
    articles, _ = story_fixture("stories_tuning.json")
    stories = cluster_stories(articles)
    short = render_article_list(stories[:3], labels, tz="Asia/Omsk", header="Новости: Узбекистан")
    assert short.startswith("<b>Новости: Узбекистан</b>\n• <a href=")
    assert short.count("\n• ") == 3
    tight = MessageLimits(visible=700)
    listed = render_article_list(stories, labels, tz="Asia/Omsk", header="Всё", limits=tight)
    shown = listed.count("\n• ")
    assert 0 < shown < len(stories)
    assert listed.endswith(f"\nещё {len(stories) - shown}")
    assert visible_length(listed) <= 700
    assert check_html(listed) == []
    plain_articles = render_article_list(articles[:2], labels, tz="UTC")
    assert plain_articles.count("• ") == 2
    assert render_article_list([], labels, tz="UTC", header="Ничего") == "<b>Ничего</b>"


def test_article_pages_carry_ids_and_header(article_factory: Factory, labels: Labels) -> None:
    articles = [article_factory(n, title="Новость " * 20, hours=n) for n in range(60)]
    pages = render_article_pages(articles, labels, tz="UTC", header="Соглашения <UZ>")
    assert len(pages) > 1
    assert all(page.html.startswith("<b>Соглашения &lt;UZ&gt;</b>\n") for page in pages)
    assert [i for page in pages for i in page.article_ids] == list(range(60))


def test_plain_rendering_for_the_terminal(
    story_fixture: Loader, article_factory: Factory, labels: Labels
) -> None:
    articles, _ = story_fixture("stories_tuning.json")
    evil = article_factory(
        999, title="Взлом \x1b[2J\x1b]0;title\x07 терминала", countries={"KZ": 1.0}, hours=48
    )
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "KZ"}),
        topics=frozenset(),
        per_country_cap=2,
    )
    digest = compose_digest([*articles, evil], sub, None, ())
    text = render_plain(digest, labels, tz="Asia/Omsk", date=DAY)
    assert text.startswith("Дайджест за 21 ноября\n=====")
    assert "🇺🇿 Узбекистан" in text and "  Соглашения" in text
    assert "https://omskportal.ru/news/2026/11/20/samarkand-roadmap" in text
    assert "также: Город55 https://gorod55.ru/news/2026-11-20/samarkand" in text
    assert "… ещё " in text
    assert "Взлом [2J ]0;title терминала" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    assert "<" not in text.replace("<", "") and "<b>" not in text
