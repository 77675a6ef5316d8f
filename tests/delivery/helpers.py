"""Chats, articles and outbox rows for delivery tests, written through the repositories."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.schedule import next_digest_at
from storage import articles as article_repo
from storage import chats as chat_repo
from storage import outbox
from storage.models import Article, OutboxMessage
from testing.telegram import DEFAULT_TOKEN, BotApiEmulator

SessionFactory = async_sessionmaker[AsyncSession]

# Distinct stories: subjects, places and actions differ, so no two merge into one item.
HEADLINES: tuple[str, ...] = (
    "Омские аграрии отправили первую партию льна в Ташкент",
    "В Бухаре открылся торговый дом омских производителей",
    "Делегация Самаркандской области посетила омский нефтехимический кластер",
    "ОмГТУ и Ташкентский политехнический университет запускают двойной диплом",
    "Узбекские строители возведут жилой квартал на левом берегу Иртыша",
    "Омский шинный завод нарастил экспорт покрышек в Ферганскую долину",
    "Павлодарские энергетики обсудили с омскими коллегами перетоки мощности",
    "Казахстанские школьники приедут на летнюю смену в омский лагерь",
    "Железнодорожный маршрут Омск — Астана пополнится ночным поездом",
    "Таджикские студенты-медики пройдут практику в омских больницах",
    "Совместная выставка ремёсел Душанбе и Омска откроется в музее Врубеля",
    "Минский тракторный завод открыл сервисный центр под Омском",
    "Белорусские молочники закупили омские корма для ферм Гродно",
    "Китайская компания построит элеватор в Исилькульском районе",
    "Омские вузы приняли абитуриентов из Синьцзяна по квоте",
    "Монгольские фермеры изучили омский опыт разведения скота",
    "Азербайджанский культурный центр провёл в Омске праздник Новруз",
    "Армянская община Омска передала книги областной библиотеке",
    "Кыргызские перевозчики запросили новые разрешения на рейсы в Омск",
    "Туркменская делегация осмотрела омский речной порт",
)

SOURCES: tuple[str, ...] = (
    "БК55",
    "Омскинформ",
    "Омская правда",
    "НГС55",
    "Правительство Омской области",
)


def make_bot(api: BotApiEmulator, token: str = DEFAULT_TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))


async def add_chat(
    session_factory: SessionFactory,
    chat_id: int,
    *,
    countries: Iterable[str] = ("UZ",),
    topics: Iterable[str] = (),
    timezone: str = "Asia/Omsk",
    digest_time: str = "09:00",
    next_at: datetime | None = None,
    last_digest_at: datetime | None = None,
    notify_empty: bool = False,
    language: str = "ru",
    chat_type: str | None = None,
    now: datetime | None = None,
) -> None:
    """A subscribed chat; `next_at` defaults to its next digest time after `now`."""
    moment = now or datetime.now(UTC)
    async with session_factory() as session:
        await chat_repo.ensure_chat(
            session,
            chat_id,
            type=chat_type or ("private" if chat_id > 0 else "group"),
            title=None if chat_id > 0 else f"Группа {abs(chat_id)}",
            language=language,
            timezone=timezone,
            digest_time=digest_time,
        )
        await chat_repo.set_countries(session, chat_id, countries)
        await chat_repo.set_topics(session, chat_id, topics)
        await chat_repo.update_chat(
            session,
            chat_id,
            subscribed=True,
            notify_empty=notify_empty,
            next_digest_at=next_at or next_digest_at(digest_time, timezone, moment),
            last_digest_at=last_digest_at,
        )
        await session.commit()


async def add_article(
    session_factory: SessionFactory,
    title: str,
    *,
    countries: Mapping[str, float],
    topics: Mapping[str, float] | None = None,
    first_seen_at: datetime,
    published_at: datetime | None = None,
    source: str = "БК55",
    url: str | None = None,
) -> int:
    """Stores a tagged article as first seen at `first_seen_at`; returns its id."""
    digest = hashlib.sha1(f"{title}|{first_seen_at.isoformat()}".encode()).hexdigest()
    async with session_factory() as session:
        article_id = await article_repo.insert_article(
            session,
            article_repo.NewArticle(
                feed_id=None,
                guid=digest,
                url=url or f"https://bk55.ru/news/article/{digest[:12]}",
                title=title,
                summary=f"{title}. Подробности — в материале издания.",
                full_text="",
                source=source,
                published_at=published_at or first_seen_at - timedelta(minutes=20),
                content_hash=digest[:32],
            ),
        )
        assert article_id is not None
        tags = [article_repo.TagValue("country", code, score) for code, score in countries.items()]
        tags += [
            article_repo.TagValue("topic", topic, score)
            for topic, score in (topics or {"trade": 0.9}).items()
        ]
        await article_repo.save_tags(session, article_id, tags)
        await session.execute(
            update(Article).where(Article.id == article_id).values(fetched_at=first_seen_at)
        )
        await session.commit()
    return article_id


async def queue_digest(
    session_factory: SessionFactory,
    chat_id: int,
    texts: Iterable[str],
    *,
    key: str = "2026-11-20",
    reply_markup: str | None = None,
    now: datetime | None = None,
) -> None:
    messages = [
        outbox.NewOutboxMessage(
            chat_id=chat_id, digest_key=key, part=part, text=text, reply_markup=reply_markup
        )
        for part, text in enumerate(texts)
    ]
    async with session_factory() as session:
        await outbox.enqueue(session, messages, now=now or datetime.now(UTC))
        await session.commit()


async def outbox_rows(session_factory: SessionFactory) -> list[OutboxMessage]:
    async with session_factory() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def statuses(session_factory: SessionFactory) -> dict[str, int]:
    async with session_factory() as session:
        return await outbox.outbox_counts(session)


async def add_chats_bulk(
    session_factory: SessionFactory,
    chat_ids: Iterable[int],
    *,
    countries: Iterable[str] = ("UZ",),
    next_at: datetime,
    last_digest_at: datetime | None = None,
    timezone: str = "Asia/Omsk",
    digest_time: str = "09:00",
) -> None:
    """Many subscribed chats in one transaction (for crash tests and benchmarks)."""
    from sqlalchemy import insert

    from storage.models import Chat, ChatCountry

    ids = list(chat_ids)
    codes = sorted(set(countries))
    async with session_factory() as session:
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            await session.execute(
                insert(Chat),
                [
                    {
                        "id": chat_id,
                        "type": "private" if chat_id > 0 else "group",
                        "language": "ru",
                        "timezone": timezone,
                        "digest_time": digest_time,
                        "next_digest_at": next_at,
                        "last_digest_at": last_digest_at,
                        "notify_empty": False,
                        "subscribed": True,
                        "active": True,
                        "paused": False,
                    }
                    for chat_id in chunk
                ],
            )
            await session.execute(
                insert(ChatCountry),
                [{"chat_id": chat_id, "country": code} for chat_id in chunk for code in codes],
            )
        await session.commit()
