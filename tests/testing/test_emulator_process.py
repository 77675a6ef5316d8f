"""The emulator run as a process of its own (`python -m testing.telegram`) never stalls
every client at once for a full collection of the messages it keeps. Checked in a child
process, so that the test process's collector is left alone."""

from __future__ import annotations

from pathlib import Path

from tests.support.commands import python_output

# Keeps what it makes, as the emulator keeps every message, and counts the collections
# of each generation.
SCRIPT = """
import gc, sys
from testing.telegram.server import keep_full_collections_off

if sys.argv[1] == "emulator":
    keep_full_collections_off()
collections = [0, 0, 0]
gc.callbacks.append(
    lambda phase, info: phase == "start" and collections.__setitem__(
        info["generation"], collections[info["generation"]] + 1
    )
)
kept = [{"message_id": index, "text": [index]} for index in range(300_000)]
print(*collections)
"""


def _collections(mode: str, workdir: Path) -> list[int]:
    return [int(count) for count in python_output(SCRIPT, workdir, mode)]


def test_the_emulator_process_makes_no_full_collections(tmp_path: Path) -> None:
    young, middle, full = _collections("emulator", tmp_path)
    assert full == 0
    # Young objects are still collected.
    assert young > 100 and middle > 10
    # The same growing heap in a process with the collector's defaults: full collections.
    assert _collections("defaults", tmp_path)[2] > 0


def test_the_emulator_process_starts_without_aiogram(tmp_path: Path) -> None:
    # aiogram's models cost seconds of CPU to import; only the in-process session and
    # the conversations need them.
    script = "import sys, testing.telegram.server; print('aiogram' in sys.modules)"
    assert python_output(script, tmp_path) == ["False"]


def test_every_name_the_package_exports_resolves() -> None:
    import testing.telegram as package

    for name in package.__all__:
        assert getattr(package, name) is not None, name
