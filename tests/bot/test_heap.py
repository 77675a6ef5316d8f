"""What is loaded for the life of a process is kept out of the collector's way: imports run
with the collector off and are frozen after, and the dispatcher's start-up freezes what is
loaded by then. Each test runs in a process of its own, so that the test process's
collector is left alone."""

from __future__ import annotations

from pathlib import Path

from tests.support.commands import python_output

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
LOADING = """
import gc
from bot.heap import loading_modules

with loading_modules():
    inside = gc.isenabled()
    made = [[index] for index in range(1000)]
print(inside, gc.isenabled(), gc.get_freeze_count() >= len(made))

try:
    with loading_modules():
        import a_module_that_does_not_exist
except ImportError:
    print(gc.isenabled())

gc.disable()
with loading_modules():
    pass
print(gc.isenabled())
"""


def test_start_up_freezes_the_objects_loaded(tmp_path: Path) -> None:
    before, after = (int(value) for value in python_output(SCRIPT, tmp_path))
    assert before == 0
    # The lookup tables (names, the lemmatizer, catalogs) are loaded by then: far more
    # than the interpreter's own objects.
    assert after > 100_000


def test_imports_run_without_the_collector_and_are_frozen(tmp_path: Path) -> None:
    lines = python_output(LOADING, tmp_path)
    # Off inside, on again after, and what was made is frozen.
    assert lines[:3] == ["False", "True", "True"]
    # A failed import turns it back on too.
    assert lines[3] == "True"
    # A collector that was off stays off.
    assert lines[4] == "False"
