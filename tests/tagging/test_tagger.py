"""Behaviour of the tagger on hard cases, on short articles written for these tests."""

from __future__ import annotations

import pytest

from tagging import Tag, Tagger, TagResult


def countries_of(tagger: Tagger, title: str | None, text: str) -> set[str]:
    return set(tagger.tag(title, text).country_codes)


# -- countries through word forms, cities, provinces, adjectives and leaders ----------------


def test_country_found_through_inflected_forms_province_and_leader(tagger: Tagger) -> None:
    result = tagger.tag(
        "Омские аграрии договорились о поставках зерна",
        "Делегация Омской области провела переговоры с хокимом Бухарской области. "
        "Стороны подписали меморандум о поставках омской пшеницы узбекским мукомольным "
        "предприятиям. Губернатор рассказал, что встреча с Мирзиёевым запланирована на осень.",
    )
    assert result.country_codes == ("UZ",)


def test_rare_province_adjective_is_recognised_through_the_stemmer(tagger: Tagger) -> None:
    text = (
        "Правительство Новосибирской области и исполнительный орган власти Хатлонской "
        "области подписали соглашение о сотрудничестве в сфере образования."
    )
    assert countries_of(tagger, None, text) == {"TJ"}


def test_capital_only_resolves_to_its_country(tagger: Tagger) -> None:
    text = (
        "Губернатор Астраханской области провел в Ашхабаде переговоры о регулярной паромной "
        "линии. Стороны договорились подписать соглашение до конца года."
    )
    assert countries_of(tagger, None, text) == {"TM"}


def test_adjective_only_mentions_are_enough(tagger: Tagger) -> None:
    text = (
        "Китайская компания вложит два миллиарда рублей в тепличный комплекс в Амурской "
        "области. Инвестиционное соглашение подписали на полях форума, китайские инвесторы "
        "также осмотрели площадку будущего завода."
    )
    assert countries_of(tagger, None, text) == {"CN"}


def test_kyrgyzstan_under_both_names(tagger: Tagger) -> None:
    old_name = "Губернатор Тюменской области встретился с послом Киргизии и обсудил поставки."
    new_name = "Губернатор Тюменской области встретился с послом Кыргызстана и обсудил поставки."
    assert countries_of(tagger, None, old_name) == {"KG"}
    assert countries_of(tagger, None, new_name) == {"KG"}


# -- false friends ----------------------------------------------------------------------------


def test_street_and_restaurant_names_are_not_countries(tagger: Tagger) -> None:
    result = tagger.tag(
        "На улице Минской в Омске отремонтируют тротуары",
        "Подрядчик приступил к ремонту тротуаров на ул. Минская и в сквере у ресторана "
        "«Бухара». Работы завершат до конца месяца, сообщили в мэрии Омска.",
    )
    assert result.countries == ()


def test_a_country_name_in_quotes_is_the_name_of_a_firm(tagger: Tagger) -> None:
    title = "Соглашение о поставках зерна"
    firm = tagger.tag(
        title,
        "Омский агрохолдинг «Казахстан» подписал соглашение о сотрудничестве с областным "
        "правительством и договорился о поставках зерна.",
    )
    partner = tagger.tag(
        title,
        "Омский агрохолдинг подписал с Казахстаном соглашение о сотрудничестве и договорился "
        "о поставках зерна.",
    )
    assert (firm.country_codes, partner.country_codes) == ((), ("KZ",))


def test_uz_as_health_institution_is_not_uzbekistan(tagger: Tagger) -> None:
    text = (
        "В УЗ «Городская клиническая больница №3» открылось отделение кардиологии. "
        "Соглашение о поставке оборудования подписали с российским производителем."
    )
    assert countries_of(tagger, None, text) == set()


def test_stemmer_collisions_do_not_make_countries(tagger: Tagger) -> None:
    text = (
        "В Омске установят новые мусорные баки, а в зоопарке показали скелет кита. "
        "Соглашение с подрядчиком подписали в мэрии."
    )
    assert tagger.analyse(None, text).countries == {}


def test_north_korea_is_not_china(tagger: Tagger) -> None:
    text = (
        "В Новосибирской области работают 1,8 тысячи граждан КНДР. Соглашение о найме "
        "подписали строительные компании региона."
    )
    assert "CN" not in countries_of(tagger, None, text)


def test_surname_containing_a_country_stem_is_not_that_country(tagger: Tagger) -> None:
    text = "Губернатор вручил награду спортсмену Киргизбоеву и подписал соглашение с клубом."
    assert countries_of(tagger, None, text) == set()


# -- relevance: cooperation with a Russian party ----------------------------------------------


def test_cooperation_between_third_countries_only_is_not_a_partner(tagger: Tagger) -> None:
    result = tagger.tag(
        "Белоруссия и Казахстан расширят торговлю",
        "Минск и Астана договорились увеличить взаимный товарооборот до пяти миллиардов "
        "долларов. Соответствующий план подписали премьер-министры двух стран в ходе "
        "переговоров в Минске. Белорусская сторона предложила казахстанским партнерам "
        "совместную сборку тракторов.",
    )
    assert result.countries == ()
    assert result.topics == ()


def test_russia_and_two_partners_signing_together_is_a_partnership_for_both(
    tagger: Tagger,
) -> None:
    text = (
        "Россия, Казахстан и Узбекистан подписали в Ташкенте трехстороннее соглашение о "
        "транзите природного газа. Документ предусматривает увеличение поставок российского "
        "газа в Узбекистан через территорию Казахстана."
    )
    assert countries_of(tagger, "Трехстороннее соглашение о транзите газа", text) == {"KZ", "UZ"}


def test_country_in_a_list_of_exhibition_participants_is_a_mention(tagger: Tagger) -> None:
    text = (
        "В выставке участвуют более двухсот компаний из России, Китая, Казахстана, "
        "Белоруссии, Узбекистана и Турции. Гости ярмарки смогут познакомиться с новинками "
        "сельхозтехники. Губернатор Новосибирской области осмотрел экспозиции."
    )
    assert (
        countries_of(tagger, "В Новосибирске открылась сельскохозяйственная ярмарка", text) == set()
    )


def test_passing_mention_in_domestic_news_is_not_a_partner(tagger: Tagger) -> None:
    text = (
        "Губернатор Омской области провел совещание с руководителями сельхозпредприятий. "
        "Обсуждались вопросы посевной кампании и поддержки фермеров. Отмечено, что часть "
        "зерна прошлого урожая уже отгружена покупателям, в том числе в Казахстан. "
        "Следующее совещание пройдет в апреле."
    )
    assert countries_of(tagger, "В Омске обсудили весенний сев", text) == set()


def test_sports_match_is_not_cooperation_and_youth_team_is_not_youth(tagger: Tagger) -> None:
    result = tagger.tag(
        "Молодежная сборная России обыграла Казахстан",
        "В Омске прошел товарищеский матч молодежных сборных России и Казахстана. Хозяева "
        "победили со счетом 3:1, два гола забил нападающий омского клуба. Ответная встреча "
        "пройдет в Павлодаре.",
    )
    assert result.countries == ()
    assert "youth" not in result.topic_ids


def test_crime_report_is_not_cooperation(tagger: Tagger) -> None:
    text = (
        "Полицейские задержали 32-летнего уроженца Таджикистана, подозреваемого в краже "
        "телефонов. Возбуждено уголовное дело, задержанный помещен в ИВС."
    )
    assert countries_of(tagger, "В Тюмени задержали гражданина Таджикистана", text) == set()


def test_weather_is_not_cooperation(tagger: Tagger) -> None:
    text = (
        "Синоптики обещают омичам похолодание: с Казахстана придет арктический антициклон, "
        "ночью температура воздуха опустится до минус 30 градусов."
    )
    assert countries_of(tagger, None, text) == set()


def test_diaspora_festival_is_not_cooperation(tagger: Tagger) -> None:
    text = (
        "В Доме дружбы прошел праздник Навруз, который организовала узбекская "
        "национально-культурная автономия. Гостей угощали пловом, выступили танцевальные "
        "коллективы таджикской и азербайджанской диаспор."
    )
    assert countries_of(tagger, "Узбекская диаспора Омска отметила Навруз", text) == set()


def test_tourist_charters_are_not_cooperation(tagger: Tagger) -> None:
    text = (
        "Туроператоры поставили в летнюю программу чартерные рейсы из Омска в Анталью и "
        "Нячанг. Путевки на пляжный отдых уже в продаже."
    )
    assert countries_of(tagger, "Омичи смогут улететь на море", text) == set()


def test_new_regular_flight_is_transport_cooperation(tagger: Tagger) -> None:
    result = tagger.tag(
        "Из Новосибирска запустят прямой рейс в Худжанд",
        "Авиакомпания открывает прямой рейс из Толмачево в Худжанд. Полеты будут "
        "выполняться дважды в неделю начиная с июня.",
    )
    assert result.country_codes == ("TJ",)
    assert "transport_logistics" in result.topic_ids


# -- feed noise -------------------------------------------------------------------------------


def test_read_also_teasers_do_not_produce_tags(tagger: Tagger) -> None:
    result = tagger.tag(
        "Курганская и Костанайская области подписали дорожную карту",
        "Губернатор Курганской области и аким Костанайской области подписали дорожную карту "
        "сотрудничества на 2026 год. Документ предусматривает совместные проекты в сельском "
        "хозяйстве и образовании.\nЧитайте также:\nВ Китае открылся крупнейший аэропорт\n"
        "Турецкие курорты подняли цены\nМонголия ввела безвизовый режим",
    )
    assert result.country_codes == ("KZ",)


def test_glued_headlines_of_other_stories_do_not_produce_tags(tagger: Tagger) -> None:
    text = (
        "Томская область и провинция Цзилинь договорились о сотрудничестве в "
        "лесопереработке. Соглашение подписали вице-губернатор и делегация китайских "
        "инвесторов.\nВ Иране прошли выборы президента\nАрмения закупит новые самолеты\n"
        "Бакинский марафон собрал 20 тысяч бегунов"
    )
    assert countries_of(tagger, None, text) == {"CN"}


def test_rss_footer_and_trailing_earlier_reported_sentence_do_not_produce_tags(
    tagger: Tagger,
) -> None:
    text = (
        "Губернатор Оренбургской области встретился с акимом Актюбинской области. Стороны "
        "подписали план совместных мероприятий на два года. Ранее сообщалось, что «Газпром» "
        "увеличил поставки газа в Узбекистан.\nЧитать дальше на сайте example.ru\n"
        "Источник новостей: агрегатор"
    )
    assert countries_of(tagger, None, text) == {"KZ"}


def test_homoglyphs_inside_words_are_normalised(tagger: Tagger) -> None:
    text = (
        "Делегация Αстраханской οбласти пοсетила Туркменистан. Стοрοны οбсудили οткрытие "
        "паромнοй линии и подписали сοглашение о сοтрудничестве."
    )
    result = tagger.tag(None, text)
    assert result.country_codes == ("TM",)
    assert result.region_codes == ("RU-AST",)


# -- topics -------------------------------------------------------------------------------------


def test_topics_of_a_cooperation_article(tagger: Tagger) -> None:
    result = tagger.tag(
        "Делегация Омской области посетила Узбекистан",
        "Губернатор Омской области провел переговоры в Ташкенте. Стороны подписали "
        "соглашение о сотрудничестве. Товарооборот региона с Узбекистаном вырос на треть, "
        "омские предприятия поставляют в республику зерно и подсолнечное масло. Омский "
        "аграрный университет примет на обучение сто узбекских студентов.",
    )
    assert {"agreements", "trade", "visits_events", "education_science"} <= set(result.topic_ids)
    assert "youth" not in result.topic_ids
    assert "migration_labor" not in result.topic_ids


def test_negative_articles_carry_no_topics(tagger: Tagger) -> None:
    result = tagger.tag(
        "Синоптики обещают морозы",
        "В Омске ожидается похолодание до минус 35 градусов, сообщили синоптики.",
    )
    assert result.countries == ()
    assert result.topics == ()


def test_youth_topic_from_youth_policy(tagger: Tagger) -> None:
    result = tagger.tag(
        "Омская молодежь побывала в Казахстане",
        "Делегация молодежного парламента Омской области посетила Павлодар. Молодые "
        "депутаты обсудили с казахстанскими коллегами проекты в сфере молодежной политики и "
        "подписали меморандум о сотрудничестве.",
    )
    assert "youth" in result.topic_ids
    assert result.country_codes == ("KZ",)


# -- regions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region_phrase", "code"),
    [
        ("Делегация Омской области", "RU-OMS"),
        ("Губернатор Новосибирской области", "RU-NVS"),
        ("Губернатор Тюменской области", "RU-TYU"),
        ("Правительство Астраханской области", "RU-AST"),
        ("Губернатор Алтайского края", "RU-ALT"),
    ],
)
def test_home_region_is_tagged(tagger: Tagger, region_phrase: str, code: str) -> None:
    result = tagger.tag(
        None,
        f"{region_phrase} и аким Павлодарской области подписали соглашение о "
        "сотрудничестве в сфере сельского хозяйства.",
    )
    assert result.region_codes == (code,)
    assert result.country_codes == ("KZ",)


def test_national_level_news_has_no_region(tagger: Tagger) -> None:
    result = tagger.tag(
        "Россия и Киргизия договорились о строительстве ГЭС",
        "Министерство энергетики России и правительство Киргизии подписали соглашение о "
        "строительстве каскада гидроэлектростанций. Российская сторона вложит в проект "
        "около двух миллиардов долларов.",
    )
    assert result.country_codes == ("KG",)
    assert result.regions == ()
    assert {"energy", "agreements", "investment"} <= set(result.topic_ids)


# -- interface --------------------------------------------------------------------------------


def test_scores_are_within_zero_and_one_and_tags_are_typed(tagger: Tagger) -> None:
    result = tagger.tag(
        "Делегация Омской области посетила Узбекистан",
        "Губернатор провел переговоры в Ташкенте и подписал соглашение о сотрудничестве.",
    )
    assert result.all()
    for tag in result.all():
        assert isinstance(tag, Tag)
        assert 0.0 <= tag.score <= 1.0
        assert tag.kind in {"country", "topic", "region"}


def test_threshold_is_a_parameter() -> None:
    text = (
        "Губернатор Омской области провел совещание с аграриями. Часть зерна отгружена "
        "покупателям, в том числе в Казахстан."
    )
    lenient = Tagger(threshold=0.0)
    strict = Tagger(threshold=1.0)
    assert "KZ" in lenient.tag(None, text).country_codes
    assert strict.tag(None, text).countries == ()
    with pytest.raises(ValueError):
        Tagger(threshold=1.5)


def test_empty_and_odd_input_gives_empty_result(tagger: Tagger) -> None:
    empty = TagResult((), (), ())
    assert tagger.tag(None, "") == empty
    assert tagger.tag("", "   \n\n ") == empty
    assert tagger.tag(None, "12345 !!! ???") == empty


def test_tag_many_keeps_order(tagger: Tagger) -> None:
    items = [
        (None, "Губернатор Омской области встретился с послом Армении и подписал соглашение."),
        (None, "В Омске ожидается снегопад."),
        (None, "Губернатор Томской области встретился с послом Вьетнама и подписал соглашение."),
    ]
    results = tagger.tag_many(items)
    assert [r.country_codes for r in results] == [("AM",), (), ("VN",)]


def test_destinations_listed_with_their_countries_are_mentions(tagger: Tagger) -> None:
    result = tagger.tag(
        "Из Омска запустят прямой рейс в Душанбе",
        "Авиакомпания открывает прямой рейс из Омска в Душанбе, полеты начнутся в мае. "
        "Сейчас из омского аэропорта выполняются рейсы в Алматы (Казахстан), Бишкек "
        "(Киргизия), Ташкент (Узбекистан) и Самарканд (Узбекистан).",
    )
    assert result.country_codes == ("TJ",)


def test_a_named_country_group_makes_its_listed_members_partners(tagger: Tagger) -> None:
    text = (
        "В Новосибирске открылся форум «Россия — Центральная Азия», организованный "
        "правительством Новосибирской области. В работе форума участвуют делегации "
        "Казахстана, Киргизии, Таджикистана, Туркменистана и Узбекистана. Участники "
        "подписали меморандум о сотрудничестве в сфере образования."
    )
    assert countries_of(tagger, None, text) == {"KZ", "KG", "TJ", "TM", "UZ"}


def test_consumer_prices_are_not_cooperation(tagger: Tagger) -> None:
    text = (
        "На омских рынках подорожали абрикосы и виноград из Узбекистана. Продавцы объясняют "
        "рост цен плохим урожаем, килограмм черешни стоит уже 600 рублей."
    )
    assert countries_of(tagger, "В Омске подорожали фрукты", text) == set()


def test_border_queue_is_not_cooperation(tagger: Tagger) -> None:
    text = (
        "На пункте пропуска на границе России и Казахстана скопилось более тысячи фур. "
        "Водители ждут своей очереди до двух суток, в электронной очереди зарегистрированы "
        "еще 800 машин."
    )
    assert countries_of(tagger, None, text) == set()


def test_third_countries_with_russia_named_in_passing_are_not_partners(tagger: Tagger) -> None:
    text = (
        "В ходе визита президента Узбекистана в Пекин стороны подписали соглашения о "
        "сотрудничестве в энергетике и сельском хозяйстве. Китайские компании построят в "
        "Узбекистане три электростанции. Товарооборот двух стран растет, хотя главным "
        "торговым партнером Ташкента остается Россия."
    )
    assert countries_of(tagger, "Узбекистан и Китай подписали соглашения", text) == set()


@pytest.mark.parametrize(
    ("title", "text", "code", "topic"),
    [
        (
            "Омские врачи провели операции в Бишкеке",
            "Хирурги Омской областной клинической больницы провели в Бишкеке 15 операций "
            "детям с пороками сердца. Омские медики также прочитали лекции для киргизских "
            "коллег.",
            "KG",
            "health",
        ),
        (
            "В Омске начали учиться студенты из Таджикистана",
            "В омские вузы в этом году поступили более 300 студентов из Таджикистана. "
            "Большинство из них выбрали инженерные специальности.",
            "TJ",
            "education_science",
        ),
        (
            "Из Тюмени полетят самолеты в Ташкент",
            "Авиакомпания с 1 июня запускает рейсы из Тюмени в Ташкент. Полеты будут "
            "выполняться три раза в неделю.",
            "UZ",
            "transport_logistics",
        ),
    ],
)
def test_substantive_cooperation_without_diplomatic_vocabulary(
    tagger: Tagger, title: str, text: str, code: str, topic: str
) -> None:
    result = tagger.tag(title, text)
    assert result.country_codes == (code,)
    assert topic in result.topic_ids
