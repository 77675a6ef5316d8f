"""An ingest worker does not load what only the Telegram-facing roles use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import bot.cli
from bot.roles import run_role
from ingest.workers import create_ingest_pool
from bot.leadership import poll_claimed_feeds
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_ingest_role_does_not_import_telegrams_library_or_the_handlers() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert "bot" in loaded and "ingest" in loaded  # the probe imported what it meant to
    assert loaded.isdisjoint({"aiogram", "handlers", "delivery", "matplotlib"}), loaded & {
        "aiogram",
        "handlers",
        "delivery",
        "matplotlib",
    }
