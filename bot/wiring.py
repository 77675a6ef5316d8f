"""Builds the long-lived parts every command shares, from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from ingest.config import IngestConfig
from ingest.feedlist import FeedSpec, load_feed_list
from storage import feeds as feed_repo
from storage.db import (
    DatabaseUnavailable,
    check_database_url,
    create_engine,
    create_session_factory,
    explain_database_error,
    upgrade_database,
)

logger = logging.getLogger(__name__)


DATABASE_RETRY_FIRST_SECONDS = 1.0
DATABASE_RETRY_MAX_SECONDS = 60.0


async def migrate(url: str) -> None:
    """Applies migrations; raises DatabaseConfigError or DatabaseUnavailable, one line."""
    check_database_url(url)
    try:
        await upgrade_database(url)
    except (SQLAlchemyError, OSError) as error:
        raise explain_database_error(url, error) from None


@asynccontextmanager
async def open_storage(
    settings: Settings, *, until: asyncio.Event | None = None
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Migrates the database, then yields a session factory; disposes the engine after.

    With `until` (the long-running bot), a database server that does not answer is
    waited for with backoff until it does or `until` is set; one-shot commands fail at once
    with DatabaseUnavailable.
    """
    delay = DATABASE_RETRY_FIRST_SECONDS
    while True:
        try:
            await migrate(settings.database_url)
            break
        except DatabaseUnavailable as error:
            if until is None:
                raise
            logger.warning("%s; retrying in %.0f s", error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), delay)
            if until.is_set():
                raise
            delay = min(delay * 2, DATABASE_RETRY_MAX_SECONDS)
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
