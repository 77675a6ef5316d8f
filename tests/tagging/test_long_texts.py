"""Long and hostile texts: work stays linear in the length, and only the first
MAX_ARTICLE_CHARACTERS of an article are read.

Work is counted, not timed: a text that counts the characters read out of it by indexing
and slicing shows whether a step copies the whole sentence for every match."""

from __future__ import annotations

from typing import SupportsIndex

from tagging import MAX_ARTICLE_CHARACTERS, Tagger, within_article_limit
from tagging.tagger import Sentence
from tagging.text import cut_at_word_boundary, split_sentences

COOPERATION = (
    "Делегация Тюменской области посетила Узбекистан. В Ташкенте стороны подписали "
    "соглашение о поставках зерна, а хоким Бухарской области пригласил тюменских "
    "аграриев на выставку.\n"
)
KAZAKH_ENDING = (
    "Губернатор Омской области подписал соглашение о сотрудничестве с акимом "
    "Павлодарской области Казахстана.\n"
)


class CountingText(str):
    """A str that counts the characters read out of it by indexing and slicing."""

    characters_read = 0

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        piece = super().__getitem__(key)
        self.characters_read += len(piece)
        return piece


def one_sentence(clause: str, repeats: int) -> CountingText:
    """A single sentence of `repeats` clauses: no full stop anywhere to split it."""
    return CountingText(clause * repeats)


def characters_read_by_sentence_splitting(repeats: int) -> tuple[int, int]:
    line = one_sentence("визит в г. Ташкент и г. Бухара, встреча в обл. центре, ", repeats)
    assert len(split_sentences(line)) == 1
    return line.characters_read, len(line)


def characters_read_by_reading_a_sentence(tagger: Tagger, repeats: int) -> tuple[int, int]:
    text = one_sentence("делегация из Ташкента, Бухары и Самарканда прибыла в Тюмень, ", repeats)
    sentence = Sentence(1, text, in_title=False, body_position=0)
    tagger._read_sentence(tagger.knowledge, sentence)
    # Every clause names three Uzbek places: the reading did find them all.
    assert len(sentence.countries["UZ"]) == 3 * repeats
    return text.characters_read, len(text)


def test_splitting_a_line_of_abbreviations_reads_each_character_at_most_once() -> None:
    for repeats in (500, 1000):
        read, length = characters_read_by_sentence_splitting(repeats)
        assert read <= length


def test_reading_a_long_sentence_looks_only_next_to_each_place_name(tagger: Tagger) -> None:
    read_once, length_once = characters_read_by_reading_a_sentence(tagger, 500)
    read_twice, length_twice = characters_read_by_reading_a_sentence(tagger, 1000)

    assert read_once < length_once
    assert read_twice < length_twice
    assert read_twice <= 2 * read_once


def test_a_short_text_is_kept_whole() -> None:
    assert within_article_limit("Заголовок", COOPERATION) == ("Заголовок", COOPERATION)


def test_title_and_text_are_cut_together_at_a_word_boundary() -> None:
    title = "Тюменские аграрии договорились о поставках зерна в Узбекистан"
    text = COOPERATION * (5_000_000 // len(COOPERATION))

    kept_title, kept_text = within_article_limit(title, text)

    assert kept_title == title
    assert len(kept_title) + len(kept_text) <= MAX_ARTICLE_CHARACTERS
    assert len(kept_title) + len(kept_text) > MAX_ARTICLE_CHARACTERS - 50
    assert text.startswith(kept_text)
    assert not kept_text[-1].isspace()
    assert text[len(kept_text)].isspace()
    assert within_article_limit(kept_title, kept_text) == (kept_title, kept_text)


def test_a_word_is_never_cut_unless_it_is_longer_than_the_limit() -> None:
    assert cut_at_word_boundary("Бухарская область", 12) == "Бухарская"
    assert cut_at_word_boundary("Бухарская область", 9) == "Бухарская"
    assert cut_at_word_boundary("Бухарская область", 8) == "Бухарска"
    assert cut_at_word_boundary("Бухарская область", 0) == ""


def test_a_five_million_character_item_is_tagged_by_its_beginning(tagger: Tagger) -> None:
    title = "Тюменские аграрии договорились о поставках зерна в Узбекистан"
    text = COOPERATION * (5_000_000 // len(COOPERATION)) + KAZAKH_ENDING
    assert set(tagger.tag(None, COOPERATION + KAZAKH_ENDING).country_codes) == {"UZ", "KZ"}

    analysis = tagger.analyse(title, text)
    result = tagger.tag(title, text)

    read = [sentence.text for sentence in analysis.sentences]
    assert sum(map(len, read)) <= MAX_ARTICLE_CHARACTERS
    assert not any("Казахстан" in sentence for sentence in read)
    assert result.country_codes == ("UZ",)
