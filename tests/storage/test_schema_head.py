"""A database already at the newest migration starts without Alembic; any other is migrated."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage.db import SCHEMA_HEAD, current_revision, head_revision, upgrade_database
from tests.support.commands import command_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from bot.cli import main
code = main(["feeds", "list"])
print(json.dumps({"code": code, "alembic": "alembic" in sys.modules}))
"""


def test_schema_head_names_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD, (
        "a migration was added: set storage.db.SCHEMA_HEAD to its revision"
    )


def feeds_list(database: Path) -> dict[str, object]:
    env = command_environment(database, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=database.parent,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    outcome: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


async def test_a_command_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    await upgrade_database(f"sqlite+aiosqlite:///{database}")

    assert feeds_list(database) == {"code": 0, "alembic": False}


async def test_a_database_one_migration_behind_is_migrated(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_database(url, "0007")
    assert await current_revision(url) == "0007"

    assert feeds_list(database) == {"code": 0, "alembic": True}
    assert await current_revision(url) == SCHEMA_HEAD


async def test_a_file_without_the_version_table_is_left_to_alembic(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    sqlite3.connect(database).close()  # an empty file, as `touch` would leave

    await upgrade_database(f"sqlite+aiosqlite:///{database}")

    assert await current_revision(f"sqlite+aiosqlite:///{database}") == SCHEMA_HEAD
