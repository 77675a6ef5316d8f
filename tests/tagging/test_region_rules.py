"""The home Russian region: a diplomat's seat, homonyms of a region's name, regions listed
under one head noun, the region's own bodies in the capital, national-level stories, and the
story-of-cooperation decision taken at the tagger's own threshold."""

from __future__ import annotations

from tagging import Tagger


def regions(tagger: Tagger, title: str | None, text: str) -> set[str]:
    return set(tagger.tag(title, text).region_codes)


def test_consul_seat_is_not_the_region(tagger: Tagger) -> None:
    text = (
        "Генеральный консул Узбекистана в Екатеринбурге посетил Курган, где встретился с "
        "ректором Курганского государственного университета. Стороны обсудили приём "
        "узбекских студентов. В Курганском университете уже учатся сорок студентов из "
        "Узбекистана."
    )
    assert regions(tagger, None, text) == {"RU-KGN"}


def test_bare_altai_is_not_altai_krai(tagger: Tagger) -> None:
    title = "Горно-Алтайск подружится с китайским городом Алтай"
    text = (
        "Делегация Республики Алтай побывала в Синьцзяне и договорилась о побратимстве "
        "Горно-Алтайска с городом Алтай. Стороны подписали протокол о сотрудничестве."
    )
    assert regions(tagger, title, text) == {"RU-AL"}


def test_regions_listed_under_one_head_are_all_parties(tagger: Tagger) -> None:
    text = (
        "Правительство Киргизии одобрило соглашения о сотрудничестве Иссык-Кульской области "
        "с Самарской, Тверской и Омской областями. Соглашение с Самарской областью подписано "
        "в мае, с Тверской областью — в июне. Соглашение с Омской областью подпишут осенью."
    )
    assert regions(tagger, None, text) == {"RU-SAM", "RU-TVE", "RU-OMS"}


def test_domestic_list_of_regions_stays_a_remark(tagger: Tagger) -> None:
    # Without a foreign party a list of regions in one clause does not make each a party.
    text = (
        "Губернатор Омской области рассказал о соглашениях с Томской, Тюменской и "
        "Новосибирской областями. Омская область готовит новые документы."
    )
    assert regions(tagger, None, text) == {"RU-OMS"}


def test_city_agency_of_moscow_is_the_moscow_party(tagger: Tagger) -> None:
    text = (
        "Министерство труда Киргизии заключило соглашение о сотрудничестве с учреждением "
        "города Москвы, которое помогает трудовым мигрантам найти работу. В Бишкеке "
        "откроется представительство этого центра."
    )
    assert regions(tagger, None, text) == {"RU-MOW"}


def test_federal_story_with_route_ends_is_national(tagger: Tagger) -> None:
    text = (
        "Минтранс России и авиационные власти Таджикистана договорились о новых рейсах. "
        "С лета появятся маршруты Казань — Душанбе и Самара — Худжанд. Ранее рейсы из "
        "Новосибирска в Душанбе выполнялись дважды в неделю."
    )
    assert regions(tagger, None, text) == set()


def test_federal_delegation_with_a_governor_keeps_his_region(tagger: Tagger) -> None:
    text = (
        "Делегация Совета Федерации прилетела в Улан-Батор обсудить транзит грузов. С ней в "
        "Монголию отправился глава Иркутской области: он обсудил с руководством аймака Сэлэнгэ "
        "поставки иркутского леса и договорился о совместной выставке."
    )
    assert regions(tagger, None, text) == {"RU-IRK"}


def test_cooperation_story_is_decided_at_the_taggers_threshold() -> None:
    # A city named once is the home region of a story of cooperation; whether the story is
    # one is decided at the tagger's threshold, not at a fixed 0.5.
    text = (
        "Посол Узбекистана посетил Омск. Стороны обсудили поставки зерна и договорились "
        "о сотрудничестве."
    )
    lenient = Tagger(threshold=0.5)
    strict = Tagger(threshold=0.9)
    assert lenient.tag(None, text).country_codes == ("UZ",)
    assert strict.tag(None, text).country_codes == ()
    assert lenient.analyse(None, text).region_scores["RU-OMS"] >= 0.5
    assert strict.analyse(None, text).region_scores["RU-OMS"] < 0.5
