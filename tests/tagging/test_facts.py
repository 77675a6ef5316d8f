"""Fact extraction on Russian sentences written for these tests."""

from __future__ import annotations

from datetime import date

import pytest

from tagging.facts import (
    Agreement,
    Figure,
    agreement_key,
    agreement_terms,
    canonical_unit,
    extract_agreements,
    extract_facts,
    extract_figures,
    figure_key,
)


def _figures(text: str, countries: tuple[str, ...] = ("UZ",)) -> list[tuple[str, float, str, bool]]:
    return [
        (f.indicator, f.value, f.unit, f.change) for f in extract_figures(None, text, countries)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Товарооборот Омской области с Узбекистаном вырос на 41,3 % за девять месяцев.",
            ("trade_turnover", 41.3, "%", True),
        ),
        (
            "Экспорт продукции в Узбекистан увеличился в полтора раза.",
            ("export", 1.5, "раза", True),
        ),
        ("Импорт узбекских фруктов вырос вдвое.", ("import", 2.0, "раза", True)),
        (
            "Узбекские компании вложили в экономику области свыше 1 млрд рублей.",
            ("investment", 1.0, "млрд рублей", False),
        ),
        (
            "Поставки зерна в Узбекистан составили 300–430 тыс. тонн.",
            ("export", 430.0, "тыс. тонн", False),
        ),
        (
            "Товарооборот с Узбекистаном в 2024 году составил $12,5 млн.",
            ("trade_turnover", 12.5, "млн долл.", False),
        ),
        (
            "Товарооборот с Узбекистаном достиг 1 250,5 млн рублей.",
            ("trade_turnover", 1250.5, "млн рублей", False),
        ),
        (
            "Экспорт в Узбекистан снизился на 12 процентов.",
            ("export", 12.0, "процентов", True),
        ),
    ],
)
def test_numeric_forms(text: str, expected: tuple[str, float, str, bool]) -> None:
    assert _figures(text) == [expected]


def test_direction_is_the_russian_sides() -> None:
    found = _figures("Узбекистан импортировал из России 200 тыс. тонн пшеницы.")
    assert found == [("export", 200.0, "тыс. тонн", False)]


def test_counts_of_people_and_other_countries_are_not_figures() -> None:
    assert _figures("На ярмарку приехали 300 предпринимателей из Узбекистана.") == []
    assert _figures("Экспорт в Германию вырос на 5 %, сообщили в министерстве.") == []
    assert extract_figures(None, "Экспорт вырос на 5 %.", ()) == ()


def test_figure_period_and_countries() -> None:
    (figure,) = extract_figures(
        None,
        "За первое полугодие 2025 года экспорт в Казахстан вырос на 7 %, а в Узбекистан — на 9 %.",
        ("KZ", "UZ"),
    )[:1]
    assert figure.period == "первое полугодие 2025 года"
    assert figure.countries == ("KZ",)


def test_signed_with_a_written_date() -> None:
    (agreement,) = extract_agreements(
        None,
        "12 марта 2025 года правительство Омской области и хокимият Бухарской области "
        "подписали соглашение о сотрудничестве в сфере образования.",
        ("UZ",),
    )
    assert agreement.status == "signed"
    assert agreement.date == "2025-03-12"
    assert agreement.subject == "соглашение о сотрудничестве в сфере образования"
    assert agreement.countries == ("UZ",)


def test_planned_and_undated() -> None:
    (agreement,) = extract_agreements(
        None,
        "Омская область и Узбекистан намерены подписать меморандум о поставках зерна.",
        ("UZ",),
    )
    assert (agreement.status, agreement.date) == ("planned", None)
    assert agreement.subject == "меморандум о поставках зерна"


def test_yesterday_gives_no_date_and_today_gives_the_dateline() -> None:
    published = date(2025, 4, 2)
    (yesterday,) = extract_agreements(
        None,
        "Вчера стороны подписали соглашение о сотрудничестве с Узбекистаном.",
        ("UZ",),
        published,
    )
    assert yesterday.date is None
    (today,) = extract_agreements(
        None,
        "Сегодня стороны подписали соглашение о сотрудничестве с Узбекистаном.",
        ("UZ",),
        published,
    )
    assert today.date == "2025-04-02"


def test_day_without_year_takes_the_publication_year() -> None:
    (agreement,) = extract_agreements(
        None,
        "29 ноября в Омске подписали дорожную карту сотрудничества с Узбекистаном.",
        ("UZ",),
        date(2025, 1, 10),
    )
    assert agreement.date == "2024-11-29"
    assert agreement.subject.startswith("дорожная карта сотрудничества")


def test_parties_between_in_the_nominative() -> None:
    (agreement,) = extract_agreements(
        None,
        "Подписано соглашение между Омской областью и Навоийской областью.",
        ("UZ",),
    )
    assert agreement.parties == ("Омская область", "Навоийская область")


def test_arrangements_and_counted_documents_are_not_agreements() -> None:
    text = (
        "Стороны достигли договорённости о сотрудничестве с Узбекистаном. "
        "За тридцать лет было подписано 200 соглашений."
    )
    assert extract_agreements(None, text, ("UZ",)) == ()


def test_no_partner_no_facts() -> None:
    facts = extract_facts(None, "Подписано соглашение. Экспорт вырос на 5 %.", ())
    assert facts.agreements == () and facts.figures == ()


def test_keys_merge_wordings_of_one_fact() -> None:
    published = date(2025, 5, 14)
    first = extract_agreements(
        None, "Омская область и Узбекистан подписали соглашение о сотрудничестве.", ("UZ",)
    )[0]
    second = extract_agreements(
        None, "Соглашения о сотрудничестве подписаны Омском и Узбекистаном.", ("UZ",)
    )[0]
    assert agreement_key(first, published) == agreement_key(second, date(2025, 5, 15))
    assert agreement_key(first, published) != agreement_key(first, date(2025, 6, 1))
    level = Figure("export", 12.0, "млн долларов", False, "2024 год", ("UZ",))
    same = Figure("export", 12.0, "млн долл.", False, "2024 году", ("UZ",))
    assert figure_key(level) == figure_key(same)
    assert canonical_unit("$ млн") == canonical_unit("млн долларов США") == "1e6 USD"


@pytest.mark.parametrize(
    ("text", "parties"),
    [
        (
            "Правительство Омской области и хокимият Ферганской области подписали меморандум "
            "о сотрудничестве.",
            ("Правительство Омской области", "хокимият Ферганской области"),
        ),
        (
            "Омский аграрный университет заключил договор с Ташкентским университетом "
            "ирригации о подготовке инженеров.",
            ("Омский аграрный университет", "Ташкентский университет ирригации"),
        ),
        (
            "Вчера, в Ташкенте, компания «Сибагро» подписала контракт с АО «Узагроэкспорт» "
            "на поставку семян.",
            ("компания «Сибагро»", "АО «Узагроэкспорт»"),
        ),
    ],
)
def test_parties_as_written(text: str, parties: tuple[str, ...]) -> None:
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == parties


def test_supplies_from_the_partner_are_import() -> None:
    assert _figures("Поставки фруктов из Узбекистана в Омскую область выросли на 15 %.") == [
        ("import", 15.0, "%", True)
    ]
    assert _figures("Импорт в Узбекистан омской муки составил 40 тыс. тонн.") == [
        ("export", 40.0, "тыс. тонн", False)
    ]


def test_a_share_in_a_later_clause_is_not_a_change() -> None:
    found = _figures(
        "Грузооборот с Узбекистаном вырос на 8 %, а доля узбекских грузов достигла 30 %."
    )
    assert found == [("other", 8.0, "%", True), ("other", 30.0, "%", False)]


def test_document_in_force_is_signed_and_prepared_for_signing_is_planned() -> None:
    (in_force,) = extract_agreements(
        None, "Соглашение о сотрудничестве с Узбекистаном действует с 2016 года.", ("UZ",)
    )
    assert in_force.status == "signed"
    (prepared,) = extract_agreements(
        None, "Стороны готовят к подписанию меморандум о туризме с Узбекистаном.", ("UZ",)
    )
    assert prepared.status == "planned"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "До конца года в Узбекистан планируется отгрузить сорок тысяч тонн зерна.",
            ("export", 40.0, "тысяч тонн", False),
        ),
        (
            "Товарооборот с Узбекистаном увеличился на двадцать пять процентов.",
            ("trade_turnover", 25.0, "процентов", True),
        ),
        (
            "Узбекские инвестиции в регион достигли полутора миллиардов рублей.",
            ("investment", 1.5, "миллиардов рублей", False),
        ),
    ],
)
def test_numbers_in_words(text: str, expected: tuple[str, float, str, bool]) -> None:
    assert _figures(text) == [expected]


def test_an_elided_currency_is_the_one_of_the_figure_before() -> None:
    text = "Поставки в Киргизию составили 75 млн долларов, закупки у киргизских партнёров — 12 млн."
    assert _figures(text, ("KG",)) == [
        ("export", 75.0, "млн долларов", False),
        ("import", 12.0, "млн долларов", False),
    ]


def test_a_scale_abbreviation_before_a_capital_ends_the_sentence() -> None:
    text = (
        "За полугодие экспорт в Монголию вырос до 58 млн. Доля продовольствия в отгрузках "
        "превысила 30 %."
    )
    assert _figures(text, ("MN",)) == [
        ("export", 58.0, "млн.", False),
        ("export", 30.0, "%", False),
    ]
    # «долл. США» goes on.
    assert _figures("Экспорт в Монголию достиг 9 млн долл. США по итогам года.", ("MN",)) == [
        ("export", 9.0, "млн долл. США", False)
    ]


def test_a_signed_rate_in_parentheses_after_a_level_is_its_change() -> None:
    text = "Товарооборот края с Арменией за год составил 64 млн долларов (+12,5 %)."
    assert _figures(text, ("AM",)) == [
        ("trade_turnover", 64.0, "млн долларов", False),
        ("trade_turnover", 12.5, "%", True),
    ]
    # A product breakdown in parentheses is still left out.
    breakdown = "Экспорт в Армению вырос до 40 млн долларов, в том числе мясо (3,1 тыс. т, +20 %)."
    assert _figures(breakdown, ("AM",)) == [("export", 40.0, "млн долларов", False)]


def test_the_dollar_of_the_united_states_is_no_country_of_the_figure() -> None:
    text = "Товарооборот с Таджикистаном составил 31 млн долларов США, снизившись на 3,4 процента."
    assert _figures(text, ("TJ",)) == [
        ("trade_turnover", 31.0, "млн долларов США", False),
        ("trade_turnover", 3.4, "процента", True),
    ]


def test_a_sentence_measuring_something_else_does_not_inherit_the_trade_keyword() -> None:
    text = (
        "Экспорт области в Казахстан за год вырос на 9 %. Средняя зарплата в отрасли за тот же "
        "период увеличилась на 14 %."
    )
    assert _figures(text, ("KZ",)) == [("export", 9.0, "%", True)]


def test_a_genitive_document_is_one_document_not_a_count() -> None:
    text = (
        "Делегации обсудили проект дорожной карты сотрудничества на 2026–2027 годы, которую "
        "планируется подписать летом."
    )
    (agreement,) = extract_agreements(None, text, ("MN",))
    assert agreement.status == "planned"
    assert agreement.subject.startswith("дорожн")
    # Counted, unnamed documents stay out.
    assert extract_agreements(None, "Стороны подписали договоры с тремя заводами.", ("MN",)) == ()


@pytest.mark.parametrize(
    ("text", "parties"),
    [
        (
            "Губернатор Курганской области Вадим Шумков и аким Костанайской области 14 мая "
            "подписали соглашение о сотрудничестве.",
            ("Курганская область", "Костанайская область"),
        ),
        (
            "Ранее Тюменская область и Наманганская область Узбекистана подписали соглашение "
            "о сотрудничестве.",
            ("Тюменская область", "Наманганская область"),
        ),
        (
            "Правительство Бурятии и аймак Дорнод 3 апреля подписали план мероприятий.",
            ("Правительство Бурятии", "аймак Дорнод"),
        ),
        (
            "Соглашение между Хабаровским краем и провинцией Хэйлунцзян действует с 2015 года.",
            ("Хабаровский край", "провинция Хэйлунцзян"),
        ),
        (
            "Министр экономики Узбекистана Ильхом Норкулов и министерство промышленности "
            "Омской области подписали меморандум о кооперации.",
            ("Министр экономики Узбекистана", "министерство промышленности Омской области"),
        ),
        (
            "Омский государственный технический университет заключил договор с Ферганским "
            "политехническим институтом о совместной магистратуре.",
            (
                "Омский государственный технический университет",
                "Ферганский политехнический институт",
            ),
        ),
        (
            "Стороны подписали меморандум о сотрудничестве с Узбекистаном.",
            ("Узбекистан",),
        ),
        (
            "Омская область и штат Гуджарат подписали меморандум о сотрудничестве.",
            ("Омская область", "штат Гуджарат"),
        ),
        (
            "Омская область и хоким Самаркандской области Республики Узбекистан Эркинжон "
            "Турдимов подписали дорожную карту сотрудничества.",
            ("Омская область", "Самаркандская область"),
        ),
        (
            "Соглашение о сотрудничестве между Омской областью и Согдийской областью "
            "Республики Таджикистан заключено в 2019 году.",
            ("Омская область", "Согдийская область"),
        ),
    ],
)
def test_parties_are_clean_noun_phrases(text: str, parties: tuple[str, ...]) -> None:
    countries = ("IN",) if "Гуджарат" in text else ("UZ",)
    if "Хэйлунцзян" in text:
        countries = ("CN",)
    elif "Дорнод" in text:
        countries = ("MN",)
    elif "Костанайской" in text:
        countries = ("KZ",)
    elif "Согдийской" in text:
        countries = ("TJ",)
    (agreement,) = extract_agreements(None, text, countries)
    assert agreement.parties == parties


# Rules of FACTS_VERSION 3.


@pytest.mark.parametrize(
    "text",
    [
        "Губернатор отметил рост товарооборота с Узбекистаном, а также поток узбекских "
        "туристов, составляющий около 70 % от их общего числа.",
        "Экспорт узбекских дынь идёт по цене 120 рублей за килограмм, на 15 % выше прошлогодней.",
        "Товарооборот с Узбекистаном растёт, население области при этом сократилось на 2 %.",
    ],
)
def test_people_and_prices_next_to_a_trade_keyword_are_not_figures(text: str) -> None:
    assert _figures(text) == []


def test_a_trade_keyword_before_people_still_measures_its_own_number() -> None:
    text = "Экспорт в Узбекистан вырос на 12 %, туристов из республики стало больше."
    assert _figures(text) == [("export", 12.0, "%", True)]


def test_a_partners_view_carries_over_to_an_elided_keyword() -> None:
    # The Uzbek side speaks: export to a Russian region, import from «the republic».
    text = (
        "За полгода экспорт узбекских товаров в Татарстан вырос на 21 %, а импорт из республики "
        "— на 9 %."
    )
    assert _figures(text) == [("import", 21.0, "%", True), ("export", 9.0, "%", True)]


def test_the_russian_view_does_not_carry_over() -> None:
    text = "Поставки из Узбекистана выросли на 14 %, а экспорт — на 6 %."
    assert _figures(text) == [("import", 14.0, "%", True), ("export", 6.0, "%", True)]


def test_a_headline_rounding_the_texts_figure_gives_way_to_it() -> None:
    title = "Около 50 млн долларов: торговля Пензы с Узбекистаном"
    text = "Товарооборот Пензенской области с Узбекистаном за год составил 46,2 млн долларов."
    figures = [(f.indicator, f.value, f.unit) for f in extract_figures(title, text, ("UZ",))]
    assert figures == [("trade_turnover", 46.2, "млн долларов")]


def test_a_headline_figure_of_its_own_stays() -> None:
    title = "Экспорт в Узбекистан вырос на 30 %"
    text = "Товарооборот Пензенской области с Узбекистаном за год составил 46,2 млн долларов."
    figures = [(f.indicator, f.value, f.unit) for f in extract_figures(title, text, ("UZ",))]
    assert figures == [("export", 30.0, "%"), ("trade_turnover", 46.2, "млн долларов")]


def test_agreeing_to_work_on_a_signing_is_planned() -> None:
    (agreement,) = extract_agreements(
        None,
        "Стороны договорились подготовить вопрос о подписании меморандума о сотрудничестве "
        "в сфере здравоохранения.",
        ("UZ",),
    )
    assert agreement.status == "planned"
    assert agreement.subject == "меморандум о сотрудничестве в сфере здравоохранения"


def test_parties_between_after_the_document_not_an_earlier_between() -> None:
    (agreement,) = extract_agreements(
        None,
        "Отношения между нашими странами крепнут, и пример тому — соглашение о торговле между "
        "Пензенской областью и Бухарской областью, подписанное весной.",
        ("UZ",),
    )
    assert agreement.parties == ("Пензенская область", "Бухарская область")


@pytest.mark.parametrize(
    ("text", "parties"),
    [
        (
            "Пензенская область и Бухарская область готовят соглашение о поставках зерна; "
            "подписать его планируется летом.",
            ("Пензенская область", "Бухарская область"),
        ),
        (
            "Как сообщило агентство, само соглашение о поставках зерна с Узбекистаном было "
            "подписано весной.",
            ("Узбекистан",),
        ),
        (
            "На переговорах стороны обсуждают соглашение о поставках зерна, которое подпишут "
            "летом.",
            (),
        ),
    ],
)
def test_parties_before_a_verb_governing_the_document(text: str, parties: tuple[str, ...]) -> None:
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == parties


def test_the_region_stands_for_the_region_named_before() -> None:
    text = (
        "Экспорт Пензенской области в Узбекистан вырос на 8 %. Ранее регион и Бухарская "
        "область подписали соглашение о торговом сотрудничестве."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("Пензенская область", "Бухарская область")


def test_a_document_being_carried_out_was_signed() -> None:
    (agreement,) = extract_agreements(
        None,
        "На встрече в Бухаре обсудили ход исполнения протокола о намерениях, согласованного "
        "делегациями Пензенской и Бухарской областей.",
        ("UZ",),
    )
    assert (agreement.status, agreement.subject) == ("signed", "протокол о намерениях")


def test_a_participial_phrase_ends_the_documents_name() -> None:
    (agreement,) = extract_agreements(
        None,
        "Стороны обсудили реализацию протокола намерений прошедшей в Бухаре встречи губернаторов.",
        ("UZ",),
    )
    assert agreement.subject == "протокол намерений"


def test_a_document_signed_with_a_federal_body_has_no_foreign_party() -> None:
    text = (
        "После поездки в Ташкент глава республики рассказал, что дом дружбы откроется в рамках "
        "соглашения, подписанного им и руководителем Федерального агентства по делам "
        "национальностей."
    )
    assert extract_agreements(None, text, ("UZ",)) == ()


def test_a_foreign_party_after_the_federal_body_keeps_the_document() -> None:
    text = (
        "Соглашение подписали руководитель Федерального агентства по туризму и министр туризма "
        "Узбекистана."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.status == "signed"


def test_a_region_named_at_the_end_of_a_sentence() -> None:
    text = (
        "Делегация из Узбекистана посетила Пензенскую область. Ранее регион и Бухарская "
        "область подписали соглашение о торговом сотрудничестве."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("Пензенская область", "Бухарская область")


def test_parties_after_the_signing_verb() -> None:
    text = (
        "Меморандум о сотрудничестве в энергетике подписали 12 мая на полях форума «Россия — "
        "Центральная Азия» губернатор Пензенской области и хоким Бухарской области."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("Пензенская область", "Бухарская область")


def test_a_foreign_party_alone_gets_the_region_named_before() -> None:
    text = (
        "Пензенская область начнёт поставлять в Узбекистан комбайны. Контракт подписан с "
        "узбекской компанией «Бухоро Агро»."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("Пензенская область", "узбекская компания «Бухоро Агро»")


def test_a_russian_party_alone_gets_no_region() -> None:
    text = (
        "Пензенская область начнёт поставлять в Узбекистан комбайны. Контракт подписан с "
        "пензенским заводом «Агромаш»."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("пензенский завод «Агромаш»",)


def test_russia_after_a_russian_province_is_no_part_of_its_name() -> None:
    text = (
        "Соглашение о сотрудничестве подписано между правительством Пензенской области "
        "Российской Федерации и хокимиятом Бухарской области Республики Узбекистан."
    )
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.parties == ("правительство Пензенской области", "хокимият Бухарской области")


@pytest.mark.parametrize(
    "text",
    [
        "Товарооборот вырос до 1234 567 млн рублей и $ 5 млн, а затем на 3–4 %.",
        "В 2024 году отгрузили 12 тыс. т, $$7 млн и 1 000 000 руб.; 15 % — в январе.",
        "Доля выросла с 80 % до 95 %, экспорт — в 2,5 раза, импорт — в 3 раз.",
        "Без цифр вовсе.",
        "12345678901234567890",
    ],
)
def test_figures_are_read_only_where_one_may_start(text: str) -> None:
    from tagging.facts import _FIGURE, _figures_in

    assert [m.span() for m in _figures_in(text)] == [m.span() for m in _FIGURE.finditer(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ЭКСПОРТ В УЗБЕКИСТАН ВЫРОС ВДВОЕ.", 2.0),
        ("Экспорт в Узбекистан вырос В ТРИ РАЗА.", 3.0),
        ("Экспорт в Узбекистан вырос Впятеро.", 5.0),
    ],
)
def test_multiples_in_words_in_any_case(text: str, value: float) -> None:
    assert [(f.value, f.unit) for f in extract_figures(None, text, ("UZ",))] == [(value, "раза")]


def _places(*parties: str) -> frozenset[str]:
    return agreement_terms(Agreement(parties, ("TJ",), "соглашение", "signed", None))[2]


def test_agreement_terms_name_the_partners_places_in_any_case() -> None:
    agreement = extract_agreements(
        None,
        "Омская областная больница и больница Хатлонской области подписали соглашение о "
        "сотрудничестве в сфере здравоохранения.",
        ("TJ",),
    )[0]
    document, subject, places = agreement_terms(agreement)
    assert document == "соглашение"
    assert subject == {"сотрудничество", "сфера", "здравоохранение"}
    # The dictionary knows «Хатлонская» but not «Хатлонской»: one place all the same.
    assert places == _places("Хатлонская область") == _places("хокимият Хатлонской области")
    assert places and places.isdisjoint(_places("председатель Согдийской области"))
    # The Russian side, the partner country itself, people and firms are no such places.
    assert _places("Омская область", "Республика Таджикистан", "компания «Кулоб-Агро»") == set()


def test_keys_tell_two_regions_agreements_of_one_week_apart() -> None:
    agreement = extract_agreements(
        None, "Омская область и Узбекистан подписали соглашение о сотрудничестве.", ("UZ",)
    )[0]
    published = date(2025, 5, 14)
    assert agreement_key(agreement, published, ["RU-OMS"]) != agreement_key(
        agreement, published, ["RU-TYU"]
    )
    assert agreement_key(agreement, published, ["RU-OMS"]) == agreement_key(
        agreement, date(2025, 5, 15), ["RU-OMS"]
    )


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (
            "Омская область и Узбекистан подписали дорожную карту сотрудничества.",
            "дорожная карта сотрудничества",
        ),
        (
            "Губернатор и хоким подписали в Ташкенте текст Меморандума о взаимопонимании.",
            "меморандум о взаимопонимании",
        ),
        # A plural stays plural; «соглашения» may be either, and is left as written.
        (
            "В Омске прошло подписание соглашений о поставках зерна в Узбекистан.",
            "соглашения о поставках зерна",
        ),
        (
            "Соглашения о сотрудничестве с Узбекистаном подписаны в Омске.",
            "соглашения о сотрудничестве",
        ),
        (
            'С Узбекистаном утверждена стратегическая "дорожная карта" на три года.',
            'стратегическая "дорожная карта"',
        ),
    ],
)
def test_the_register_names_documents_in_the_nominative(text: str, subject: str) -> None:
    (agreement,) = extract_agreements(None, text, ("UZ",))
    assert agreement.subject == subject


@pytest.mark.parametrize(
    ("text", "partner", "parties"),
    [
        # One province per party, each named in full, however the sentence shares the noun.
        (
            "Соглашения о сотрудничестве с Узбекистаном подписаны между Омской и Ферганской "
            "областями.",
            "UZ",
            ("Омская область", "Ферганская область"),
        ),
        # The dictionary guesses «Хатлонской» for a surname; the noun tells it is a province.
        (
            "Пензенская область подписала соглашение о сотрудничестве с Хатлонской областью.",
            "TJ",
            ("Пензенская область", "Хатлонская область"),
        ),
        # A circumstance before the party is not part of it; an official stands for the region.
        (
            "На этом форуме председатель Согдийской области и губернатор Омской области "
            "подписали соглашение о сотрудничестве.",
            "TJ",
            ("Согдийская область", "Омская область"),
        ),
    ],
)
def test_parties_are_names_in_the_nominative(
    text: str, partner: str, parties: tuple[str, ...]
) -> None:
    (agreement,) = extract_agreements(None, text, (partner,))
    assert agreement.parties == parties


def test_a_city_is_not_taken_for_a_provinces_adjective() -> None:
    # «с Ульяновском», «между Москвой и …»: a city in the instrumental ends like «Омской».
    (ulyanovsk,) = extract_agreements(
        None, "Ширакская область подписала соглашение о сотрудничестве с Ульяновском.", ("AM",)
    )
    (moscow,) = extract_agreements(
        None,
        "Соглашения о сотрудничестве с Арменией подписаны между Москвой и Ширакской областью.",
        ("AM",),
    )
    assert ulyanovsk.parties[0] == "Ширакская область"
    assert "Ульяновская область" not in ulyanovsk.parties
    assert moscow.parties == ("Москва", "Ширакская область")


def test_a_party_cut_from_a_clause_is_no_party() -> None:
    (agreement,) = extract_agreements(
        None,
        "Для этого с Узбекистаном подписали дорожную карту сотрудничества.",
        ("UZ",),
    )
    assert "Для этого" not in agreement.parties
    assert all(not party.lower().startswith(("для ", "что ")) for party in agreement.parties)


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (
            "Омские предприятия заключили с белорусскими партнёрами коммерческие контракты в "
            "рамках деловой программы форума.",
            "коммерческие контракты",
        ),
        (
            "Омская область и Казахстан подписали соглашение в области образования.",
            "соглашение в области образования",
        ),
    ],
)
def test_a_circumstance_after_the_document_is_no_part_of_its_name(text: str, subject: str) -> None:
    (agreement,) = extract_agreements(None, text, ("BY", "KZ"))
    assert agreement.subject == subject


def test_a_province_the_dictionary_does_not_know_names_its_country() -> None:
    # Of two partners, the one whose province is named: «Хатлонской» is read as a noun.
    (agreement,) = extract_agreements(
        None,
        "Пензенская область подписала соглашение о сотрудничестве с Хатлонской областью.",
        ("UZ", "TJ"),
    )
    assert agreement.countries == ("TJ",)
