"""Fixtures every test package shares: a fresh, migrated database per test.

``database_backend`` is SQLite, and PostgreSQL too when TEST_POSTGRES_URL is set (see
``tests/support/databases.py``): a test that asks for ``database_url`` or
``session_factory`` runs once per backend. A package that is SQLite-only overrides
``database_backend`` in its own conftest.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_session_factory, upgrade_database_sync
from tests.support.databases import backends, fresh_database


def _is_local(host: str | bytes | None) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    if not name or name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        pass
    else:
        return True
    try:
        socket.inet_aton(name)  # numeric forms such as 0x7f.1, which resolvers also read
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True, scope="session")
def no_name_lookups_leave_the_machine() -> Iterator[None]:
    """Tests never reach the internet, not even its resolvers: a host name other than
    localhost fails to resolve at once, as it would on a machine without a network."""
    resolve = socket.getaddrinfo

    def local_only(host: str | bytes | None, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", local_only)
        yield


@pytest.fixture(params=backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def database_url(
    database_backend: str, tmp_path: Path, migrated_template: Path
) -> AsyncIterator[str]:
    """The URL of an empty, migrated database of the test's backend."""
    if database_backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(migrated_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with fresh_database(database_backend, tmp_path) as url:
        yield url


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()
