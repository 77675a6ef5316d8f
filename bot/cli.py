"""The `digestbot` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from bot.errors import CommandError, RuntimeFailure
from core.settings import Settings, SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digestbot",
        description="Regional cooperation news digests in Telegram.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot: polling or webhook, scheduler, feed poller")
    run.add_argument(
        "--role",
        choices=("all", "bot", "ingest", "sender", "clock"),
        default="all",
        help="run one part only (several processes on one PostgreSQL database); default all",
    )

    demo = commands.add_parser("demo", help="offline demo on the bundled sample feeds")
    demo.add_argument("--keep", type=Path, help="keep the demo database at this path")

    ingest = commands.add_parser("ingest", help="poll feeds")
    ingest.add_argument("--once", action="store_true", required=True, help="poll every feed once")

    tag = commands.add_parser("tag", help="tag JSON Lines {id,title,text} from stdin")
    tag.add_argument("--explain", action="store_true", help="add the evidence of each decision")

    feeds = commands.add_parser("feeds", help="feed management")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    feed_commands.add_parser("list", help="list feeds with their health")
    add = feed_commands.add_parser("add", help="add a feed")
    add.add_argument("url")
    remove = feed_commands.add_parser("remove", help="remove a feed")
    remove.add_argument("feed_id", type=int)
    import_ = feed_commands.add_parser("import", help="import feeds from an OPML or text file")
    import_.add_argument("file", type=Path)
    feed_commands.add_parser("export", help="print the feed list as OPML")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations")
    backup = db_commands.add_parser("backup", help="an online copy of the SQLite store")
    backup.add_argument("path", type=Path, help="the new file to write (must not exist)")
    restore = db_commands.add_parser(
        "restore", help="put a backup in place of the SQLite store (the bot stopped)"
    )
    restore.add_argument("path", type=Path, help="a copy made by db backup")

    digest = commands.add_parser("digest", help="digest operations")
    mode = digest.add_mutually_exclusive_group(required=True)
    mode.add_argument("--preview", type=int, metavar="CHAT_ID", help="print a chat's next digest")
    mode.add_argument("--send-due", action="store_true", help="compose and send what is due now")
    return parser


def entry() -> NoReturn:
    """The `digestbot` command (and `python -m bot`)."""
    code = main()
    # What the command leaves alive goes with the process. Frozen, it is skipped by the
    # collections the interpreter runs on its way out, which walk every object of every
    # loaded module: 0.2–0.3 s of each command on a two-core machine.
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return _dispatch(args, settings)
    except (SettingsError, CommandError) as error:
        print(f"digestbot: {error}", file=sys.stderr)
        return 2
    except RuntimeFailure as error:
        print(f"digestbot: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        # Failures of the environment the command ran in, each one line; anything else is
        # a bug and keeps its traceback.
        from storage.db import DatabaseConfigError, DatabaseUnavailable

        if isinstance(error, DatabaseConfigError):
            print(f"digestbot: {error}", file=sys.stderr)
            return 2
        if isinstance(error, DatabaseUnavailable):
            print(f"digestbot: {error}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from core.logs import configure_logging

    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    configure_logging(settings.log_level, secrets=(token,))
    command: str = args.command
    if command == "run" or (command == "digest" and args.send_due):
        # Before any heavy import: a missing token is known at once.
        settings.require_token()
    if command == "tag":
        from tagging import run_tag_command

        threshold = settings.tag_threshold
        return run_tag_command(
            sys.stdin, sys.stdout, sys.stderr, threshold=threshold, explain=args.explain
        )
    if command == "run":
        from bot.heap import loading_modules

        if args.role != "all":
            # Not bot.runner: it loads Telegram's library and the handlers (about 120 MB of
            # an ingest worker's memory), which only the bot and sender roles import.
            with loading_modules():
                from bot.roles import run_role

            return asyncio.run(run_role(settings, args.role))
        with loading_modules():
            from bot.runner import run_bot
        from storage.guard import StoreLockError

        try:
            return asyncio.run(run_bot(settings))
        except StoreLockError as error:
            # Not a configuration error: the same settings work once the other run stops.
            print(f"digestbot: {error}", file=sys.stderr)
            return 1
    if command == "demo":
        from bot.demo_runner import run_demo

        return asyncio.run(run_demo(settings, keep=args.keep))
    from bot import operations

    if command == "ingest":
        return asyncio.run(operations.ingest_once(settings))
    if command == "db":
        if args.db_command == "backup":
            return operations.db_backup(settings, args.path)
        if args.db_command == "restore":
            return operations.db_restore(settings, args.path)
        return asyncio.run(operations.db_upgrade(settings))
    if command == "feeds":
        return asyncio.run(operations.manage_feeds(settings, args))
    if command == "digest":
        if args.preview is not None:
            return asyncio.run(operations.preview_digest(settings, args.preview))
        return asyncio.run(operations.send_due_digests(settings))
    raise CommandError(f"unknown command {command!r}")
