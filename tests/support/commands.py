"""The environment of a `digestbot` command started by a test in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
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


Run = Callable[..., subprocess.CompletedProcess[str]]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cli_runner(database: Path, workdir: Path) -> Run:
    """`digestbot ARGUMENTS` in a child process, as cron runs it: only PATH, HOME,
    PYTHONPATH and an SQLite DATABASE_URL at `database` are set; keyword arguments add
    variables or replace these."""

    def run(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            **environment,
        }
        return subprocess.run(
            [sys.executable, "-m", "bot", *arguments],
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=120,
        )

    return run


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The command's one `digestbot: …` line on stderr (asserting there is exactly one and
    no traceback)."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("digestbot: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def run_python(script: str, workdir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -c SCRIPT ARGUMENTS` run in a child process of its own (its interpreter
    state, the collector's above all, apart from the test process's); asserts it
    succeeded."""
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        cwd=workdir,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def python_output(script: str, workdir: Path, *arguments: str) -> list[str]:
    """The words `python -c SCRIPT ARGUMENTS` printed (run_python)."""
    return run_python(script, workdir, *arguments).stdout.split()
