from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.chats import sent_article_ids
from testing.telegram import Conversation, texts
from tests.handlers.conftest import ArticleSeeder
from tests.handlers.helpers import subscribe

Sessions = async_sessionmaker[AsyncSession]


async def test_digest_needs_a_subscription(private: Conversation) -> None:
    assert texts(await private.send("/digest")) == ["Сначала выберите страны: /start"]


async def test_digest_now_sends_unseen_articles_once(
    private: Conversation, articles: ArticleSeeder, session_factory: Sessions
) -> None:
    await subscribe(private, "TJ")
    first = await articles.add(
        "Таджикские строители приедут в Омск",
        "Соглашение о наборе рабочих подписали в Душанбе.",
        countries={"TJ": 0.9},
        topics={"migration_labor": 0.8},
        days_ago=0.5,
    )
    second = await articles.add(
        "Омский вуз открыл филиал в Худжанде",
        "Филиал примет первых студентов осенью.",
        countries={"TJ": 0.9},
        topics={"education_science": 0.9},
        days_ago=0.2,
    )
    await articles.add("Китайские инвестиции", countries={"CN": 0.9}, days_ago=0.1)

    digest = texts(await private.send("/digest"))
    joined = "\n".join(digest)
    assert "Таджикистан" in joined
    assert "строители приедут в Омск" in joined and "филиал в Худжанде" in joined
    assert "Китайские" not in joined
    async with session_factory() as session:
        assert {first, second} <= await sent_article_ids(session, private.chat_id)

    again = texts(await private.send("/digest"))
    assert again[0].startswith("За неделю по вашим странам нет ничего, чего вы ещё не видели.")


async def test_more_button_of_a_digest_opens_the_countrys_news(
    private: Conversation, articles: ArticleSeeder
) -> None:
    await articles.add("Монгольские кони на выставке", countries={"MN": 0.9})
    sent = await private.press("more:MN", message_id=1)
    assert "Новости · 🇲🇳 Монголия · за последние 7 дней" in texts(sent)[0]
    assert "Монгольские кони" in texts(sent)[0]
