"""Builds the long-lived parts every command shares, from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from ingest.config import IngestConfig
from ingest.feedlist import FeedSpec, load_feed_list
from storage import feeds as feed_repo
from storage.db import create_engine, create_session_factory, upgrade_database

logger = logging.getLogger(__name__)


@asynccontextmanager
async def open_storage(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Migrates the database, then yields a session factory; disposes the engine after."""
    await upgrade_database(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def ingest_config(settings: Settings) -> IngestConfig:
    return IngestConfig(
        concurrency=settings.feed_concurrency,
        per_host=settings.feed_per_host_concurrency,
        timeout=settings.feed_timeout_seconds,
        poll_interval=timedelta(minutes=settings.poll_interval_minutes),
        allow_private_addresses=settings.feeds_allow_private,
    )


def default_feed_list() -> list[FeedSpec]:
    with resources.as_file(resources.files("ingest") / "default_feeds.txt") as path:
        return load_feed_list(Path(path))


async def add_configured_feeds(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Adds the FEEDS_FILE feeds; with no FEEDS_FILE and no feeds yet, the default Omsk list."""
    async with session_factory() as session:
        if settings.feeds_file is not None:
            specs = load_feed_list(settings.feeds_file)
        elif not await feed_repo.list_feeds(session):
            specs = default_feed_list()
        else:
            return 0
        added = 0
        for spec in specs:
            _, created = await feed_repo.add_feed(session, spec.url, title=spec.title)
            added += created
        await session.commit()
    if added:
        logger.info("added %d feeds from the feed list", added)
    return added
