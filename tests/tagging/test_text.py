from __future__ import annotations

from tagging.tagger import Knowledge
from tagging.text import NoiseRules, content_lines, fold, normalise, split_sentences

RULES = NoiseRules.compile(
    cut=["Читайте также", "Подписывайтесь", "Новости партн[её]ров"],
    drop=["Фото\\s*:"],
    background=["Ранее\\b"],
)


def test_greek_and_latin_homoglyphs_inside_cyrillic_words_are_replaced() -> None:
    text = "Делегация Αстраханской οбласти пοсетила Тypкменистан"
    assert normalise(text) == "Делегация Астраханской области посетила Туркменистан"


def test_latin_words_are_left_alone() -> None:
    assert normalise("компания Shouguang Honghao и TPAO") == "компания Shouguang Honghao и TPAO"


def test_fold_lowers_and_replaces_yo() -> None:
    assert fold("Мирзиёев") == "мирзиеев"


def test_sentences_split_on_terminal_punctuation_but_not_on_abbreviations() -> None:
    line = "Визит прошел в г. Ташкенте. Стороны подписали соглашение! Что дальше?"
    spans = split_sentences(line)
    assert [line[a:b].strip() for a, b in spans] == [
        "Визит прошел в г. Ташкенте.",
        "Стороны подписали соглашение!",
        "Что дальше?",
    ]


def test_read_also_block_and_everything_after_it_is_cut() -> None:
    text = (
        "Омские аграрии отправили первую партию зерна в Узбекистан по новому контракту.\n"
        "Читайте также:\n"
        "В Китае открыли новый мост\n"
    )
    assert content_lines(text, RULES) == [
        "Омские аграрии отправили первую партию зерна в Узбекистан по новому контракту."
    ]


def test_photo_credit_line_is_dropped_but_text_after_it_is_kept() -> None:
    text = "Губернатор встретился с послом Армении.\nФото: пресс-служба\nОбсудили туризм."
    assert content_lines(text, RULES) == [
        "Губернатор встретился с послом Армении.",
        "Обсудили туризм.",
    ]


def test_trailing_block_of_unpunctuated_headlines_is_dropped() -> None:
    text = (
        "Новосибирские вузы примут на обучение двести студентов из Монголии.\n"
        "В Иране прошли выборы\n"
        "Курс тенге снова упал\n"
        "Армения закупит самолеты\n"
    )
    assert content_lines(text, RULES) == [
        "Новосибирские вузы примут на обучение двести студентов из Монголии."
    ]


def test_trailing_bullets_are_dropped() -> None:
    text = "Стороны обсудили поставки зерна.\n• В Китае собрали урожай риса\n• Ещё одна новость"
    assert content_lines(text, RULES) == ["Стороны обсудили поставки зерна."]


def test_noise_rules_from_the_data_file_compile() -> None:
    knowledge = Knowledge()
    assert knowledge.noise.cut_markers.match("Читайте также: другие новости")
    assert knowledge.noise.cut_markers.match("Самые интересные новости в нашем канале")
    assert knowledge.noise.background_starts.match("Ранее сообщалось, что ...")
    assert not knowledge.noise.cut_markers.match("Делегация прибыла в Ташкент")
