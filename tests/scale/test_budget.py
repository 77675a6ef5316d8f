"""The send budget shared through PostgreSQL (delivery.budget.SharedPacer), one engine per
pacer as in separate processes: slots never add up to more than the rate, and a pause
reaches every pacer at once, not at its next reservation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from delivery.budget import STALE_SLOT_SECONDS, SharedPacer
from storage import budget
from storage.db import create_engine, create_session_factory

NAME = "bot:123456"


@pytest.fixture
async def pacers(pg_url: str) -> AsyncIterator[list[SharedPacer]]:
    engines = [create_engine(pg_url) for _ in range(2)]
    made = [SharedPacer(create_session_factory(engine), NAME, 200.0) for engine in engines]
    try:
        yield made
    finally:
        for pacer in made:
            await pacer.close()
        for engine in engines:
            await engine.dispose()


async def test_two_pacers_together_keep_one_rate(pacers: list[SharedPacer]) -> None:
    stamps: list[tuple[float, int]] = []
    until = time.monotonic() + 2.0

    async def take(index: int) -> None:
        while time.monotonic() < until:
            assert await pacers[index].acquire()
            stamps.append((time.monotonic(), index))

    # Several requests of each process wait for slots at once, as in the sender.
    await asyncio.gather(*(take(index % 2) for index in range(16)))

    times = sorted(at for at, _ in stamps)
    busiest = max(
        sum(1 for other in times[start:] if other < at + 1.0) for start, at in enumerate(times)
    )
    # Alone, each would take 200 a second; shared, both together stay at 200 (a slot may
    # go out up to STALE_SLOT_SECONDS late, never later).
    assert busiest <= 200 * (1 + STALE_SLOT_SECONDS) + 1, busiest
    assert {index for _, index in stamps} == {0, 1}


async def test_a_pause_reaches_the_other_pacer_before_its_next_reservation(
    pacers: list[SharedPacer],
) -> None:
    first, second = pacers
    for pacer in pacers:
        assert await pacer.acquire()
    await asyncio.sleep(0.2)  # both listen by now
    reservations = second.reservations

    first.pause(2.0)
    deadline = time.monotonic() + 1.0
    while second.paused_until < time.monotonic() + 1.0:
        assert time.monotonic() < deadline, "the pause did not reach the other pacer"
        await asyncio.sleep(0.005)
    assert second.reservations == reservations
    print(f"pause seen by the other pacer {deadline - time.monotonic():.3f} s before the limit")

    # No slot during the pause: an acquire gives up when told to stop, without a send.
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    assert await second.acquire(stop) is False


async def test_sending_resumes_at_the_end_of_a_pause(
    pacers: list[SharedPacer], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pacers
    for pacer in pacers:
        assert await pacer.acquire()
    reservations: list[budget.Reservation] = []
    reserve = budget.reserve

    async def recorded(*args: Any, **kwargs: Any) -> budget.Reservation:
        got = await reserve(*args, **kwargs)
        reservations.append(got)
        return got

    monkeypatch.setattr(budget, "reserve", recorded)
    first.pause(1.0)
    deadline = time.monotonic() + 0.5
    while second.paused_until < time.monotonic() + 0.5:
        assert time.monotonic() < deadline, "the pause did not reach the other pacer"
        await asyncio.sleep(0.005)

    assert await second.acquire()
    assert time.monotonic() >= second.paused_until - 0.001
    # The slots were reserved before the pause ended, so they start right at its end
    # rather than a round trip and the reservation lead later.
    after_pause = [got for got in reservations if got.paused_until > 0]
    assert after_pause, "no reservation after the pause"
    assert after_pause[0].first_slot == pytest.approx(after_pause[0].paused_until, abs=1e-6)
