"""One bot token's send rate shared by every sender process: a row of `send_budget`.

The row holds the next free send slot and the end of the pause Telegram last asked for,
in the database server's epoch seconds, so that every process reads one clock. A sender
reserves a few slots at once (`reserve`): one atomic UPDATE moves the row's next slot on
by `count` intervals and returns where its own slots start; slots of all processes lie on
one grid `interval` apart, so together they never exceed the rate. A 429 seen by any
sender moves the pause (and the next slot) forward for all of them (`pause`).

PostgreSQL only: on SQLite a single process sends and keeps its pace in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_NOW = "CAST(extract(epoch from clock_timestamp()) AS double precision)"
_SPAN = "CAST(:span AS double precision)"
_SECONDS = "CAST(:seconds AS double precision)"

_RESERVE = text(
    f"""
    INSERT INTO send_budget AS b (name, next_slot, paused_until)
    VALUES (:name, {_NOW} + {_SPAN}, 0)
    ON CONFLICT (name) DO UPDATE
    SET next_slot = GREATEST(b.next_slot, b.paused_until, {_NOW}) + {_SPAN}
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


async def reserve(session: AsyncSession, name: str, *, count: int, interval: float) -> Reservation:
    row = (await session.execute(_RESERVE, {"name": name, "span": count * interval})).one()
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
    return float(row.paused_until), float(row.now)


async def paused_until(session: AsyncSession, name: str) -> tuple[float, float]:
    """(paused_until, now) in the server's epoch seconds; (0, now) for an unknown name."""
    row = (await session.execute(_READ, {"name": name})).one_or_none()
    if row is None:
        now = float(await session.scalar(text(f"SELECT {_NOW}")) or 0.0)
        return 0.0, now
    return float(row.paused_until), float(row.now)
