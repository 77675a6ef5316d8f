"""Copies of a SQLite store: an online backup, and a restore that keeps what it replaces.

Both go through SQLite (its backup API) rather than copying files: a copy made that way is
consistent while the bot writes, and it includes what the `-wal` file holds. A restore
removes the old store's `-wal` and `-shm` before it moves the restored file into place:
SQLite would replay the old journal onto the new file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from storage.db import known_revisions
from storage.guard import RunLock, StoreLockError


class BackupRefused(Exception):
    """The command was given something it must not use (exit 2); the message is one line."""


class BackupFailed(Exception):
    """The copy or the restore could not be made (exit 1); the message is one line."""


@dataclass(frozen=True, slots=True)
class Restored:
    revision: str
    # The store the restore replaced, kept beside it; None when there was none.
    kept: Path | None
    # The kept copy could not be read through SQLite, so its files were copied as they were.
    kept_raw: bool
    # Copies kept by earlier restores, still beside the store (the operator deletes them),
    # and their size in bytes, journals included.
    earlier: tuple[Path, ...] = ()
    earlier_bytes: int = 0


def copy_database(source: Path, target: Path, *, finished: bool = False) -> int:
    """A consistent, integrity-checked copy of `source` at `target` (which must not exist);
    the copy appears at `target` only once it is complete. Returns its number of pages.
    `finished`: `source` is itself a copy that nothing writes to (see `_read_only`)."""
    partial = target.with_name(target.name + ".partial")
    try:
        reader = sqlite3.connect(_read_only(source, finished=finished), uri=True)
        try:
            writer = sqlite3.connect(partial)
            try:
                reader.backup(writer, pages=1024)
                # One self-contained file: the copy of a WAL store would otherwise be marked
                # WAL too, and a reader of it would leave -wal and -shm files beside it.
                writer.execute("PRAGMA journal_mode=DELETE")
                (pages,) = writer.execute("PRAGMA page_count").fetchone()
                (check,) = writer.execute("PRAGMA quick_check").fetchone()
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"cannot copy {source}: {error}") from None
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"the copy of {source} failed its integrity check: {check}")
    partial.rename(target)
    return int(pages)


def _read_only(database: Path, *, finished: bool) -> str:
    """A URI that opens `database` for reading. A finished copy with no `-wal` beside it
    is complete and does not change, and is opened as immutable, so that reading it writes
    nothing beside it (a store in use is not: another process may start writing to it)."""
    immutable = finished and not database.with_name(database.name + "-wal").exists()
    return f"file:{quote(str(database.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")


def backup_revision(backup: Path) -> str:
    """The schema revision of a backup this code can restore; BackupRefused for anything
    else, naming what is wrong with it."""
    if not backup.is_file():
        raise BackupRefused(f"no such file: {backup}")
    try:
        connection = sqlite3.connect(_read_only(backup, finished=True), uri=True)
    except sqlite3.Error as error:
        raise BackupRefused(f"cannot open {backup}: {error}") from None
    try:
        (check,) = connection.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise BackupRefused(f"{backup} failed its integrity check: {check}")
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        revisions = [row[0] for row in rows]
    except sqlite3.DatabaseError as error:
        # "file is not a database", "no such table: alembic_version", a damaged file.
        raise BackupRefused(f"{backup} is not a digestbot database ({error})") from None
    finally:
        connection.close()
    if len(revisions) != 1:
        raise BackupRefused(f"{backup} is not a digestbot database (no schema revision)")
    (revision,) = revisions
    if revision not in known_revisions():
        raise BackupRefused(
            f"{backup} has schema {revision}, which this version does not know; "
            "restore it with the digestbot version that made it"
        )
    return str(revision)


def restore_database(backup: Path, target: Path, *, now: datetime | None = None) -> Restored:
    """Puts the store in `backup` at `target`, keeping the store it replaces as
    `<target>.before-restore-<UTC time>`. Refused while `digestbot run` holds the store."""
    if target.exists() and target.resolve() == backup.resolve():
        raise BackupRefused(f"{backup} is the database itself; give a copy made by db backup")
    if not target.parent.is_dir():
        raise BackupRefused(f"no such directory: {target.parent}")
    revision = backup_revision(backup)
    try:
        lock = RunLock.acquire(target)
    except StoreLockError as error:
        raise BackupFailed(str(error)) from None
    with lock:
        incoming = target.with_name(target.name + ".restoring")
        incoming.unlink(missing_ok=True)
        try:
            copy_database(backup, incoming, finished=True)
            kept, kept_raw = None, False
            if target.exists():
                _take_owner_and_mode(incoming, target)
                kept = _free_name(target, now or datetime.now(UTC))
                kept_raw = _keep(target, kept)
            # The old store's journal belongs to the old file: left beside the new one, SQLite
            # would replay it onto the restored copy.
            for journal in _journals(target):
                journal.unlink(missing_ok=True)
            os.replace(incoming, target)
            _sync_directory(target.parent)
        finally:
            incoming.unlink(missing_ok=True)
    earlier = tuple(path for path in _kept_copies(target) if path != kept)
    earlier_bytes = sum(
        path.stat().st_size
        for copy in earlier
        for path in (copy, *_journals(copy))
        if path.exists()
    )
    return Restored(
        revision=revision,
        kept=kept,
        kept_raw=kept_raw,
        earlier=earlier,
        earlier_bytes=earlier_bytes,
    )


def _kept_copies(store: Path) -> list[Path]:
    """The `.before-restore-*` copies of `store` beside it, oldest first (journals aside)."""
    pattern = re.compile(re.escape(store.name) + r"\.before-restore-\d{8}-\d{6}(-\d+)?")
    return sorted(
        path for path in store.parent.iterdir() if pattern.fullmatch(path.name) is not None
    )


def _journals(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _keep(store: Path, kept: Path) -> bool:
    """Keeps the store being replaced; True when it had to be copied file by file."""
    try:
        copy_database(store, kept)
        return False
    except BackupFailed:
        # A damaged store (the usual reason for a restore) is kept as it is, journal and all,
        # so that nothing is lost that a repair tool could still read.
        shutil.copy2(store, kept)
        for journal, copied in zip(_journals(store), _journals(kept), strict=True):
            if journal.exists():
                shutil.copy2(journal, copied)
        return True


def _free_name(store: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    candidate = store.with_name(f"{store.name}.before-restore-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = store.with_name(f"{store.name}.before-restore-{stamp}-{number}")
    return candidate


def _take_owner_and_mode(new: Path, old: Path) -> None:
    """The restored file keeps the replaced store's mode and, where permitted, its owner: a
    restore run as root must not leave the bot's user a file it cannot write."""
    status = old.stat()
    os.chmod(new, status.st_mode & 0o7777)
    with contextlib.suppress(PermissionError):
        os.chown(new, status.st_uid, status.st_gid)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
