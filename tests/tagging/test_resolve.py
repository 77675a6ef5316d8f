from __future__ import annotations

import pytest

from tagging import lemmatize_for_search, resolve_country, resolve_topic


@pytest.mark.parametrize(
    "query",
    [
        "Узбекистан",
        "Узбекистане",
        "узбекистаном",
        "uzbekistan",
        "Uzbekistan",
        "UZ",
        "uz",
        "узбекский",
        "Узбекистн",
        "  УЗБЕКИСТАН  ",
        "Республика Узбекистан",
    ],
)
def test_uzbekistan_in_any_form(query: str) -> None:
    assert resolve_country(query).code == "UZ"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Киргизия", "KG"),
        ("Кыргызстан", "KG"),
        ("киргизии", "KG"),
        ("Kyrgyzstan", "KG"),
        ("Белоруссия", "BY"),
        ("Беларусь", "BY"),
        ("белоруссии", "BY"),
        ("КНР", "CN"),
        ("Китаю", "CN"),
        ("Монголия", "MN"),
        ("turkey", "TR"),
        ("Türkiye", "TR"),
        ("Вьетнаме", "VN"),
        ("ташкент", "UZ"),
    ],
)
def test_country_names_resolve(query: str, code: str) -> None:
    resolution = resolve_country(query)
    assert resolution.code == code
    assert resolution.suggestions == ()


def test_unknown_name_gets_suggestions() -> None:
    resolution = resolve_country("Казахстанн Республиканский")
    assert resolution.code is None
    assert "KZ" in resolution.suggestions


def test_close_but_ambiguous_prefix_suggests_several() -> None:
    resolution = resolve_country("Тур")
    assert resolution.code is None
    assert {"TR", "TM"} <= set(resolution.suggestions)


@pytest.mark.parametrize("query", ["", "   ", "!!!", "Атлантида"])
def test_nonsense_resolves_to_nothing(query: str) -> None:
    resolution = resolve_country(query)
    assert resolution.code is None


def test_overlong_query_is_handled() -> None:
    assert resolve_country("Узбекистан" + " " * 10_000).code == "UZ"
    assert resolve_country("х" * 10_000).code is None


@pytest.mark.parametrize(
    ("query", "topic_id"),
    [
        ("соглашения", "agreements"),
        ("agreements", "agreements"),
        ("торговля", "trade"),
        ("Торговле", "trade"),
        ("молодёжь", "youth"),
        ("визиты", "visits_events"),
        ("visits_events", "visits_events"),
        ("туризм", "culture_tourism"),
        ("миграция", "migration_labor"),
    ],
)
def test_topics_resolve(query: str, topic_id: str) -> None:
    assert resolve_topic(query) == topic_id


def test_unknown_topic_is_none() -> None:
    assert resolve_topic("квантовая хромодинамика") is None


def test_search_lemmas_match_across_word_forms() -> None:
    assert lemmatize_for_search("Соглашения") == lemmatize_for_search("соглашение")
    assert lemmatize_for_search("Подписано соглашение с Узбекистаном") == (
        "подписать соглашение с узбекистан"
    )


def test_search_lemmas_fold_yo_and_keep_numbers_and_latin() -> None:
    assert (
        lemmatize_for_search("Молодёжный форум 2025 Innoprom") == "молодежный форум 2025 innoprom"
    )
