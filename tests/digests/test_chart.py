from __future__ import annotations

import struct
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digests.chart import HEIGHT, WIDTH, ChartText, render_weekly_chart
from digests.stats import WeeklyCounts, last_weeks, weekly_counts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
TEXT = ChartText(
    title="Статьи по странам по неделям\n28.09.2026 – 18.11.2026 (8 недель)",
    x_label="Неделя (с понедельника)",
    y_label="Число статей",
    names={"UZ": "Узбекистан", "TJ": "Таджикистан", "KZ": "Казахстан"},
)


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _counts(weeks: int, series: dict[str, list[int]]) -> WeeklyCounts:
    return weekly_counts(last_weeks(NOW, weeks, "Asia/Omsk"), series, chosen=set(series))


@pytest.mark.parametrize("weeks", [1, 3, 8, 26])
def test_chart_is_a_png_of_the_expected_size(weeks: int) -> None:
    counts = _counts(
        weeks,
        {
            "UZ": [index % 5 for index in range(weeks)],
            "TJ": [index % 3 for index in range(weeks)],
            "KZ": [7] * weeks,
        },
    )

    assert _size(render_weekly_chart(counts, TEXT)) == (WIDTH, HEIGHT)


def test_all_zero_and_empty_series_still_draw() -> None:
    zeros = _counts(8, {"UZ": [0] * 8})
    nothing = WeeklyCounts(week_starts=zeros.week_starts, today=zeros.today)

    assert _size(render_weekly_chart(zeros, TEXT)) == (WIDTH, HEIGHT)
    assert _size(render_weekly_chart(nothing, TEXT)) == (WIDTH, HEIGHT)


def test_more_countries_than_the_basic_palette_have_distinct_lines() -> None:
    codes = [f"C{index}" for index in range(15)]
    counts = _counts(8, {code: [index] * 8 for index, code in enumerate(codes)})

    assert _size(render_weekly_chart(counts, TEXT)) == (WIDTH, HEIGHT)


def test_the_bot_does_not_import_matplotlib_before_the_first_chart() -> None:
    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "import bot.app, bot.cli, handlers, digests.chart\n"
        "handlers.get_routers()\n"
        "print('matplotlib' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
