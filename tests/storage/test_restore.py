"""`digestbot db restore` as an operator runs it after a bad day: real processes on real
SQLite files, one of them left with a journal of committed writes by a process that died."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from storage.guard import RunLock
from tests.support.commands import Run, cli_runner, one_line_error


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "digest.db"


@pytest.fixture
def digestbot(tmp_path: Path, store: Path) -> Run:
    return cli_runner(store, tmp_path)


def feed_urls(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM feeds ORDER BY url")]


def die_after_committing(database: Path, url: str) -> None:
    """A process that commits a feed and dies before SQLite folds its journal into the
    file, as a killed bot does: the committed row lives only in `<database>-wal`."""
    script = (
        "import os, sqlite3, sys\n"
        "connection = sqlite3.connect(sys.argv[1])\n"
        "connection.execute('PRAGMA journal_mode=WAL')\n"
        "connection.execute('PRAGMA wal_autocheckpoint=0')\n"
        "connection.execute('INSERT INTO feeds (url, title, active, fetch_full_text, "
        "consecutive_failures, total_items, created_at) "
        "VALUES (?, NULL, 1, 1, 0, 0, CURRENT_TIMESTAMP)', (sys.argv[2],))\n"
        "connection.commit()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database), url], check=True, timeout=60)


@pytest.fixture
def backed_up(digestbot: Run, tmp_path: Path) -> Path:
    """A store with one feed, backed up, and a second feed added after the backup."""
    assert digestbot("feeds", "add", "https://first.example/rss").returncode == 0
    backup = tmp_path / "backup.db"
    result = digestbot("db", "backup", str(backup))
    assert result.returncode == 0, result.stderr
    assert digestbot("feeds", "add", "https://second.example/rss").returncode == 0
    return backup


def test_restore_puts_the_backup_in_place_and_keeps_the_store_it_replaced(
    digestbot: Run, store: Path, backed_up: Path, tmp_path: Path
) -> None:
    die_after_committing(store, "https://third.example/rss")
    wal = store.with_name(store.name + "-wal")
    assert wal.stat().st_size > 0
    store.chmod(0o640)

    result = digestbot("db", "restore", str(backed_up))

    assert result.returncode == 0, result.stderr
    assert f"restored {store} from {backed_up} (schema " in result.stdout
    # The old journal is gone: replayed onto the restored file, it would damage it.
    assert not wal.exists()
    assert feed_urls(store) == ["https://first.example/rss"]
    with sqlite3.connect(store) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert stat.S_IMODE(store.stat().st_mode) == 0o640
    (kept,) = tmp_path.glob("digest.db.before-restore-*")
    assert f"the store it replaced is kept at {kept}\n" in result.stdout
    # Everything the old store had, the row only its journal held included.
    assert feed_urls(kept) == [
        "https://first.example/rss",
        "https://second.example/rss",
        "https://third.example/rss",
    ]
    assert not list(tmp_path.glob("*.restoring")) + list(tmp_path.glob("*.partial"))
    # The backup is one file, and reading it left nothing beside it.
    assert not list(tmp_path.glob("backup.db-*"))
    with sqlite3.connect(backed_up) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    listed = digestbot("feeds", "list")
    assert listed.returncode == 0, listed.stderr
    assert "first.example" in listed.stdout
    assert "second.example" not in listed.stdout


def test_a_restore_names_the_copies_earlier_restores_left(
    digestbot: Run, store: Path, backed_up: Path, tmp_path: Path
) -> None:
    first = digestbot("db", "restore", str(backed_up))
    assert first.returncode == 0, first.stderr
    assert "earlier restores" not in first.stdout
    (kept,) = tmp_path.glob("digest.db.before-restore-*")

    second = digestbot("db", "restore", str(backed_up))

    assert second.returncode == 0, second.stderr
    assert len(list(tmp_path.glob("digest.db.before-restore-*"))) == 2
    size = kept.stat().st_size / 1_000_000
    assert (
        f"copies from earlier restores beside it: 1 ({size:.1f} MB), the oldest "
        f"{kept.name}; delete those no longer needed\n"
    ) in second.stdout


def test_restore_is_refused_while_the_bot_runs(
    digestbot: Run, store: Path, backed_up: Path, tmp_path: Path
) -> None:
    with RunLock.acquire(store):
        result = digestbot("db", "restore", str(backed_up))
    assert result.returncode == 1
    assert one_line_error(result).endswith("stop it first")
    assert feed_urls(store) == ["https://first.example/rss", "https://second.example/rss"]
    assert not list(tmp_path.glob("digest.db.*restor*"))


def _text_file(path: Path) -> None:
    path.write_text("feeds:\n  - https://first.example/rss\n", "utf-8")


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")


def _newer_schema(path: Path, backup: Path) -> None:
    path.write_bytes(backup.read_bytes())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0999'")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (None, "no such file"),
        ("text", "is not a digestbot database (file is not a database)"),
        ("foreign", "is not a digestbot database (no such table: alembic_version)"),
        ("newer", "has schema 0999, which this version does not know"),
        ("store", "is the database itself"),
    ],
)
def test_restore_refuses_what_is_not_a_backup_of_this_store(
    digestbot: Run, store: Path, backed_up: Path, tmp_path: Path, make: str | None, reason: str
) -> None:
    candidate = tmp_path / "candidate.db"
    if make == "text":
        _text_file(candidate)
    elif make == "foreign":
        _foreign_database(candidate)
    elif make == "newer":
        _newer_schema(candidate, backed_up)
    elif make == "store":
        candidate = store
    before = store.read_bytes()

    result = digestbot("db", "restore", str(candidate))

    assert result.returncode == 2
    assert reason in one_line_error(result)
    assert store.read_bytes() == before
    assert not list(tmp_path.glob("digest.db.*restor*"))


def test_restore_over_a_damaged_store_keeps_its_files_as_they_were(
    digestbot: Run, store: Path, backed_up: Path, tmp_path: Path
) -> None:
    damaged = b"\0not a database any more\0" * 200
    store.write_bytes(damaged)

    result = digestbot("db", "restore", str(backed_up))

    assert result.returncode == 0, result.stderr
    assert "unreadable as a database: its files copied as they were" in result.stdout
    (kept,) = tmp_path.glob("digest.db.before-restore-*")
    assert kept.read_bytes() == damaged
    assert feed_urls(store) == ["https://first.example/rss"]


def test_restore_onto_a_new_machine_creates_the_store(
    digestbot: Run, backed_up: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh" / "digest.db"
    fresh.parent.mkdir()
    result = digestbot("db", "restore", str(backed_up), DATABASE_URL=f"sqlite+aiosqlite:///{fresh}")
    assert result.returncode == 0, result.stderr
    assert "kept at" not in result.stdout
    assert feed_urls(fresh) == ["https://first.example/rss"]

    nowhere = tmp_path / "missing" / "digest.db"
    refused = digestbot(
        "db", "restore", str(backed_up), DATABASE_URL=f"sqlite+aiosqlite:///{nowhere}"
    )
    assert refused.returncode == 2
    assert one_line_error(refused) == f"digestbot: no such directory: {nowhere.parent}"


def test_restore_on_postgresql_points_to_pg_restore(digestbot: Run, backed_up: Path) -> None:
    result = digestbot("db", "restore", str(backed_up), DATABASE_URL="postgresql+asyncpg://u@h/db")
    assert result.returncode == 2
    assert "use pg_restore" in one_line_error(result)
