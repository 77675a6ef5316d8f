"""Articles per country per week: the weeks of a period in a chat's time zone, and which
countries a chart of them shows."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.select import as_utc

DEFAULT_WEEKS = 8
MAX_WEEKS = 26
TOP_COUNTRIES = 6


@dataclass(frozen=True, slots=True)
class Weeks:
    """ISO weeks (Monday to Sunday) in one time zone, oldest first, the last one holding
    `today`. `edges` are the UTC moments the weeks start at, then the end of the last one,
    so week i is [edges[i], edges[i + 1])."""

    starts: tuple[date, ...]
    edges: tuple[datetime, ...]
    today: date


@dataclass(frozen=True, slots=True)
class WeeklyCounts:
    """What a chart shows: per country (in the order shown) its count in each week."""

    week_starts: tuple[date, ...]
    today: date
    series: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return {code: sum(counts) for code, counts in self.series.items()}

    @property
    def last_week_unfinished(self) -> bool:
        """Whether the last week is still going on: its count is not final yet."""
        return bool(self.week_starts) and self.today < self.week_starts[-1] + timedelta(days=6)

    @property
    def is_empty(self) -> bool:
        return not any(any(counts) for counts in self.series.values())


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_weeks(now: datetime, count: int, timezone: str) -> Weeks:
    """The `count` weeks up to and including the one `now` falls in, in `timezone`."""
    if count < 1:
        raise ValueError("at least one week")
    zone = _zone(timezone)
    today = as_utc(now).astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    starts = tuple(this_monday - timedelta(weeks=count - 1 - index) for index in range(count))
    # Local midnights, converted one by one: a daylight saving change moves the UTC edge.
    edges = tuple(
        datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        for day in (*starts, this_monday + timedelta(weeks=1))
    )
    return Weeks(starts=starts, edges=edges, today=today)


def choose_countries(
    totals: Mapping[str, int], chosen: Collection[str], *, top: int = TOP_COUNTRIES
) -> list[str]:
    """The chat's own countries (all of them, even those without articles); for a chat
    without any, the `top` countries with the most articles. Most articles first."""
    if chosen:
        codes = {code.upper() for code in chosen}
    else:
        codes = {code for code, total in totals.items() if total > 0}
    ranked = sorted(codes, key=lambda code: (-totals.get(code, 0), code))
    return ranked if chosen else ranked[:top]


def weekly_counts(
    weeks: Weeks,
    counts: Mapping[str, Sequence[int]],
    chosen: Collection[str] = (),
    *,
    top: int = TOP_COUNTRIES,
) -> WeeklyCounts:
    """`counts` (country -> one count per week of `weeks`, as storage returns them) cut
    to the countries a chart shows; weeks without articles are zeros."""
    size = len(weeks.starts)
    series = {code.upper(): tuple(values) for code, values in counts.items()}
    for code, values in series.items():
        if len(values) != size:
            raise ValueError(f"{code}: {len(values)} counts for {size} weeks")
    totals = {code: sum(values) for code, values in series.items()}
    shown = choose_countries(totals, chosen, top=top)
    return WeeklyCounts(
        week_starts=weeks.starts,
        today=weeks.today,
        series={code: series.get(code, (0,) * size) for code in shown},
    )
