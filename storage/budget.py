"""One bot token's send rate shared by every sender process: a row of `send_budget`.

The row holds the next free send slot and the end of the pause Telegram last asked for,
in the database server's epoch seconds, so that every process reads one clock. A sender
reserves a few slots at once (`reserve`): one atomic UPDATE moves the row's next slot on
by `count` intervals and returns where its own slots start; slots of all processes lie on
one grid `interval` apart, so together they never exceed the rate. A 429 seen by any
sender moves the pause (and the next slot) forward for all of them (`pause`), and tells
every listening process at once on the PAUSE_CHANNEL notification channel (`listen`), so
that none waits for its next reservation to learn of it.

PostgreSQL only: on SQLite a single process sends and keeps its pace in memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

logger = logging.getLogger(__name__)

PAUSE_CHANNEL = "digestbot_send_pause"

_NOW = "CAST(extract(epoch from clock_timestamp()) AS double precision)"
_SPAN = "CAST(:span AS double precision)"
_SECONDS = "CAST(:seconds AS double precision)"
_LEAD = "CAST(:lead AS double precision)"

_RESERVE = text(
    f"""
    INSERT INTO send_budget AS b (name, next_slot, paused_until)
    VALUES (:name, {_NOW} + {_LEAD} + {_SPAN}, 0)
    ON CONFLICT (name) DO UPDATE
    SET next_slot = GREATEST(b.next_slot, b.paused_until, {_NOW} + {_LEAD}) + {_SPAN}
    RETURNING b.next_slot - {_SPAN} AS first_slot, b.paused_until, {_NOW} AS now
    """
)

_PAUSE = text(
    f"""
    INSERT INTO send_budget AS b (name, next_slot, paused_until)
    VALUES (:name, {_NOW} + {_SECONDS}, {_NOW} + {_SECONDS})
    ON CONFLICT (name) DO UPDATE
    SET paused_until = GREATEST(b.paused_until, {_NOW} + {_SECONDS}),
        next_slot = GREATEST(b.next_slot, {_NOW} + {_SECONDS})
    RETURNING b.paused_until, {_NOW} AS now
    """
)

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")

_READ = text(f"SELECT paused_until, {_NOW} AS now FROM send_budget WHERE name = :name")


@dataclass(frozen=True, slots=True)
class Reservation:
    """Slots `first_slot + i * interval` for i < count; times in the server's epoch
    seconds, with the server's `now` to translate them into a local clock."""

    first_slot: float
    count: int
    interval: float
    paused_until: float
    now: float


async def reserve(
    session: AsyncSession, name: str, *, count: int, interval: float, lead: float = 0.0
) -> Reservation:
    """`count` slots `interval` apart, after every slot reserved before and the pause,
    and at least `lead` seconds from now (slots that would have passed before the answer
    arrives are of no use)."""
    row = (
        await session.execute(
            _RESERVE, {"name": name, "span": count * interval, "lead": float(lead)}
        )
    ).one()
    return Reservation(
        first_slot=float(row.first_slot),
        count=count,
        interval=interval,
        paused_until=float(row.paused_until),
        now=float(row.now),
    )


async def pause(session: AsyncSession, name: str, *, seconds: float) -> tuple[float, float]:
    """Pauses every sender of `name` for `seconds` from now (a longer pause already set
    stays); returns (paused_until, now) in the server's epoch seconds."""
    row = (await session.execute(_PAUSE, {"name": name, "seconds": float(seconds)})).one()
    until = float(row.paused_until)
    # Delivered to the listeners when the transaction commits.
    await session.execute(_NOTIFY, {"channel": PAUSE_CHANNEL, "payload": f"{until!r} {name}"})
    return until, float(row.now)


@contextlib.asynccontextmanager
async def listen(
    engine: AsyncEngine, name: str, on_pause: Callable[[float], None]
) -> AsyncIterator[None]:
    """While inside, `on_pause(paused_until)` (server epoch seconds) runs as soon as any
    process pauses `name`. Holds one connection of `engine` (asyncpg) for the purpose."""

    def received(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        until, _, pause_name = payload.partition(" ")
        if pause_name == name:
            with contextlib.suppress(ValueError):
                on_pause(float(until))

    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(PAUSE_CHANNEL, received)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(PAUSE_CHANNEL, received)


async def paused_until(session: AsyncSession, name: str) -> tuple[float, float]:
    """(paused_until, now) in the server's epoch seconds; (0, now) for an unknown name."""
    row = (await session.execute(_READ, {"name": name})).one_or_none()
    if row is None:
        now = float(await session.scalar(text(f"SELECT {_NOW}")) or 0.0)
        return 0.0, now
    return float(row.paused_until), float(row.now)
