"""The processes of this machine as tests see them (Linux /proc)."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path


def live_processes() -> dict[int, tuple[int, str]]:
    """Every live process: its parent's pid and its command line. A zombie has ended (its
    reaper is not ours to wait for) and is left out."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            found[int(entry.name)] = (int(fields[1]), command)
    return found


def all_ended(pids: Collection[int], limit: float) -> bool:
    """Waits up to `limit` seconds for every process of `pids` to end; whether they did."""
    deadline = time.monotonic() + limit
    while pids & live_processes().keys():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
