"""The shipped analyses of the data files' words are exactly what pymorphy3 gives now, and a
tagger built with them tags as one built without them."""

from __future__ import annotations

from tagging import build_wordforms, wordforms
from tagging.morph import Lemmatizer
from tagging.tagger import Knowledge, Tagger

ARTICLES = (
    (
        "Губернатор Омской области посетил Ташкент",
        "Стороны подписали соглашение о поставках зерна. Итогом визита стали новые прямые "
        "рейсы из региона в Ташкент, Наманган и Ош. Председатель Парламентского собрания "
        "Союза Беларуси и России Вячеслав Володин направил приветствие.",
    ),
    (
        "Экспорт алтайской сои в Китай вырос вдвое",
        "Ресторан «Бухара» открылся на улице Казахстанской. Юлия Казакова рассказала о меню.",
    ),
)


def test_the_shipped_table_is_up_to_date() -> None:
    assert build_wordforms.main(["--check"]) == 0


def test_the_table_holds_what_a_fresh_lemmatizer_makes() -> None:
    lemmatizer = Lemmatizer()
    table = wordforms.load(lemmatizer)
    assert len(table) > 1000
    for word in ("узбекистан", "ташкент", "губернатор", "рейс", "экспорт"):
        assert table[word] == lemmatizer.forms(word)
    fresh = Lemmatizer()
    Knowledge(fresh, preload=False)
    assert {w: fresh.cached[w] for w in table} == table


def test_a_tagger_tags_the_same_with_and_without_the_table() -> None:
    with_table = Tagger()
    with_table._knowledge = Knowledge(Lemmatizer())
    without = Tagger()
    without._knowledge = Knowledge(Lemmatizer(), preload=False)
    for title, text in ARTICLES:
        a = with_table.tag(title, text, explain=True)
        b = without.tag(title, text, explain=True)
        assert a == b
    assert "UZ" in with_table.tag(*ARTICLES[0]).country_codes
