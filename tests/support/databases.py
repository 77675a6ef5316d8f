"""Fresh, migrated databases for tests: a SQLite file, and PostgreSQL when it is available.

Set TEST_POSTGRES_URL (an asyncpg URL of a server where the user may create databases) to run
the database tests on PostgreSQL too; `.ci/run` starts a local server and sets it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from storage.db import MIGRATIONS, upgrade_database
from tests.support.services import required_url

if TYPE_CHECKING:
    import asyncpg

POSTGRES_ENV = "TEST_POSTGRES_URL"


def require_postgres() -> str:
    """The server's URL; a test that needs one is skipped without it, and fails in CI."""
    return required_url(POSTGRES_ENV, "PostgreSQL", ".ci/postgres.sh")


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


# Names of the databases a test process makes carry this machine and the process, so that a
# later run can drop what a killed process left behind without touching a live one's.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_OWNED = re.compile(rf"digestbot_(?:template|test)_{_HOST}_(\d+)_[0-9a-f]+")
# Only this process creates databases from the template it made, so a template is never
# copied while another session is still connected to it.
_templates: dict[str, str] = {}


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.relative_to(MIGRATIONS).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def _template(admin: asyncpg.Connection, server: URL) -> str:
    """A database migrated to head once per test process, which each test's database is
    copied from (CREATE DATABASE … TEMPLATE): a copy takes a fraction of a migration."""
    key = server.render_as_string(hide_password=False)
    name = _templates.get(key)
    if name is None:
        await drop_leftover_databases(admin)
        name = _owned_name("template", _migrations_digest())
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await upgrade_database(server.set(database=name).render_as_string(hide_password=False))
        _templates[key] = name
        atexit.register(_drop_template, server, name)
    return name


def _owned_name(kind: str, suffix: str) -> str:
    return f"digestbot_{kind}_{_HOST}_{os.getpid()}_{suffix}"


async def drop_leftover_databases(admin: asyncpg.Connection) -> list[str]:
    """Drops the test databases and templates of test processes on this machine that no
    longer run (a worker killed mid-run never drops its own); returns their names."""
    dropped = []
    rows = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'digestbot%'")
    for (name,) in rows:
        owner = _OWNED.fullmatch(name)
        if owner is not None and not _running(int(owner.group(1))):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            dropped.append(name)
    return dropped


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_template(server: URL, name: str) -> None:
    import asyncpg

    async def drop() -> None:
        admin = await asyncpg.connect(_admin_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    with contextlib.suppress(Exception):
        asyncio.run(drop())


def _admin_dsn(server: URL) -> str:
    return server.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yields the URL of an empty database with migrations applied; drops it afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        await upgrade_database(url)
        yield url
        return
    import asyncpg

    server = make_url(os.environ[POSTGRES_ENV])
    name = _owned_name("test", uuid.uuid4().hex[:12])
    admin = await asyncpg.connect(_admin_dsn(server))
    try:
        template = await _template(admin, server)
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(_admin_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
