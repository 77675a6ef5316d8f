"""Classes of tagging errors seen on unseen news, each pinned by short articles of our own:
several partners in one clause, institution and person names, lexicon entries firing with
no mention of the country, passing mentions, non-cooperation frames, and cooperation
without a cooperation verb."""

from __future__ import annotations

from tagging import Tagger
from tagging.explain import Decision
from tagging.morph import shared_lemmatizer


def tags(tagger: Tagger, title: str, text: str) -> set[str]:
    return set(tagger.tag(title, text).country_codes)


def rejected(tagger: Tagger, title: str, text: str) -> dict[str, Decision]:
    explanation = tagger.tag(title, text, explain=True).explanation
    assert explanation is not None
    return {d.value: d for d in explanation.rejected_countries}


# -- several partner countries in one cooperation clause ------------------------------------


def test_governor_visits_to_four_countries_open_flights_to_all(tagger: Tagger) -> None:
    text = (
        "По итогам визитов губернатора Новосибирской области в Армению, Таджикистан, "
        "Узбекистан и Казахстан из Новосибирска откроются прямые рейсы в Ереван, Душанбе, "
        "Ташкент, Наманган, Ош и Астану. Первые самолёты полетят уже в марте. Губернатор "
        "отметил, что новые маршруты помогут туризму и бизнесу."
    )
    assert tags(tagger, "Из Новосибирска откроют новые рейсы", text) == {
        "AM",
        "TJ",
        "UZ",
        "KZ",
        "KG",
    }


def test_governor_meeting_the_consuls_of_five_states_counts_for_each(tagger: Tagger) -> None:
    text = (
        "Губернатор Свердловской области провёл встречу с генеральными консулами "
        "Узбекистана, Казахстана, Киргизии, Таджикистана и Азербайджана. Стороны "
        "договорились расширять сотрудничество в промышленности и образовании."
    )
    assert tags(tagger, "Губернатор встретился с консулами", text) == {
        "UZ",
        "KZ",
        "KG",
        "TJ",
        "AZ",
    }


def test_exhibition_participants_stay_a_list(tagger: Tagger) -> None:
    text = (
        "В Омске открылась выставка «Агро-2026». В ней участвуют компании из Китая, "
        "Казахстана, Белоруссии, Узбекистана и Турции. Посетителям покажут новую технику."
    )
    assert tags(tagger, "В Омске открылась выставка", text) == set()


def test_a_summit_of_russia_and_a_named_group_makes_every_member_a_partner(
    tagger: Tagger,
) -> None:
    text = (
        "В Душанбе прошёл саммит России и стран Центральной Азии. Лидеры обсудили "
        "сотрудничество в энергетике и транспорте и договорились о новых совместных проектах."
    )
    assert tags(tagger, "Саммит в Душанбе", text) == {"UZ", "TJ", "KZ", "KG", "TM"}


# -- institution names and person names never yield a country --------------------------------


def test_union_state_parliament_official_in_a_story_about_india(tagger: Tagger) -> None:
    title = "Делегация из Индии посетила Смоленск"
    text = (
        "Смоленскую область посетила делегация штата Махараштра из Индии. Гостей принял "
        "председатель Парламентского собрания Союза Беларуси и России. Стороны обсудили "
        "поставки лекарств в Индию и обмен студентами."
    )
    assert tags(tagger, title, text) == {"IN"}
    assert rejected(tagger, title, text)["BY"].reasons == ("institution name",)


def test_organisations_of_states_name_none_of_their_members(tagger: Tagger) -> None:
    title = "Омская делегация на форуме ЕАЭС"
    text = (
        "Делегация Омской области приняла участие в форуме ЕАЭС и заседании СНГ. "
        "Обсуждались общие правила торговли и работа Евразийской экономической комиссии."
    )
    result = tagger.tag(title, text, explain=True)
    assert result.country_codes == ()


def test_a_deputy_governor_named_like_a_belarusian_town_is_a_person(tagger: Tagger) -> None:
    title = "Челябинская область подписала соглашение с Восточно-Казахстанской областью"
    text = (
        "Заместитель губернатора Александр Борисов и аким Восточно-Казахстанской области "
        "подписали соглашение о сотрудничестве. Стороны договорились развивать торговлю."
    )
    assert tags(tagger, title, text) == {"KZ"}
    assert rejected(tagger, title, text)["BY"].reasons == ("person name",)


def test_a_first_name_does_not_match_a_town_named_after_it(tagger: Tagger) -> None:
    text = (
        "Губернатор Борис Дубровский встретился с генеральным консулом Китая. Стороны "
        "обсудили создание совместных предприятий в Челябинской области."
    )
    assert tags(tagger, "Губернатор встретился с консулом Китая", text) == {"CN"}


def test_a_first_name_that_reads_like_a_town_is_no_country(tagger: Tagger) -> None:
    title = "Новый министр культуры"
    text = (
        "Министром культуры Омской области назначена Лида Петрова. Она встретилась с "
        "делегацией из Казахстана и обсудила гастроли театров."
    )
    assert tags(tagger, title, text) == {"KZ"}
    assert rejected(tagger, title, text)["BY"].reasons == ("person name",)


# -- passing mentions and side remarks -------------------------------------------------------


def test_a_tiny_share_in_a_trade_breakdown_is_a_passing_mention(tagger: Tagger) -> None:
    text = (
        "Омская область с начала года экспортировала 900 тысяч тонн зерна, из них 850 тысяч "
        "тонн отправлено в Китай. Основным покупателем остаётся китайская компания. "
        "Китайские партнёры готовы увеличить закупки в следующем году. Небольшие партии "
        "ушли в Беларусь — 0,02 тысячи тонн."
    )
    assert tags(tagger, "Экспорт зерна в Китай вырос", text) == {"CN"}


def test_a_third_country_stopping_its_supplies_is_a_side_remark(tagger: Tagger) -> None:
    text = (
        "«Газпром» и правительство Киргизии подписали дорожную карту по газификации "
        "республики. Российская компания вложит в газовые сети Киргизии 20 млрд рублей. "
        "Ранее Узбекистан прекратил поставки газа на юг республики."
    )
    assert tags(tagger, "«Газпром» вложит в газификацию Киргизии", text) == {"KG"}


# -- non-cooperation frames ------------------------------------------------------------------


def test_a_migrant_brawl_is_crime_even_with_a_consulate_comment(tagger: Tagger) -> None:
    title = "Драка выходцев из Узбекистана в Подмосковье"
    text = (
        "В Балашихе произошла массовая драка между двумя группами граждан Узбекистана. "
        "Полиция задержала двенадцать человек. В консульстве Узбекистана сообщили, что "
        "держат ситуацию на контроле и окажут землякам правовую помощь."
    )
    assert tags(tagger, title, text) == set()
    assert any("crime" in reason for reason in rejected(tagger, title, text)["UZ"].reasons)


def test_a_car_market_review_is_not_trade_with_china(tagger: Tagger) -> None:
    text = (
        "Авторынок Омской области в ноябре вырос на 12%. Поставки автомобилей из Китая "
        "продолжают расти: китайские марки заняли больше половины продаж новых автомобилей. "
        "Дилеры предупреждают о росте цен."
    )
    assert tags(tagger, "Китайские машины заняли половину рынка", text) == set()


def test_a_queue_of_trucks_at_the_border_is_not_cooperation(tagger: Tagger) -> None:
    text = (
        "На пункте пропуска на границе с Грузией в очереди стоят около 800 фур. Грузовики "
        "простаивают по трое суток. Перевозчики везут в Грузию и Армению овощи."
    )
    assert tags(tagger, "Очередь на границе с Грузией растёт", text) == set()


def test_a_wreath_laying_with_a_delegation_is_a_ceremony(tagger: Tagger) -> None:
    title = "В Оренбурге почтили память воинов"
    text = (
        "В Оренбурге прошло возложение венков к Вечному огню. В церемонии приняли участие "
        "губернатор Оренбургской области и делегация Таджикистана во главе с консулом. "
        "Собравшиеся почтили память погибших минутой молчания."
    )
    assert tags(tagger, title, text) == set()


def test_a_diaspora_anniversary_without_an_official_of_the_state(tagger: Tagger) -> None:
    text = (
        "В Рязани отметили 15 лет узбекской национально-культурной автономии. Диаспора "
        "укрепляет дружбу между Россией и Узбекистаном, проводит праздники и курсы языка. "
        "Гостей угощали пловом."
    )
    assert tags(tagger, "Узбекской диаспоре Рязани 15 лет", text) == set()


# -- cooperation without a cooperation verb --------------------------------------------------


def test_record_soy_exports_to_china(tagger: Tagger) -> None:
    text = (
        "Амурская область отправила в Китай рекордные 600 тысяч тонн сои за год. "
        "Это на треть больше прошлогоднего объёма."
    )
    assert tags(tagger, "Рекордный экспорт сои", text) == {"CN"}


def test_each_destination_with_its_own_figure_is_a_trade_partner(tagger: Tagger) -> None:
    text = (
        "Камчатский край за полгода нарастил экспорт минтая. Поставки в Японию выросли на "
        "18%, в Южную Корею — на 12%. Растёт экспорт во Вьетнам и Малайзию, сообщил губернатор "
        "Камчатского края."
    )
    assert tags(tagger, "Минтай с Камчатки едет в Азию", text) == {"JP", "KR", "VN", "MY"}


def test_a_region_company_building_an_engine_plant_in_china(tagger: Tagger) -> None:
    text = (
        "Ярославский моторный завод договорился с китайской компанией о строительстве "
        "завода по выпуску двигателей в провинции Шаньдун. Предприятие будет выпускать до "
        "20 тысяч моторов в год."
    )
    assert tags(tagger, "Ярославские моторы будут собирать в Китае", text) == {"CN"}


# -- regions ---------------------------------------------------------------------------------


def test_regions_are_named_as_in_labels(tagger: Tagger) -> None:
    result = tagger.tag(
        "Кузбасс и Монголия договорились о поставках угля",
        "Губернатор Кемеровской области подписал соглашение с аймаком Сэлэнгэ о поставках угля.",
    )
    assert result.region_names == ("Кемеровская область",)


def test_the_one_place_of_domestic_news_is_its_region(tagger: Tagger) -> None:
    result = tagger.tag("Снегопад в Омске", "В Омске ожидается снегопад и сильный ветер.")
    assert result.region_names == ("Омская область",)


def test_the_capital_as_a_venue_of_national_news_is_no_region(tagger: Tagger) -> None:
    result = tagger.tag(
        "Молодёжный форум России и Таджикистана",
        "В Москве открылся молодёжный форум России и Таджикистана. Делегации обсудили "
        "обмен студентами и совместные проекты.",
    )
    assert result.country_codes == ("TJ",)
    assert result.region_names == ()


# -- the explanation comes from the scoring --------------------------------------------------


def test_explanation_gives_sentence_words_and_score_of_each_country(tagger: Tagger) -> None:
    result = tagger.tag(
        "Делегация Омской области посетила Ташкент",
        "Губернатор провёл переговоры в Ташкенте и подписал соглашение о сотрудничестве.",
        explain=True,
    )
    explanation = result.explanation
    assert explanation is not None
    (uz,) = explanation.countries
    assert uz.value == "UZ" and uz.score == result.countries[0].score
    assert any("Ташкенте" in e.words for e in uz.evidence)
    assert any(e.sentence.startswith("Губернатор провёл") for e in uz.evidence)
    assert {d.value for d in explanation.topics} == set(result.topic_ids)
    assert [d.value for d in explanation.regions] == ["Омская область"]


def test_plain_tagging_carries_no_explanation(tagger: Tagger) -> None:
    assert tagger.tag("Заголовок", "Текст без стран.").explanation is None


def test_a_russian_city_in_a_cooperation_story_is_its_region(tagger: Tagger) -> None:
    result = tagger.tag(
        "Молодёжь Омска в Павлодаре",
        "Молодёжная делегация Омска побывала в Павлодаре. Студенты двух городов договорились "
        "о совместных проектах и летней школе.",
    )
    assert result.country_codes == ("KZ",)
    assert result.region_names == ("Омская область",)


def test_a_route_end_in_foreign_news_is_no_region(tagger: Tagger) -> None:
    result = tagger.tag(
        "Трасса закрыта",
        "На трассе Самара — Шымкент в Казахстане из-за метели закрыли движение для грузовиков.",
    )
    assert result.region_names == ()


def test_a_short_place_name_does_not_match_words_that_only_start_like_it(
    tagger: Tagger,
) -> None:
    # «Винь» (a Vietnamese city) must not match «Виньи» or «Винни» by a three-letter stem.
    title = "Посол Индии посетил Иркутск"
    text = (
        "Посол Индии и советник посольства Винни Сингх встретились с губернатором Иркутской "
        "области. Стороны обсудили сотрудничество в фармацевтике. Гостям показали Виньи."
    )
    assert tags(tagger, title, text) == {"IN"}


def test_a_governor_unnamed_region_meeting_consuls_of_several_states(tagger: Tagger) -> None:
    text = (
        "Губернатор встретился с консулами Узбекистана, Казахстана, Киргизии, Таджикистана и "
        "Азербайджана. Договорились о сотрудничестве в образовании."
    )
    assert tags(tagger, "Консулы у губернатора", text) == {"UZ", "KZ", "KG", "TJ", "AZ"}


def test_a_governor_visiting_four_states_without_naming_the_region(tagger: Tagger) -> None:
    text = (
        "Губернатор побывал с визитами в Армении, Таджикистане, Узбекистане и Казахстане. "
        "Итог поездок — прямые рейсы из региона в Ереван, Душанбе, Ташкент и Астану."
    )
    assert tags(tagger, "Новые авиарейсы", text) == {"AM", "TJ", "UZ", "KZ"}


def test_the_governor_of_a_foreign_province_is_no_russian_party(tagger: Tagger) -> None:
    text = (
        "Губернатор провинции Шаньдун посетил Казахстан и подписал соглашение о "
        "сотрудничестве с акиматом Алматы."
    )
    assert tags(tagger, "Губернатор Шаньдуна в Казахстане", text) == set()


def test_a_new_tagger_reads_its_data_the_same_after_texts_filled_the_word_cache() -> None:
    title = "Посол Индии посетил Иркутск"
    text = (
        "Посол Индии и советник посольства Винни Сингх встретились с губернатором Иркутской "
        "области. Стороны обсудили сотрудничество в фармацевтике. Гостям показали Виньи."
    )
    first = Tagger(0.5).tag(title, text).country_codes
    # Texts read in between put unknown words in the process's shared word cache.
    shared_lemmatizer().forms("Винь")
    shared_lemmatizer().forms("Виньи")
    assert Tagger(0.5).tag(title, text).country_codes == first == ("IN",)
