"""An ingest worker does not load what only the Telegram-facing roles use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.commands import command_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TELEGRAM_FACING = frozenset({"aiogram", "handlers", "delivery", "matplotlib"})

PROBE = """
import json, sys
import bot.cli
from bot.roles import run_role
from ingest.workers import create_ingest_pool
from bot.leadership import poll_claimed_feeds
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

# `digestbot run --role ingest` as started, through the command line's dispatch up to the
# role's own check: on SQLite every role but `all` stops there with exit code 2.
COMMAND_LINE_PROBE = """
import json, sys
from bot.cli import main
code = main(["run", "--role", "ingest"])
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def _run_probe(probe: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout


def test_the_ingest_role_does_not_import_telegrams_library_or_the_handlers() -> None:
    loaded = set(json.loads(_run_probe(PROBE)))
    assert "bot" in loaded and "ingest" in loaded  # the probe imported what it meant to
    assert loaded.isdisjoint(TELEGRAM_FACING), loaded & TELEGRAM_FACING


def test_the_command_line_starting_the_ingest_role_does_not_import_them_either(
    tmp_path: Path,
) -> None:
    env = command_environment(tmp_path / "store.db")
    answer = json.loads(_run_probe(COMMAND_LINE_PROBE, env))
    loaded = set(answer["modules"])
    # The dispatch reached the role: it refused SQLite, after everything before it ran.
    assert answer["code"] == 2
    assert "bot" in loaded and "core" in loaded
    assert loaded.isdisjoint(TELEGRAM_FACING), loaded & TELEGRAM_FACING
