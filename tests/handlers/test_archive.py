from __future__ import annotations

from aiogram.methods import EditMessageText, SendMessage

from handlers.archive import PAGE_SIZE, ArchivePage
from testing.telegram import (
    Conversation,
    answers,
    button,
    calls,
    html_texts,
    keyboard,
    texts,
)
from tests.handlers.conftest import ArticleSeeder

AGREEMENT = {"agreements": 0.9}


SUBJECTS = (
    "поставках зерна",
    "строительстве теплиц",
    "обмене студентами",
    "грузовых авиаперевозках",
    "поставках тракторов",
    "открытии торгового дома",
    "совместной ярмарке",
    "подготовке врачей",
    "экспорте молочной продукции",
    "туристических маршрутах",
    "переработке льна",
    "цифровых сервисах",
)


async def _seed_uzbek_agreements(articles: ArticleSeeder, count: int) -> list[int]:
    """Distinct agreements, № 1 the newest; each one a different story."""
    return [
        await articles.add(
            f"Соглашение № {number} о {SUBJECTS[number - 1]}",
            f"Омская область и партнёры из Узбекистана договорились о {SUBJECTS[number - 1]}.",
            countries={"UZ": 0.9},
            topics=AGREEMENT,
            days_ago=number,
            source=("БК55", "Омскинформ", "Омская правда")[number % 3],
        )
        for number in range(1, count + 1)
    ]


async def test_agreements_lists_only_agreements_about_the_country(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add(
        "Омская область и Узбекистан подписали соглашение о поставках зерна",
        countries={"UZ": 0.95},
        topics=AGREEMENT,
        source="Омская правда",
    )
    await articles.add(
        "Узбекские аграрии приехали на выставку", countries={"UZ": 0.9}, topics={"trade": 0.8}
    )
    await articles.add(
        "Омск и Душанбе подписали меморандум", countries={"TJ": 0.9}, topics=AGREEMENT
    )
    await articles.add(
        "Слабый тег: соглашение с Узбекистаном", countries={"UZ": 0.2}, topics=AGREEMENT
    )

    sent = await private.send("/agreements Узбекистан")

    (text,) = texts(sent)
    assert text.startswith("Соглашения · 🇺🇿 Узбекистан")
    assert "подписали соглашение о поставках зерна — Омская правда" in text
    assert "выставку" not in text and "Душанбе" not in text and "Слабый тег" not in text
    assert text.endswith("Страница 1")
    assert '<a href="https://example.ru/news/1">' in html_texts(sent)[0]


async def test_country_forms_and_codes_resolve(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Соглашение с Киргизией", countries={"KG": 0.9}, topics=AGREEMENT)
    for form in ("/agreements кыргызстан", "/agreements Киргизии", "/agreements kg"):
        assert "Соглашение с Киргизией" in texts(await private.send(form))[0], form


async def test_results_are_paged_in_place(private: Conversation, articles: ArticleSeeder) -> None:
    await _seed_uzbek_agreements(articles, PAGE_SIZE + 3)

    first = await private.send("/agreements uz")
    assert "№ 1 " in texts(first)[0] + " " and f"№ {PAGE_SIZE + 1}" not in texts(first)[0]
    assert [text for text, _ in keyboard(first)] == ["Ещё »"]
    message_id = private.last_keyboard_message_id()

    second = await private.press(button(first, "Ещё"))
    (edit,) = calls(second, EditMessageText)
    assert edit.message_id == message_id
    assert f"№ {PAGE_SIZE + 3}" in texts(second)[0] and "№ 1 " not in texts(second)[0]
    assert texts(second)[0].endswith("Страница 2")
    assert [text for text, _ in keyboard(second)] == ["« Назад"]

    back = await private.press(button(second, "Назад"))
    assert texts(back)[0].endswith("Страница 1")


async def test_callback_data_stays_within_64_bytes(private: Conversation) -> None:
    data = ArchivePage(kind="o", country="UZ", topic="transport_logistics", days=365, page=500)
    assert len(data.pack().encode()) <= 64


async def test_news_defaults_to_seven_days_and_takes_a_period(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Таджикская делегация в Омске", countries={"TJ": 0.9}, days_ago=2)
    await articles.add("Таджикские студенты в ОмГУ", countries={"TJ": 0.9}, days_ago=20)

    week = texts(await private.send("/news Таджикистан"))[0]
    assert "за последние 7 дней" in week
    assert "делегация" in week and "студенты" not in week

    month = texts(await private.send("/news Таджикистан 30"))[0]
    assert "за последние 30 дней" in month
    assert "делегация" in month and "студенты" in month


async def test_news_period_is_capped(private: Conversation, articles: ArticleSeeder) -> None:
    await articles.add("Белорусские тракторы", countries={"BY": 0.9}, days_ago=300)
    text = texts(await private.send("/news Беларусь 5000"))[0]
    assert text.startswith("Я ищу не дальше чем на 365 дней назад.")
    assert "за последние 365 дней" in text and "тракторы" in text


async def test_empty_news_suggests_a_longer_period(private: Conversation) -> None:
    text = texts(await private.send("/news Монголия"))[0]
    assert "За этот срок ничего нет" in text and "/news mn 30" in text


async def test_trade(private: Conversation, articles: ArticleSeeder) -> None:
    await articles.add(
        "Товарооборот с Казахстаном вырос", countries={"KZ": 0.9}, topics={"trade": 0.9}
    )
    await articles.add("Казахстан и соглашение", countries={"KZ": 0.9}, topics=AGREEMENT)
    text = texts(await private.send("/trade Казахстан"))[0]
    assert text.startswith("Торговля · 🇰🇿 Казахстан")
    assert "Товарооборот" in text and "соглашение" not in text


async def test_topic_with_and_without_country(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add(
        "Студенты из Узбекистана", countries={"UZ": 0.9}, topics={"education_science": 0.9}
    )
    await articles.add(
        "Студенты из Китая", countries={"CN": 0.9}, topics={"education_science": 0.9}
    )

    only_uz = texts(await private.send("/topic образование Узбекистан"))[0]
    assert only_uz.startswith("Образование и наука · 🇺🇿 Узбекистан")
    assert "Узбекистана" in only_uz and "Китая" not in only_uz

    everywhere = texts(await private.send("/topic education"))[0]
    assert "все страны" in everywhere
    assert "Узбекистана" in everywhere and "Китая" in everywhere


async def test_topic_without_argument_offers_topics(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Энергомост", countries={"KZ": 0.9}, topics={"energy": 0.9})
    asked = await private.send("/topic")
    assert "Какая тема?" in texts(asked)[0]
    chosen = await private.press(button(asked, "Энергетика"))
    assert "Энергомост" in texts(chosen)[0]


async def test_unknown_topic_offers_topics(private: Conversation) -> None:
    sent = await private.send("/topic астрология")
    assert "Не знаю тему «астрология»" in texts(sent)[0]
    assert len(keyboard(sent)) == 13


async def test_search_matches_russian_word_forms(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add(
        "Омские вузы и партнёры из Бухары заключили соглашение",
        "Документ предусматривает обмен студентами.",
        countries={"UZ": 0.9},
    )
    await articles.add("Фестиваль в Омске", "Концерт и выставка.", countries={"KZ": 0.9})

    text = texts(await private.send("/search соглашения"))[0]
    assert text.startswith("Поиск: соглашения")
    assert "заключили соглашение" in text and "Фестиваль" not in text

    text = texts(await private.send("/search обмена студентов"))[0]
    assert "заключили соглашение" in text


async def test_search_pages(private: Conversation, articles: ArticleSeeder) -> None:
    await _seed_uzbek_agreements(articles, PAGE_SIZE + 1)
    first = await private.send("/search договориться партнёры")
    assert "Страница 1" in texts(first)[0]
    second = await private.press(button(first, "Ещё"))
    assert "Страница 2" in texts(second)[0] and f"№ {PAGE_SIZE + 1}" in texts(second)[0]


async def test_search_without_words_asks_for_them(private: Conversation) -> None:
    assert "Что искать?" in texts(await private.send("/search"))[0]
    assert "Что искать?" in texts(await private.send("/search ?!"))[0]


async def test_unknown_country_gets_suggestions_that_run_the_command(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Грузинское соглашение", countries={"GE": 0.9}, topics=AGREEMENT)

    sent = await private.send("/agreements Грузинстан")
    assert "Не знаю страну" in texts(sent)[0] and "Возможно, вы имели в виду" in texts(sent)[0]
    assert button(sent, "Грузия") == keyboard(sent)[0][1]
    pressed = await private.press(button(sent, "Грузия"))
    assert "Грузинское соглашение" in texts(pressed)[0]
    assert calls(pressed, EditMessageText)


async def test_unknown_country_without_suggestions_lists_all(private: Conversation) -> None:
    sent = await private.send("/news <b>Щщщщщ</b>")
    assert "Не знаю страну «<b>Щщщщщ</b>». Выберите из списка" in texts(sent)[0]
    assert "&lt;b&gt;" in html_texts(sent)[0]
    assert len(keyboard(sent)) >= 10


async def test_missing_country_offers_the_chats_countries(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Армянские инвестиции", countries={"AM": 0.9}, topics=AGREEMENT)
    everyone = await private.send("/agreements")
    assert "Какая страна?" in texts(everyone)[0]
    assert len(keyboard(everyone)) >= 10

    await private.send("/start")
    await private.press(button(await private.send("/start"), "Армения"))
    mine = await private.send("/agreements")
    assert [text for text, _ in keyboard(mine)] == ["🇦🇲 Армения"]
    result = await private.press(button(mine, "Армения"))
    assert "Армянские инвестиции" in texts(result)[0]


async def test_overlong_argument_is_cut_with_a_note(private: Conversation) -> None:
    sent = await private.send("/search " + "соглашение " * 40)
    assert texts(sent)[0].startswith("Запрос слишком длинный, я взял первые 200 символов.")


async def test_forged_and_stale_callbacks_are_answered(private: Conversation) -> None:
    await private.send("/agreements uz")
    for data in ("ar:a:XX:::0:", "ar:zzz", "garbage", "ar:n:UZ::9999:0:", "oc:t:UZ:q"):
        sent = await private.press(data, message_id=1)
        (answer,) = answers(sent)
        assert answer.text == "Эта кнопка устарела. Отправьте команду ещё раз.", data
        assert not calls(sent, SendMessage) and not calls(sent, EditMessageText)


async def test_feed_text_is_escaped(private: Conversation, articles: ArticleSeeder) -> None:
    await articles.add(
        'Соглашение <script>alert(1)</script> & "кавычки"',
        countries={"UZ": 0.9},
        topics=AGREEMENT,
        source="<i>Источник</i>",
    )
    sent = await private.send("/agreements uz")
    assert 'Соглашение <script>alert(1)</script> & "кавычки"' in texts(sent)[0]
    assert "&lt;script&gt;" in html_texts(sent)[0]
