"""New regular routes: a flights sentence whose Russian end is the region (named in the
sentence, or by the sentence or title before it) makes every country at the other end a
partner, an enumeration of destinations included; timetables and passenger figures do not."""

from __future__ import annotations

from tagging import Tagger

CENTRAL_ASIA_AND_ARMENIA = {"AM", "TJ", "UZ", "KZ", "KG"}


def countries(tagger: Tagger, title: str, text: str) -> set[str]:
    return set(tagger.tag(title, text).country_codes)


def test_flights_from_the_region_after_the_governor_visits(tagger: Tagger) -> None:
    text = (
        "Глава Кемеровской области за месяц побывал в Армении, Таджикистане, Узбекистане и "
        "Казахстане. Результатом поездок стали новые прямые рейсы из региона в Ереван, "
        "Душанбе, Ташкент, Наманган, Ош и Астану. Продажа билетов начнётся весной."
    )
    assert countries(tagger, "Кузбасс подвёл итоги зарубежных поездок", text) == (
        CENTRAL_ASIA_AND_ARMENIA
    )


def test_the_governor_of_the_title_is_the_russian_end_of_the_route(tagger: Tagger) -> None:
    # Kyrgyzstan is named only through «Ош»; the region only as «регион».
    text = (
        "По словам губернатора, переговоры прошли успешно. Итогом стали новые прямые рейсы "
        "из региона в Ереван, Душанбе, Ташкент, Наманган, Ош и Астану."
    )
    result = countries(tagger, "Губернатор Томской области рассказал о новых авиарейсах", text)
    assert result == CENTRAL_ASIA_AND_ARMENIA


def test_a_route_without_a_governor_from_the_region_named_before(tagger: Tagger) -> None:
    text = (
        "Новосибирская область расширяет международное авиасообщение. Летом откроются прямые "
        "рейсы в Ереван, Душанбе, Ташкент, Ош и Астану."
    )
    assert countries(tagger, "Новые направления полётов", text) == CENTRAL_ASIA_AND_ARMENIA


def test_a_city_named_as_the_origin_is_the_russian_end(tagger: Tagger) -> None:
    text = (
        "Авиакомпания запустит прямые рейсы из Омска в Ереван, Душанбе, Ташкент, Ош и "
        "Астану. Полёты будут выполняться дважды в неделю."
    )
    assert countries(tagger, "Омичи смогут летать без пересадок", text) == (
        CENTRAL_ASIA_AND_ARMENIA
    )


def test_an_explanation_shows_the_route_ends_at_full_weight(tagger: Tagger) -> None:
    text = (
        "Губернатор провёл переговоры с авиакомпаниями. Итогом стали новые рейсы из региона "
        "в Ереван, Душанбе, Ташкент, Ош и Астану."
    )
    explanation = tagger.tag("Губернатор Омской области", text, explain=True).explanation
    assert explanation is not None
    kyrgyzstan = next(d for d in explanation.countries if d.value == "KG")
    assert [e.words for e in kyrgyzstan.evidence] == [("Ош",)]
    assert all("enumeration" not in e.note for e in kyrgyzstan.evidence)


def test_a_timetable_of_departures_is_no_partner(tagger: Tagger) -> None:
    text = (
        "Омская область подвела итоги недели. Из аэропорта в выходные вылетели рейсы в "
        "Ереван, Душанбе, Ташкент, Ош и Астану, а также в Сочи и Москву."
    )
    assert countries(tagger, "Расписание аэропорта на выходные", text) == set()


def test_a_passenger_count_on_existing_flights_is_no_partner(tagger: Tagger) -> None:
    text = (
        "Из аэропорта Омска за неделю в Ереван, Душанбе, Ташкент, Ош и Астану вылетели "
        "4 тысячи пассажиров. Пассажиропоток вырос на 5 процентов."
    )
    assert countries(tagger, "Пассажиропоток омского аэропорта", text) == set()


def test_a_route_with_no_russian_party_anywhere_is_no_partner(tagger: Tagger) -> None:
    text = (
        "Узбекская авиакомпания откроет прямые рейсы из Ташкента в Ереван, Душанбе, Ош и "
        "Астану. Об этом сообщила пресс-служба перевозчика."
    )
    assert countries(tagger, "Узбекистан расширяет авиасообщение с соседями", text) == set()
