"""The outbox sender of a running bot, alone or beside other sender processes."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from delivery.budget import SharedPacer, budget_name
from delivery.sender import Pacer, Sender


def build_sender(
    bot: Bot, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> Sender:
    """The outbox sender at SEND_RATE. On PostgreSQL, where several processes may send for
    one bot, the rate and any pause Telegram asks for are shared through the database
    (delivery.budget); on SQLite the one process keeps them in memory."""
    bind = session_factory.kw.get("bind")
    pacer: Pacer | None = None
    if bind is not None and bind.dialect.name == "postgresql":
        token = settings.bot_token.get_secret_value() if settings.bot_token else ""
        pacer = SharedPacer(session_factory, budget_name(token), settings.send_rate)
    return Sender(
        bot,
        session_factory,
        rate=settings.send_rate,
        pacer=pacer,
        paid_broadcast=settings.paid_broadcast,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
