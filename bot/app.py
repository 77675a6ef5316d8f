"""The app factory: the Bot, the Dispatcher with its routers and middlewares, the command menu."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    LinkPreviewOptions,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.heap import freeze_startup_objects
from bot.telegram_session import TelegramSession
from bot.wiring import ingest_config
from core.i18n import LANGUAGES, N_, create_i18n, gettext_for
from core.settings import Settings
from delivery.labels import digest_labels
from delivery.welcome import WelcomeComposer
from handlers import get_routers
from handlers.middlewares import (
    EndTransactionBeforeRequest,
    KeepResponseTypes,
    RideOutFloodControl,
    SharedBucket,
    TokenBucket,
    UpdateStats,
    register_middlewares,
)

logger = logging.getLogger(__name__)

PUBLIC_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Subscribe and choose countries")),
    ("agreements", N_("Agreements with a country")),
    ("news", N_("News about a country: /news Uzbekistan 30")),
    ("trade", N_("Trade with a country")),
    ("export", N_("Agreements and figures of your countries as CSV")),
    ("topic", N_("News on a topic: /topic education")),
    ("search", N_("Search the archive")),
    ("digest", N_("The digest right now")),
    ("stats", N_("Chart: articles per country per week")),
    ("countries", N_("Countries the bot follows")),
    ("settings", N_("Countries, topics, time, delivery modes")),
    ("filter", N_("Keyword filter: /filter +grain -hockey")),
    ("pause", N_("Pause the daily digest")),
    ("resume", N_("Resume the daily digest")),
    ("language", N_("Language: Russian or English")),
    ("stop", N_("Unsubscribe and forget this chat")),
    ("help", N_("How to use the bot")),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("feeds", N_("Feeds and their health")),
    ("addfeed", N_("Add a feed: /addfeed URL")),
    ("delfeed", N_("Remove a feed: /delfeed ID")),
    ("export_opml", N_("Export the feed list as OPML")),
    ("why", N_("Why an article got its tags: /why LINK")),
)
DESCRIPTION = N_(
    "Daily digests of the regional press about cooperation with partner countries: "
    "agreements, trade, visits, education. Press Start to choose countries."
)
SHORT_DESCRIPTION = N_("Regional press on cooperation with partner countries, daily.")


def create_bot(settings: Settings, *, session: BaseSession | None = None) -> Bot:
    """The bot talking to TELEGRAM_API_URL (or through `session`, e.g. a test double)."""
    bot = Bot(
        token=settings.require_token(),
        session=session
        or TelegramSession(
            api=TelegramAPIServer.from_base(
                settings.telegram_api_url, is_local=settings.telegram_api_local
            )
        ),
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview=LinkPreviewOptions(is_disabled=True),
        ),
    )
    bot.session.middleware(KeepResponseTypes())
    bot.session.middleware(EndTransactionBeforeRequest())
    bot.session.middleware(RideOutFloodControl())
    return bot


def create_dispatcher(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tagger: Any = None,
    storage: BaseStorage | None = None,
    message_bucket: TokenBucket | SharedBucket | None = None,
    callback_bucket: TokenBucket | SharedBucket | None = None,
    update_stats: UpdateStats | None = None,
    on_welcome_queued: Callable[[], object] | None = None,
) -> Dispatcher:
    """Routers, middlewares and the objects handlers receive by name (`settings`,
    `ingest_config`, `session_factory`, `tagger`, `i18n`, `welcome`; `session` and
    `state` per update). `on_welcome_queued` is called when welcome messages were queued
    in the outbox (the in-process sender's notify)."""
    i18n = create_i18n()
    welcome = WelcomeComposer(
        session_factory, threshold=settings.tag_threshold, on_queued=on_welcome_queued
    )
    dispatcher = Dispatcher(
        storage=storage or MemoryStorage(),
        settings=settings,
        ingest_config=ingest_config(settings),
        session_factory=session_factory,
        tagger=tagger,
        i18n=i18n,
        welcome=welcome,
    )
    register_middlewares(
        dispatcher,
        session_factory=session_factory,
        i18n=i18n,
        admin_ids=settings.admin_ids,
        message_bucket=message_bucket,
        callback_bucket=callback_bucket,
        update_stats=update_stats,
    )
    dispatcher.include_routers(*get_routers())
    dispatcher.startup.register(_load_lookup_tables)
    dispatcher.startup.register(freeze_startup_objects)

    async def start_welcome() -> None:
        welcome.start()

    dispatcher.startup.register(start_welcome)
    dispatcher.shutdown.register(welcome.close)
    return dispatcher


def _warm_lookup_tables() -> None:
    from tagging import lemmatize_for_search, resolve_country, resolve_topic

    resolve_country("Узбекистан")
    resolve_topic("соглашения")
    lemmatize_for_search("соглашения")
    for language in LANGUAGES:
        digest_labels(language)


async def _load_lookup_tables() -> None:
    """Name tables, the lemmatizer and catalogs load on first use: load them in a thread
    at startup, so that the first command does not stall the event loop."""
    await asyncio.to_thread(_warm_lookup_tables)


def _commands(language: str, items: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    translate = gettext_for(language)
    return [BotCommand(command=name, description=translate(text)) for name, text in items]


async def _call_logged(description: str, call: Awaitable[object]) -> bool:
    # Any failure: nothing here may stop the bot from starting.
    try:
        await call
    except Exception as error:
        logger.warning("could not %s: %s", description, error)
        return False
    return True


async def setup_bot_commands(bot: Bot, *, admin_ids: Collection[int] = ()) -> None:
    """Command menus and descriptions in Russian (also the default) and English.

    Nothing here is essential: a failure is logged and the bot runs on.
    """
    for language in LANGUAGES:
        translate = gettext_for(language)
        code = None if language == "ru" else language
        scope = BotCommandScopeDefault()
        await _call_logged(
            f"set the {language} command menu",
            bot.set_my_commands(_commands(language, PUBLIC_COMMANDS), scope, code),
        )
        if language == "ru":
            await _call_logged(
                "set the ru command menu",
                bot.set_my_commands(_commands(language, PUBLIC_COMMANDS), scope, "ru"),
            )
        await _call_logged(
            f"set the {language} description",
            bot.set_my_description(translate(DESCRIPTION), language_code=code),
        )
        await _call_logged(
            f"set the {language} short description",
            bot.set_my_short_description(translate(SHORT_DESCRIPTION), language_code=code),
        )
    admin_menu = _commands("ru", PUBLIC_COMMANDS + ADMIN_COMMANDS)
    for admin_id in admin_ids:
        await _call_logged(
            f"set the admin command menu for {admin_id}",
            bot.set_my_commands(admin_menu, BotCommandScopeChat(chat_id=admin_id)),
        )
