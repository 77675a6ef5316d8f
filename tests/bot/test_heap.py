"""The dispatcher's start-up freezes what is loaded by then (in a process of its own, so
that the test process's collector is left alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, gc
from bot.app import create_dispatcher
from core.settings import Settings
from storage.db import create_engine, create_session_factory

async def main() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", _env_file=None)
    engine = create_engine(settings.database_url)
    dispatcher = create_dispatcher(
        settings=settings, session_factory=create_session_factory(engine)
    )
    print(gc.get_freeze_count())
    await dispatcher.emit_startup()
    print(gc.get_freeze_count())
    await engine.dispose()

asyncio.run(main())
"""


def test_start_up_freezes_the_objects_loaded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after = (int(line) for line in done.stdout.split())
    assert before == 0
    # The lookup tables (names, the lemmatizer, catalogs) are loaded by then: far more
    # than the interpreter's own objects.
    assert after > 100_000
