"""The one-shot CLI commands: ingest, feeds, db, digest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import CommandError, RuntimeFailure
from bot.wiring import add_configured_feeds, ingest_config, open_storage
from core.settings import Settings
from ingest.feedlist import FeedAddressError, export_opml, feed_address, load_feed_list, shown_url
from ingest.report import FeedOutcome, format_outcomes_table
from storage import feeds as feed_repo
from storage.db import (
    SCHEMA_HEAD,
    new_database_path,
    require_existing_database,
    sqlite_file_path,
)

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)


def _only_reads(settings: Settings) -> None:
    require_existing_database(settings.database_url)


def _may_create(settings: Settings) -> None:
    created = new_database_path(settings.database_url)
    if created is not None:
        logger.warning("creating a new database at %s", created)


class _Progress:
    """One overwritten status line on a terminal; silent when output is redirected."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty()

    def __call__(self, outcome: FeedOutcome) -> None:
        self.done += 1
        if self.enabled:
            label = outcome.url if len(outcome.url) <= 60 else outcome.url[:57] + "..."
            print(f"\r[{self.done}/{self.total}] {label:<60}", end="", file=sys.stderr)

    def close(self) -> None:
        if self.enabled and self.done:
            print("\r" + " " * 80 + "\r", end="", file=sys.stderr)


async def ingest_once(settings: Settings) -> int:
    _may_create(settings)
    async with open_storage(settings) as session_factory:
        await add_configured_feeds(session_factory, settings)
        async with session_factory() as session:
            total = len(await feed_repo.list_feeds(session, active_only=True))
        outcomes: list[FeedOutcome] = []
        if total:
            # Imported and loaded only when there is a feed to poll: the pipeline brings
            # aiohttp and the page extractor, the tagger's dictionaries take a second.
            from ingest.pipeline import IngestPipeline
            from tagging import Tagger

            tagger = await asyncio.to_thread(Tagger, settings.tag_threshold)
            pipeline = IngestPipeline(session_factory, tagger, ingest_config(settings))
            progress = _Progress(total)
            try:
                outcomes = await pipeline.run_once(due_only=False, on_progress=progress)
            finally:
                progress.close()
    print(format_outcomes_table(outcomes))
    if outcomes and all(outcome.status == "failed" for outcome in outcomes):
        raise RuntimeFailure(f"every feed failed ({len(outcomes)} of {len(outcomes)})")
    return 0


async def db_upgrade(settings: Settings) -> int:
    """Migrations, then the facts of stored articles that have none yet (or facts of an
    older extractor), in batches."""
    # The fact extractor loads only for the command that needs it (CLI start-up time).
    from ingest.facts_backfill import backfill

    _may_create(settings)
    async with open_storage(settings) as session_factory:
        result = await backfill(session_factory)
    print("database is up to date")
    print(f"facts extracted for {result.articles} stored articles ({result.facts} facts)")
    return 0


def db_backup(settings: Settings, target: Path) -> int:
    """SQLite's online backup: a consistent copy while the bot keeps running."""
    from storage.backup import BackupFailed, copy_database

    source = sqlite_file_path(settings.database_url)
    if source is None:
        raise CommandError(
            "db backup copies a SQLite file; for PostgreSQL use pg_dump "
            "(pg_dump --format=custom DBNAME > digest.dump; restore with pg_restore)"
        )
    if not source.is_file():
        raise RuntimeFailure(f"no database at {source}")
    if target.exists() or target.is_symlink():
        raise CommandError(f"{target} already exists; give a new path")
    if not target.parent.is_dir():
        raise CommandError(f"no such directory: {target.parent}")
    try:
        pages = copy_database(source, target)
    except BackupFailed as error:
        raise RuntimeFailure(str(error)) from None
    print(f"backed up {source} to {target} ({pages} pages)")
    return 0


def db_restore(settings: Settings, backup: Path) -> int:
    """A `db backup` copy in place of the SQLite store, with the bot stopped; the store it
    replaces is kept beside it."""
    from storage.backup import BackupFailed, BackupRefused, restore_database

    target = sqlite_file_path(settings.database_url)
    if target is None:
        raise CommandError(
            "db restore writes a SQLite file; for PostgreSQL use pg_restore "
            "(pg_restore --clean --if-exists --no-owner --dbname=DBNAME digest.dump)"
        )
    try:
        restored = restore_database(backup, target)
    except BackupRefused as error:
        raise CommandError(str(error)) from None
    except BackupFailed as error:
        raise RuntimeFailure(str(error)) from None
    print(f"restored {target} from {backup} (schema {restored.revision})")
    if restored.kept is not None:
        how = " (unreadable as a database: its files copied as they were)"
        print(f"the store it replaced is kept at {restored.kept}{how if restored.kept_raw else ''}")
    if restored.earlier:
        print(
            f"copies from earlier restores beside it: {len(restored.earlier)} "
            f"({restored.earlier_bytes / 1_000_000:.1f} MB), the oldest "
            f"{restored.earlier[0].name}; delete those no longer needed"
        )
    if restored.revision != SCHEMA_HEAD:
        print("it is migrated to the current schema when the bot or any command next opens it")
    return 0


def _format_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


async def manage_feeds(settings: Settings, args: argparse.Namespace) -> int:
    action: str = args.feeds_command
    address = ""
    if action == "add":
        try:
            address = feed_address(args.url)
        except FeedAddressError as refused:
            raise CommandError(f"{shown_url(args.url)!r}: {refused}") from None
    if action == "import" and not await asyncio.to_thread(args.file.is_file):
        raise CommandError(f"no such file: {args.file}")
    if action in ("add", "import"):
        _may_create(settings)
    else:
        _only_reads(settings)
    async with open_storage(settings) as session_factory, session_factory() as session:
        if action == "list":
            feeds = await feed_repo.list_feeds(session)
            if not feeds:
                print("no feeds")
            for feed in feeds:
                state = "active" if feed.active else "inactive"
                error = f"  last error: {feed.last_error}" if feed.last_error else ""
                print(
                    f"{feed.id:>4}  {state:<8}  items {feed.total_items:>5}  "
                    f"ok {_format_time(feed.last_success_at)}  {feed.url}{error}"
                )
            return 0
        if action == "add":
            feed, created = await feed_repo.add_feed(session, address)
            await session.commit()
            print(f"{'added' if created else 'already present'}: {feed.id} {feed.url}")
            return 0
        if action == "remove":
            if not await feed_repo.remove_feed(session, args.feed_id):
                raise CommandError(f"no feed with id {args.feed_id}")
            await session.commit()
            print(f"removed feed {args.feed_id}")
            return 0
        if action == "import":
            path: Path = args.file
            try:
                specs = load_feed_list(path)
            except ValueError as error:
                raise CommandError(str(error)) from None
            added = 0
            for spec in specs:
                _, created = await feed_repo.add_feed(session, spec.url, title=spec.title)
                added += created
            await session.commit()
            print(f"imported {added} new feeds ({len(specs) - added} already present)")
            return 0
        if action == "export":
            print(export_opml(await feed_repo.list_feeds(session)))
            return 0
    raise CommandError(f"unknown feeds action {action!r}")


async def preview_digest(settings: Settings, chat_id: int) -> int:
    from delivery.labels import digest_labels
    from delivery.on_demand import preview_digest as build_preview

    _only_reads(settings)
    async with open_storage(settings) as session_factory:
        text = await build_preview(
            session_factory, chat_id, datetime.now(UTC), digest_labels, settings.tag_threshold
        )
    if text is None:
        raise RuntimeFailure(f"no such chat: {chat_id}")
    print(text)
    return 0


async def send_due_digests(settings: Settings) -> int:
    from delivery.daily import send_due_now
    from delivery.labels import digest_labels

    def open_bot() -> Bot:
        from bot.app import create_bot

        return create_bot(settings)

    _only_reads(settings)
    async with open_storage(settings) as session_factory:
        report = await send_due_now(open_bot, session_factory, settings, digest_labels)
    print(report)
    return 0
