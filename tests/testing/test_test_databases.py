"""The PostgreSQL databases tests make are dropped even when the process that made them was
killed: the next test process drops those of processes that no longer run, and only those."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.engine import make_url

from tests.support.databases import _HOST, _admin_dsn, drop_leftover_databases, require_postgres


def finished_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(process.stdout)


async def test_leftovers_of_finished_processes_are_dropped_and_live_ones_kept() -> None:
    import asyncpg

    admin = await asyncpg.connect(_admin_dsn(make_url(require_postgres())))
    dead = f"digestbot_test_{_HOST}_{finished_pid()}_0123456789ab"
    live = f"digestbot_template_{_HOST}_{os.getpid()}_0123456789ab"
    elsewhere = f"digestbot_test_{'0' * 8 if _HOST != '0' * 8 else '1' * 8}_{finished_pid()}_00"
    names = (dead, live, elsewhere)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        dropped = await drop_leftover_databases(admin)
        existing = {row[0] for row in await admin.fetch("SELECT datname FROM pg_database")}
        assert dead in dropped
        assert dead not in existing
        # This process still runs; another machine's processes cannot be checked from here.
        assert live in existing and elsewhere in existing
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
