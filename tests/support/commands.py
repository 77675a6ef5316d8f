"""The environment of a `digestbot` command started by a test in a child process."""

from __future__ import annotations

import os
from pathlib import Path

TEST_BOT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
# Settings of the developer's shell that would point the command elsewhere.
_NOT_INHERITED = {"DATABASE_URL", "FEEDS_FILE", "REDIS_URL", "METRICS_PORT"}


def command_environment(database: Path, **extra: str) -> dict[str, str]:
    """This process's environment, with a test token and an SQLite file at `database`;
    `extra` is applied last (it may name another DATABASE_URL)."""
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(BOT_TOKEN=TEST_BOT_TOKEN, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    env.update(extra)
    return env
