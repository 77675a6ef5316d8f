"""Charts as PNG pictures.

matplotlib is imported inside the drawing function: it costs about a second the first time,
which the bot pays on the first chart, in a worker thread, and not at startup. Only the
object-oriented API is used (no pyplot), so charts drawn in several threads at once do not
share a current figure.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from digests.stats import WeeklyCounts

WIDTH = 1000
HEIGHT = 600
DPI = 100
# Up to this many weeks a grouped bar chart reads best; past it, lines.
MAX_WEEKS_AS_BARS = 4
# Week labels are turned aslant past this many weeks, so that they do not overlap.
MAX_LEVEL_LABELS = 13


@dataclass(frozen=True, slots=True)
class ChartText:
    """The words on a chart, in the reader's language. `names`: country code -> name
    (without a flag: the chart's font has no emoji)."""

    title: str
    x_label: str
    y_label: str
    names: Mapping[str, str]


def render_weekly_chart(counts: WeeklyCounts, text: ChartText) -> bytes:
    """A WIDTH × HEIGHT PNG: one series per country of `counts`, one point per week."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    weeks = len(counts.week_starts)
    positions = list(range(weeks))
    series = list(counts.series.items())
    palette = matplotlib.colormaps["tab10" if len(series) <= 10 else "tab20"]
    as_bars = weeks <= MAX_WEEKS_AS_BARS
    # The week so far is drawn paler (bars) or dashed (lines): a low count there is not a drop.
    unfinished = counts.last_week_unfinished
    width = 0.8 / max(1, len(series))
    for index, (code, values) in enumerate(series):
        name = text.names.get(code, code)
        color = palette(index % palette.N)
        if as_bars:
            shift = (index - (len(series) - 1) / 2) * width
            bars = axes.bar(
                [x + shift for x in positions], values, width=width, label=name, color=color
            )
            if unfinished:
                bars[-1].set_alpha(0.45)
        elif unfinished and weeks > 1:
            axes.plot(positions[:-1], values[:-1], marker="o", linewidth=2, label=name, color=color)
            axes.plot(
                positions[-2:], values[-2:], marker="o", linewidth=2, linestyle="--", color=color
            )
        else:
            axes.plot(positions, values, marker="o", linewidth=2, label=name, color=color)
    peak = max((max(values) for _code, values in series if values), default=0)
    axes.set_ylim(0, max(peak, 1) * 1.1)
    axes.set_xlim(-0.5, weeks - 0.5)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xticks(
        positions,
        labels=[f"{monday:%d.%m}" for monday in counts.week_starts],
        rotation=45 if weeks > MAX_LEVEL_LABELS else 0,
    )
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(text.title, fontsize=14)
    axes.set_xlabel(text.x_label)
    axes.set_ylabel(text.y_label)
    if series:
        figure.legend(loc="outside right upper", frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


WEEKLY_CHART_RECIPE = "weekly_chart"


def weekly_chart_recipe(counts: WeeklyCounts, text: ChartText) -> str:
    """What `render_weekly_chart(counts, text)` draws, as a JSON text that
    `draw_recipe` turns back into the same picture later (and in another process). Equal
    charts give equal texts."""
    return json.dumps(
        {
            "kind": WEEKLY_CHART_RECIPE,
            "week_starts": [day.isoformat() for day in counts.week_starts],
            "today": counts.today.isoformat(),
            "series": [[code, list(values)] for code, values in counts.series.items()],
            "title": text.title,
            "x_label": text.x_label,
            "y_label": text.y_label,
            "names": dict(text.names),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def draw_recipe(recipe: str) -> bytes:
    """The PNG a recipe describes; ValueError when the recipe is not one this code draws."""
    try:
        data = json.loads(recipe)
        if data["kind"] != WEEKLY_CHART_RECIPE:
            raise ValueError(f"unknown picture recipe {data['kind']!r}")
        counts = WeeklyCounts(
            week_starts=tuple(date.fromisoformat(day) for day in data["week_starts"]),
            today=date.fromisoformat(data["today"]),
            series={str(code): tuple(int(v) for v in values) for code, values in data["series"]},
        )
        text = ChartText(
            title=str(data["title"]),
            x_label=str(data["x_label"]),
            y_label=str(data["y_label"]),
            names={str(k): str(v) for k, v in data["names"].items()},
        )
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable picture recipe: {error}") from error
    return render_weekly_chart(counts, text)


def draw_recipe_timed(recipe: str) -> tuple[bytes, float]:
    """`draw_recipe` and the CPU seconds it took (run in a drawing process)."""
    started = time.process_time()
    content = draw_recipe(recipe)
    return content, time.process_time() - started
