from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from digests.compose import Digest, compose_digest
from digests.model import DigestArticle, Subscription
from testing.articles import TOPIC_ORDER

Factory = Callable[..., DigestArticle]
Loader = Callable[[str], tuple[list[DigestArticle], dict[int, str]]]

ALL_TOPICS = Subscription(
    topic_order=TOPIC_ORDER, countries=frozenset({"UZ", "KZ", "TJ"}), topics=frozenset()
)


def layout(digest: Digest) -> list[tuple[str, list[tuple[str | None, list[int]]], int]]:
    return [
        (
            section.country,
            [
                (topic, [story.lead.id for story in stories])
                for topic, stories in section.topic_groups
            ],
            section.more_count,
        )
        for section in digest.sections
    ]


def test_countries_by_story_count_then_code(article_factory: Factory) -> None:
    articles = [
        article_factory(1, countries={"TJ": 0.9}),
        article_factory(2, countries={"KZ": 0.9}, hours=1),
        article_factory(3, countries={"KZ": 0.9}, hours=2),
        article_factory(4, countries={"UZ": 0.9}, hours=3),
    ]
    digest = compose_digest(articles, ALL_TOPICS, None, ())
    assert [section.country for section in digest.sections] == ["KZ", "TJ", "UZ"]


def test_topics_in_product_order_untagged_last_newest_first(article_factory: Factory) -> None:
    articles = [
        article_factory(1, topics={"visits_events": 0.9}, hours=1),
        article_factory(2, topics={"trade": 0.9}, hours=2),
        article_factory(3, topics={}, hours=3),
        article_factory(4, topics={"agreements": 0.6, "trade": 0.99}, hours=4),
        article_factory(5, topics={"trade": 0.9}, hours=5),
        article_factory(6, topics={"some_new_topic": 0.9}, hours=6),
    ]
    digest = compose_digest(articles, ALL_TOPICS, None, ())
    assert layout(digest) == [
        (
            "UZ",
            [
                ("agreements", [4]),  # agreements first, even when trade scores higher
                ("trade", [5, 2]),
                ("visits_events", [1]),
                ("some_new_topic", [6]),  # unknown topic ids after the known ones
                (None, [3]),
            ],
            0,
        )
    ]


def test_topic_filter_decides_the_group(article_factory: Factory) -> None:
    sub = Subscription(
        topic_order=TOPIC_ORDER, countries=frozenset({"UZ"}), topics=frozenset({"trade", "youth"})
    )
    articles = [article_factory(1, topics={"agreements": 0.9, "youth": 0.8, "trade": 0.4})]
    assert layout(compose_digest(articles, sub, None, ())) == [("UZ", [("youth", [1])], 0)]


def test_a_story_appears_once_under_its_strongest_country(article_factory: Factory) -> None:
    articles = [
        article_factory(1, countries={"UZ": 0.6, "TJ": 0.95, "CN": 1.0}),
        article_factory(2, countries={"UZ": 0.7, "KZ": 0.7}),  # tie: by code
    ]
    digest = compose_digest(articles, ALL_TOPICS, None, ())
    assert layout(digest) == [("KZ", [("trade", [2])], 0), ("TJ", [("trade", [1])], 0)]
    assert [story.lead.id for story in digest.stories] == [2, 1]


def test_per_country_cap_counts_what_is_left_out(article_factory: Factory) -> None:
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ", "KZ"}),
        topics=frozenset(),
        per_country_cap=3,
    )
    articles = [
        article_factory(n, topics={"agreements" if n % 2 else "trade": 0.9}, hours=n)
        for n in range(1, 7)
    ] + [article_factory(10, countries={"KZ": 0.9})]
    digest = compose_digest(articles, sub, None, ())
    assert layout(digest) == [
        ("UZ", [("agreements", [5, 3, 1])], 3),
        ("KZ", [("trade", [10])], 0),
    ]
    uzbek = digest.sections[0]
    assert [story.lead.id for story in uzbek.more_stories] == [6, 4, 2]
    assert digest.article_ids == frozenset({5, 3, 1, 10})  # left-out stories are not "sent"


def test_zero_cap_means_no_cap(article_factory: Factory) -> None:
    sub = Subscription(
        topic_order=TOPIC_ORDER, countries=frozenset({"UZ"}), topics=frozenset(), per_country_cap=0
    )
    articles = [article_factory(n, hours=n) for n in range(1, 21)]
    digest = compose_digest(articles, sub, None, ())
    assert len(digest.stories) == 20
    assert digest.sections[0].more_count == 0


def test_merged_story_records_every_outlet_as_sent(story_fixture: Loader) -> None:
    articles, _ = story_fixture("stories_tuning.json")
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"KZ"}),
        topics=frozenset({"transport_logistics"}),
    )
    digest = compose_digest(articles, sub, None, ())
    assert layout(digest) == [("KZ", [("transport_logistics", [116, 112])], 0)]
    assert digest.article_ids == frozenset({112, 113, 114, 115, 116})


def test_selection_rules_apply(article_factory: Factory, base_time: datetime) -> None:
    articles = [
        article_factory(1, hours=-5, seen_hours=-5),
        article_factory(2, hours=1),
        article_factory(3, hours=2),
    ]
    digest = compose_digest(articles, ALL_TOPICS, base_time - timedelta(hours=1), [3])
    assert digest.article_ids == frozenset({2})


def test_nothing_new_gives_an_empty_digest(article_factory: Factory) -> None:
    digest = compose_digest([article_factory(1)], ALL_TOPICS, None, already_sent=[1])
    assert digest.is_empty
    assert digest.article_ids == frozenset()
    assert not compose_digest([article_factory(2)], ALL_TOPICS, None, ()).is_empty


def test_realistic_digest_for_uzbekistan_and_tajikistan(story_fixture: Loader) -> None:
    articles, _ = story_fixture("stories_tuning.json")
    sub = Subscription(
        topic_order=TOPIC_ORDER, countries=frozenset({"UZ", "TJ"}), topics=frozenset()
    )
    digest = compose_digest(articles, sub, None, ())
    assert layout(digest) == [
        (
            "UZ",
            [
                ("agreements", [140, 104, 101]),
                ("trade", [143, 108, 142, 106]),
            ],
            2,
        ),
        ("TJ", [("trade", [125]), ("education_science", [121]), ("migration_labor", [123])], 0),
    ]
    assert [story.lead.id for story in digest.sections[0].more_stories] == [110, 139]
