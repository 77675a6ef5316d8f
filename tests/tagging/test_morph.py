from __future__ import annotations

import pytest

from tagging.morph import Lemmatizer


@pytest.fixture(scope="module")
def lemmatizer() -> Lemmatizer:
    return Lemmatizer()


def _matches(lemmatizer: Lemmatizer, text_word: str, entry_word: str) -> bool:
    entry_keys = lemmatizer.forms(entry_word).entry_keys
    return not lemmatizer.forms(text_word).keys.isdisjoint(entry_keys)


@pytest.mark.parametrize(
    ("text_word", "entry_word"),
    [
        ("Узбекистаном", "Узбекистан"),
        ("узбекских", "узбекский"),
        ("Ташкенте", "Ташкент"),
        ("Бухарской", "бухарский"),
        ("Мирзиёевым", "Мирзиёев"),
        ("Мирзиеевым", "Мирзиёев"),
        ("Хатлонской", "хатлонский"),
        ("Хатлона", "Хатлон"),
        ("Киргизии", "Киргизия"),
        ("Китаем", "Китай"),
    ],
)
def test_word_forms_reach_the_entry(
    lemmatizer: Lemmatizer, text_word: str, entry_word: str
) -> None:
    assert _matches(lemmatizer, text_word, entry_word)


@pytest.mark.parametrize(
    ("text_word", "entry_word"),
    [("бака", "Баку"), ("кита", "Китай"), ("после", "посол"), ("стали", "сталь")],
)
def test_unrelated_words_do_not_collide(
    lemmatizer: Lemmatizer, text_word: str, entry_word: str
) -> None:
    assert not _matches(lemmatizer, text_word, entry_word)


def test_lemma_folds_yo(lemmatizer: Lemmatizer) -> None:
    assert lemmatizer.lemma("молодёжной") == "молодежный"


def test_cache_returns_the_same_object(lemmatizer: Lemmatizer) -> None:
    assert lemmatizer.forms("соглашения") is lemmatizer.forms("соглашения")
