from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from digests.model import DigestArticle, Subscription
from digests.select import select_articles
from testing.articles import TOPIC_ORDER

Factory = Callable[..., DigestArticle]

UZ_TJ = Subscription(topic_order=TOPIC_ORDER, countries=frozenset({"UZ", "TJ"}), topics=frozenset())


def ids(articles: list[DigestArticle]) -> list[int]:
    return [article.id for article in articles]


def test_since_keeps_only_articles_first_seen_after_it(
    article_factory: Factory, base_time: datetime
) -> None:
    articles = [
        article_factory(1, hours=-30, seen_hours=-30),
        article_factory(2, hours=-30, seen_hours=0),  # old news ingested at `since`: not after
        article_factory(3, hours=-30, seen_hours=1),  # old date, ingested late: new to us
        article_factory(4, hours=2),
    ]
    chosen = select_articles(articles, UZ_TJ, since=base_time, already_sent=())
    assert ids(chosen) == [4, 3]


def test_no_since_means_all_time(article_factory: Factory) -> None:
    articles = [article_factory(1, hours=-1000), article_factory(2)]
    assert ids(select_articles(articles, UZ_TJ, since=None, already_sent=[])) == [2, 1]


def test_naive_since_is_taken_as_utc(article_factory: Factory, base_time: datetime) -> None:
    articles = [article_factory(1, hours=-1), article_factory(2, hours=1)]
    naive = base_time.replace(tzinfo=None)
    assert ids(select_articles(articles, UZ_TJ, since=naive, already_sent=())) == [2]


def test_already_sent_articles_never_come_back(article_factory: Factory) -> None:
    articles = [article_factory(n, hours=n) for n in range(1, 6)]
    chosen = select_articles(articles, UZ_TJ, since=None, already_sent=[2, 4, 99])
    assert ids(chosen) == [5, 3, 1]
    chosen_from_set = select_articles(articles, UZ_TJ, since=None, already_sent=frozenset({5}))
    assert 5 not in ids(chosen_from_set)


def test_country_threshold_is_inclusive(article_factory: Factory) -> None:
    articles = [
        article_factory(1, countries={"UZ": 0.5}),
        article_factory(2, countries={"UZ": 0.49}),
        article_factory(3, countries={"KZ": 0.99}),  # not subscribed
        article_factory(4, countries={"KZ": 0.99, "TJ": 0.6}),
        article_factory(5, countries={}),
    ]
    chosen = select_articles(articles, UZ_TJ, since=None, already_sent=())
    assert sorted(ids(chosen)) == [1, 4]


def test_subscription_threshold_is_respected(article_factory: Factory) -> None:
    strict = Subscription(
        topic_order=TOPIC_ORDER, countries=frozenset({"UZ"}), topics=frozenset(), threshold=0.8
    )
    articles = [article_factory(1, countries={"UZ": 0.79}), article_factory(2)]
    assert ids(select_articles(articles, strict, since=None, already_sent=())) == [2]


def test_topic_filter_requires_a_subscribed_topic_above_threshold(
    article_factory: Factory,
) -> None:
    sub = Subscription(
        topic_order=TOPIC_ORDER,
        countries=frozenset({"UZ"}),
        topics=frozenset({"agreements", "youth"}),
    )
    articles = [
        article_factory(1, topics={"agreements": 0.7}),
        article_factory(2, topics={"trade": 0.95}),
        article_factory(3, topics={"youth": 0.3, "trade": 0.9}),
        article_factory(4, topics={"trade": 0.9, "youth": 0.51}),
        article_factory(5, topics={}),
    ]
    assert sorted(ids(select_articles(articles, sub, since=None, already_sent=()))) == [1, 4]


def test_empty_topic_set_means_every_topic_even_untagged(article_factory: Factory) -> None:
    articles = [article_factory(1, topics={}), article_factory(2, topics={"energy": 0.9})]
    assert sorted(ids(select_articles(articles, UZ_TJ, since=None, already_sent=()))) == [1, 2]


def test_empty_country_set_matches_nothing(article_factory: Factory) -> None:
    nothing = Subscription(topic_order=TOPIC_ORDER, countries=frozenset(), topics=frozenset())
    articles = [article_factory(1, countries={"UZ": 1.0, "KZ": 1.0})]
    assert select_articles(articles, nothing, since=None, already_sent=()) == []


def test_country_codes_compare_case_insensitively(article_factory: Factory) -> None:
    lower = Subscription(
        topic_order=TOPIC_ORDER, countries=frozenset({"uz"}), topics=frozenset({"TRADE"})
    )
    assert ids(select_articles([article_factory(1)], lower, since=None, already_sent=())) == [1]


def test_each_id_once_newest_first(article_factory: Factory, base_time: datetime) -> None:
    first = article_factory(7, hours=1)
    articles = [article_factory(3, hours=5), first, first, article_factory(9, hours=5)]
    chosen = select_articles(
        iter(articles), UZ_TJ, since=base_time - timedelta(days=1), already_sent=()
    )
    assert ids(chosen) == [3, 9, 7]
