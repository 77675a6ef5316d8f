"""aiogram's line for every update is DEBUG; the bot logs a summary a minute instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.health import log_update_summaries, update_summary
from core.logs import configure_logging
from core.metrics import UpdateStats


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    event = logging.getLogger("aiogram.event")
    saved = (root.handlers[:], root.level, event.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    event.setLevel(saved[2])


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("level", "every_update_shown"), [("DEBUG", True), ("INFO", False), ("WARNING", False)]
)
def test_the_line_for_each_update_shows_at_debug_only(level: str, every_update_shown: bool) -> None:
    configure_logging(level)
    event = logging.getLogger("aiogram.event")
    assert event.isEnabledFor(logging.INFO) is every_update_shown
    assert event.isEnabledFor(logging.ERROR)
    assert logging.getLogger("handlers.middlewares").isEnabledFor(logging.INFO) is (
        level != "WARNING"
    )


@pytest.mark.usefixtures("restore_logging")
def test_errors_only_keeps_aiogram_warnings_out() -> None:
    configure_logging("ERROR")
    assert not logging.getLogger("aiogram.event").isEnabledFor(logging.WARNING)


def test_summary_of_two_snapshots() -> None:
    before = UpdateStats(handled=100, failed=1, handling_seconds=5.0, delayed_messages=10)
    after = UpdateStats(
        handled=2_200,
        failed=1,
        handling_seconds=5.0 + 2_100 * 0.120,
        delayed_messages=310,
        delay_seconds=300 * 0.8,
    )
    assert update_summary(before, after, 60) == (
        "updates in the last 60 s: 2100 handled, 0 failed, 120 ms each on average, "
        "messages waited 800 ms on average before handling"
    )
    assert update_summary(after, after, 60) is None
    failed = UpdateStats(handled=2_200, failed=3, handling_seconds=after.handling_seconds + 0.1)
    assert update_summary(after, failed, 60) == (
        "updates in the last 60 s: 0 handled, 2 failed, 50 ms each on average"
    )


async def test_summaries_are_logged_while_updates_come(caplog: pytest.LogCaptureFixture) -> None:
    stats = UpdateStats()
    caplog.set_level(logging.INFO, logger="bot.health")
    task = asyncio.create_task(log_update_summaries(stats, every=0.05))
    await asyncio.sleep(0.12)
    stats.handled, stats.handling_seconds = 4, 0.2
    await asyncio.sleep(0.1)
    stats.handled, stats.handling_seconds = 5, 0.3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = [record.getMessage() for record in caplog.records if record.name == "bot.health"]
    # One line for the tick that saw updates, one for the stretch cut short by the stop.
    assert lines == [
        "updates in the last 0 s: 4 handled, 0 failed, 50 ms each on average",
        "updates in the last 0 s: 1 handled, 0 failed, 100 ms each on average",
    ]
