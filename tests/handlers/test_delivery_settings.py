"""/settings delivery modes, regions and the keyword filter; /filter; /bind and /unbind in
a forum supergroup, through the Telegram fake."""

from __future__ import annotations

from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.delivery_settings import FilterAction, ModePick, RegionPick
from handlers.screens import SettingsMenu
from storage.articles import TagValue, save_tags
from testing.telegram import Conversation, MockedSession, answers, calls, keyboard, texts
from tests.handlers.conftest import ArticleSeeder, ConversationFactory
from tests.handlers.helpers import load_chat, subscribe

Sessions = async_sessionmaker[AsyncSession]
FORUM_ID = -1009876543210
ADMIN = 6001
MEMBER = 6002


async def test_delivery_modes_are_toggled_from_settings(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "UZ")
    menu = await private.send("/settings")
    buttons = [text for text, _data in keyboard(menu)]
    assert "📬 Доставка" in buttons and "🔎 Фильтр" in buttons and "📍 Регионы" in buttons
    assert max(len(text) for text in buttons) <= 16  # short labels for a phone

    screen = await private.press(SettingsMenu(item="modes"))
    assert "Статьи, пришедшие сразу, в ежедневный дайджест не повторяются." in texts(screen)[0]
    assert ("✅ Ежедневно", ModePick(action="d").pack()) in keyboard(screen)

    await private.press(ModePick(action="w"))
    await private.press(ModePick(action="t", value="agreements"))
    toggled = await private.press(ModePick(action="d"))
    assert "Темы «сразу»: Соглашения" in texts(toggled)[0]
    chat = await load_chat(session_factory, 1001)
    assert chat is not None
    assert (chat.daily, chat.weekly, chat.instant_topics) == (False, True, {"agreements"})
    assert chat.next_weekly_at is not None and chat.instant_seen_until is not None

    back = await private.press(ModePick(action="x"))
    assert "Доставка: по понедельникам, сразу: Соглашения" in texts(back)[0]

    stale = await private.press(ModePick(action="t", value="no-such-topic"))
    assert answers(stale)[0].text == "Эта кнопка устарела. Отправьте команду ещё раз."


async def test_filter_command_matches_word_forms_and_answers_bad_input(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "KZ")
    empty = await private.send("/filter")
    assert "Фильтра нет" in texts(empty)[0]

    done = await private.send("/filter +зерна -хоккеем")
    assert "Только статьи с любым из слов: зерна" in texts(done)[0]
    assert "Без статей со словами: хоккеем" in texts(done)[0]
    chat = await load_chat(session_factory, 1001)
    assert chat is not None
    assert (chat.include_lemmas, chat.exclude_lemmas) == ({"зерно"}, {"хоккей"})

    for bad, expected in (
        ("/filter зерно", "Пишите каждое слово с + (должно быть) или - (исключить)"),
        ("/filter " + " ".join(f"+слово{i}" for i in range(11)), "Слишком много слов."),
        ("/filter +" + "а" * 31, "не подходит для фильтра. До 10 слов, каждое от 2 до 30 букв."),
        ("/filter +а", "не подходит для фильтра."),
    ):
        answer = texts(await private.send(bad))
        assert len(answer) == 1 and expected in answer[0] and "\n" not in answer[0], bad
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and len(chat.keywords) == 2  # bad input lost nothing

    cleared = await private.send("/filter -")
    assert "Фильтра нет" in texts(cleared)[0]
    await private.send("/filter +пшеница")
    shown = await private.send("/filter")
    clear_button = FilterAction(action="c").pack()
    assert ("🧹 Очистить", clear_button) in keyboard(shown)
    pressed = await private.press(clear_button)
    assert answers(pressed)[0].text == "Фильтр очищен"
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.keywords == ()


async def test_region_screen_offers_stored_regions(
    private: Conversation, session_factory: Sessions, articles: ArticleSeeder
) -> None:
    await subscribe(private, "UZ")
    for title, code in (
        ("Омские аграрии подписали договор с Ташкентом", "RU-OMS"),
        ("Новосибирские логисты открыли склад в Самарканде", "RU-NVS"),
    ):
        article_id = await articles.add(title, countries={"UZ": 0.9}, topics={"trade": 0.9})
        async with session_factory() as session:
            await save_tags(session, article_id, [TagValue("region", code, 0.9)])
            await session.commit()
    await private.send("/settings")
    screen = await private.press(SettingsMenu(item="regions"))
    assert "Выбрано: все регионы" in texts(screen)[0]
    assert [text for text, _ in keyboard(screen)][:2] == ["Новосибирская область", "Омская область"]
    picked = await private.press(RegionPick(action="t", value="RU-OMS"))
    assert "Выбрано: Омская область" in texts(picked)[0]
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.regions == {"RU-OMS"}
    await private.press(RegionPick(action="a"))
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.regions == frozenset()


async def test_region_command_finds_a_region_by_any_form_of_its_name(
    private: Conversation, session_factory: Sessions
) -> None:
    await subscribe(private, "KZ")
    screen = await private.send("/region")
    assert "Нет в списке? Отправьте /region и название" in texts(screen)[0]

    ticked = await private.send("/region омской")
    assert "Выбрано: Омская область" in texts(ticked)[0]
    assert ("✅ Омская область", RegionPick(action="t", value="RU-OMS").pack()) in keyboard(ticked)
    await private.send("/region Новосибирск")
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.regions == {"RU-OMS", "RU-NVS"}

    await private.send("/region Омская область")  # a second time unticks it
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.regions == {"RU-NVS"}

    several = await private.send("/region Алтай")
    assert "подходят несколько регионов" in texts(several)[0]
    assert {data for _text, data in keyboard(several)} >= {
        RegionPick(action="t", value="RU-AL").pack(),
        RegionPick(action="t", value="RU-ALT").pack(),
    }
    for bad, expected in (
        ("/region Атлантида", "Не нашёл такого региона России: «Атлантида»"),
        ("/region область", "Не нашёл такого региона России"),
    ):
        answer = texts(await private.send(bad))
        assert len(answer) == 1 and expected in answer[0] and "\n" not in answer[0], bad
    chat = await load_chat(session_factory, 1001)
    assert chat is not None and chat.regions == {"RU-NVS"}  # bad input changed nothing


def _forum(conversation: ConversationFactory, session: MockedSession) -> Conversation:
    session.chat_admins[FORUM_ID] = {ADMIN}
    return conversation(FORUM_ID, chat_type="supergroup", user_id=MEMBER, title="Экспорт")


async def test_bind_routes_a_country_to_the_topic_and_only_admins_may(
    conversation: ConversationFactory, mocked_session: MockedSession, session_factory: Sessions
) -> None:
    forum = _forum(conversation, mocked_session)
    await subscribe(forum, "UZ", "TJ", user_id=ADMIN)
    thread = forum.telegram.create_forum_topic(FORUM_ID, "Узбекистан")

    refused = await forum.send("/bind Узбекистан", thread_id=thread)
    assert texts(refused) == ["Менять подписку этого чата могут только его администраторы."]

    general = await forum.send("/bind Узбекистан", user_id=ADMIN)
    assert "внутри темы" in texts(general)[0]

    bound = await forum.send("/bind узбекистане", user_id=ADMIN, thread_id=thread)
    assert texts(bound) == ["Новости о стране 🇺🇿 Узбекистан теперь приходят в эту тему."]
    (reply,) = calls(bound, SendMessage)
    assert reply.message_thread_id == thread
    chat = await load_chat(session_factory, FORUM_ID)
    assert chat is not None and chat.bindings == (("UZ", thread),)

    listed = await forum.send("/bind", user_id=ADMIN)
    assert f"🇺🇿 Узбекистан → тема {thread}" in texts(listed)[0]
    unknown = await forum.send("/bind Атлантида", user_id=ADMIN, thread_id=thread)
    assert "Не знаю страну «Атлантида»" in texts(unknown)[0]

    unbound = await forum.send("/unbind Uzbekistan", user_id=ADMIN)
    assert texts(unbound) == ["Новости о стране 🇺🇿 Узбекистан снова идут в общую тему."]
    chat = await load_chat(session_factory, FORUM_ID)
    assert chat is not None and chat.bindings == ()


async def test_bind_outside_a_forum_says_so(private: Conversation) -> None:
    assert texts(await private.send("/bind Узбекистан")) == [
        "/bind работает только в группах с темами."
    ]
