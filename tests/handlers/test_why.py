from __future__ import annotations

from testing.telegram import Conversation, texts
from tests.handlers.conftest import ADMIN_ID, ArticleSeeder, ConversationFactory

REFUSAL = "Эта команда доступна только администраторам бота."
TITLE = "Делегация из Индии посетила Смоленск"
TEXT = (
    "Смоленскую область посетила делегация штата Махараштра из Индии. Гостей принял "
    "председатель Парламентского собрания Союза Беларуси и России. Стороны обсудили поставки "
    "лекарств в Индию и обмен студентами <5 курсов>."
)


async def test_why_explains_countries_topics_and_turned_down_candidates(
    conversation: ConversationFactory, articles: ArticleSeeder
) -> None:
    await articles.add(TITLE, TEXT, countries={"IN": 0.99})
    admin: Conversation = conversation(ADMIN_ID)
    replies = texts(await admin.send("/why https://example.ru/news/1"))
    reply = "\n".join(replies)
    assert reply.startswith("Почему такие метки: Делегация из Индии посетила Смоленск")
    assert "Индия — оценка 1.00" in reply or "Индия — оценка 0.99" in reply
    assert "слова: Индии" in reply
    assert "Отклонены" in reply
    assert "Беларусь — оценка 0.00: название организации или союза" in reply
    assert "Парламентского собрания Союза Беларуси и России" in reply
    assert "Регион: Смоленская область" in reply
    # A topic with some evidence below the threshold is listed with its reason too.
    assert "Отклонённые темы" in reply
    assert "Образование и наука — оценка 0.35: ниже порога 0.5" in reply
    assert "слова: студентами" in reply
    assert "&lt;5 курсов&gt;" not in reply  # texts() gives the text as shown, unescaped
    assert "<5 курсов>" in reply


async def test_why_splits_a_long_explanation_under_the_message_limit(
    conversation: ConversationFactory, articles: ArticleSeeder
) -> None:
    sentence = (
        "Губернатор Омской области провёл переговоры с делегацией Узбекистана, Казахстана, "
        "Киргизии и Таджикистана о поставках зерна и подписал соглашение о сотрудничестве. "
    )
    await articles.add("Омская область и Центральная Азия", sentence * 60)
    admin: Conversation = conversation(ADMIN_ID)
    replies = texts(await admin.send("/why https://example.ru/news/1"))
    assert len(replies) >= 2
    assert all(len(reply) <= 4096 for reply in replies)
    assert "Узбекистан — оценка" in "\n".join(replies)


async def test_why_turns_down_topics_of_an_article_without_a_partner(
    conversation: ConversationFactory, articles: ArticleSeeder
) -> None:
    text = (
        "Министр сельского хозяйства Омской области провёл совещание с аграриями. "
        "Обсуждали урожай пшеницы, строительство элеваторов и перевозки зерна по железной "
        "дороге. Экспорт региональной продукции за год вырос на 12 процентов. "
    )
    await articles.add("В Омске обсудили урожай и перевозки зерна", text * 40)
    admin: Conversation = conversation(ADMIN_ID)
    replies = texts(await admin.send("/why https://example.ru/news/1"))
    assert all(len(reply) <= 4096 for reply in replies)
    reply = "\n".join(replies)
    assert "Страны: нет" in reply
    assert "Отклонённые темы" in reply
    turned_down = reply.split("Отклонённые темы", 1)[1]
    assert "Сельское хозяйство — оценка" in turned_down
    assert "нет страны-партнёра" in turned_down
    assert "Транспорт и логистика — оценка" in turned_down
    assert "слова: пшеницы" in turned_down or "слова: урожай" in turned_down
    assert "Регион: Омская область" in reply


async def test_why_of_an_unknown_link_is_one_line(conversation: ConversationFactory) -> None:
    admin: Conversation = conversation(ADMIN_ID)
    assert texts(await admin.send("/why https://example.ru/news/404")) == [
        "Статьи с такой ссылкой в архиве нет."
    ]
    assert texts(await admin.send("/why")) == ["Пришлите ссылку на статью: /why https://…"]
    assert texts(await admin.send("/why не ссылка")) == [
        "Пришлите ссылку на статью: /why https://…"
    ]


async def test_why_refuses_everyone_else(private: Conversation, articles: ArticleSeeder) -> None:
    await articles.add(TITLE, TEXT)
    assert texts(await private.send("/why https://example.ru/news/1")) == [REFUSAL]
