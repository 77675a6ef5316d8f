"""Views of stored facts: the register of agreements, the timeline of trade figures, the series
for a chart, and the CSV export.  Pure functions over storage's plain data; words come in
through FactTexts, translated by the caller."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from digests.render import escape, local_date
from storage.facts import StoredFact
from tagging.facts import canonical_unit

MIN_CHART_POINTS = 4
MAX_SOURCES_SHOWN = 3
# A register line stays short whatever an article wrote: parties and subject are cut.
MAX_PARTIES_CHARACTERS = 160
MAX_SUBJECT_CHARACTERS = 200
CSV_COLUMNS = (
    "kind",
    "date",
    "countries",
    "parties",
    "subject",
    "status",
    "indicator",
    "value",
    "unit",
    "change",
    "period",
    "sources",
)


@dataclass(frozen=True, slots=True)
class FactTexts:
    register_title: str
    timeline_title: str
    reported: str  # "{date} (reported)": the date of a fact whose text gives no day
    statuses: Mapping[str, str]  # "signed"/"planned" -> words
    indicators: Mapping[str, str]  # indicator id -> words
    change: str  # "change" marker, e.g. "рост/снижение"
    country_names: Mapping[str, str]


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _day(fact: StoredFact, tz: str = "UTC") -> date:
    """The fact's day, or the day in zone `tz` of its first report."""
    return fact.day or local_date(fact.sort_at, tz)


def fact_date(fact: StoredFact, texts: FactTexts, tz: str = "UTC") -> str:
    """The day an agreement was signed, or, when no report gives it, the day (in the reader's
    zone `tz`) it was first reported, marked as such."""
    if fact.day is not None:
        return fact.day.strftime("%d.%m.%Y")
    return texts.reported.format(date=_day(fact, tz).strftime("%d.%m.%Y"))


def fact_sources(fact: StoredFact) -> str:
    links = [
        f'<a href="{escape(ref.url)}">{escape(ref.source or ref.title[:30])}</a>'
        for ref in fact.sources[:MAX_SOURCES_SHOWN]
    ]
    more = len(fact.sources) - MAX_SOURCES_SHOWN
    if more > 0:
        links.append(f"+{more}")
    return ", ".join(links)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def render_register(facts: Sequence[StoredFact], texts: FactTexts, tz: str = "UTC") -> str:
    """HTML: one line per agreement — date — parties — subject — status — sources."""
    if not facts:
        return ""
    lines = [f"<b>{escape(texts.register_title)}</b>"]
    for fact in facts:
        when = fact_date(fact, texts, tz)
        parties = "; ".join(fact.parties) or ", ".join(
            texts.country_names.get(code, code) for code in fact.countries
        )
        status = texts.statuses.get(fact.status or "", fact.status or "")
        parties = cut(parties, MAX_PARTIES_CHARACTERS)
        subject = cut(fact.subject, MAX_SUBJECT_CHARACTERS)
        lines.append(
            f"• {escape(when)} — {escape(parties)} — {escape(subject)} — "
            f"<i>{escape(status)}</i> — {fact_sources(fact)}"
        )
    return "\n".join(lines)


def figure_text(fact: StoredFact, texts: FactTexts) -> str:
    indicator = texts.indicators.get(fact.indicator or "", fact.indicator or "")
    change = f" ({texts.change})" if fact.change else ""
    period = f", {fact.period}" if fact.period else ""
    return f"{indicator}: {_number(fact.value)} {fact.unit or ''}{change}{period}"


def figure_line(fact: StoredFact, texts: FactTexts, tz: str = "UTC") -> str:
    """HTML: "• date — indicator: value unit (change), period — sources"."""
    return (
        f"• {_day(fact, tz):%d.%m.%Y} — {escape(figure_text(fact, texts))} — {fact_sources(fact)}"
    )


def render_timeline(facts: Sequence[StoredFact], texts: FactTexts, tz: str = "UTC") -> str:
    """HTML: figures oldest first, each with its date and sources."""
    if not facts:
        return ""
    lines = [f"<b>{escape(texts.timeline_title)}</b>"]
    lines.extend(figure_line(fact, texts, tz) for fact in facts)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class FigureSeries:
    indicator: str
    unit: str
    change: bool
    points: tuple[tuple[date, float], ...]


def _scale_and_base(unit: str) -> tuple[float, str]:
    """«1,2 млрд долларов» is 1e9 of USD, «640 млн долл.» 1e6 of USD, «%» 1 of "%": figures
    with one base are comparable once scaled; different bases (USD, RUB, tonnes, per cent,
    times, a bare «млн») never are."""
    canonical = canonical_unit(unit)
    scale, _, base = canonical.partition(" ")
    if base and re.fullmatch(r"1e\d+", scale):
        return float(scale), base
    return 1.0, canonical


def chart_series(facts: Sequence[StoredFact]) -> FigureSeries | None:
    """The longest series of one indicator, base unit and kind (level or change) with at
    least MIN_CHART_POINTS points, oldest first; None when no series is long enough.  Units
    are never mixed: dollars, roubles, tonnes and per cent are separate series; within one
    base the values are brought to the series' most common scale («1,2 млрд долларов» is
    1200 on a chart in «млн долларов»)."""
    groups: dict[tuple[str, str, bool], list[tuple[date, float, float, str]]] = defaultdict(list)
    for fact in facts:
        if fact.indicator and fact.unit and fact.value is not None:
            scale, base = _scale_and_base(fact.unit)
            groups[(fact.indicator, base, bool(fact.change))].append(
                (_day(fact), fact.value, scale, fact.unit)
            )
    best = max(groups.items(), key=lambda item: len(item[1]), default=None)
    if best is None or len(best[1]) < MIN_CHART_POINTS:
        return None
    (indicator, _base, change), members = best
    scale = Counter(member[2] for member in members).most_common(1)[0][0]
    unit = Counter(member[3] for member in members if member[2] == scale).most_common(1)[0][0]
    points = sorted((day, round(value * factor / scale, 6)) for day, value, factor, _ in members)
    return FigureSeries(indicator, unit, change, tuple(points))


def render_series_chart(series: FigureSeries, title: str) -> bytes:
    """A PNG line chart of one series (matplotlib imported on first use, in the caller's
    worker thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from digests.chart import DPI, HEIGHT, WIDTH

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(series.points)))
    axes.plot(positions, [value for _day, value in series.points], marker="o", linewidth=2)
    axes.set_xticks(positions, labels=[f"{day:%d.%m.%y}" for day, _value in series.points])
    axes.set_title(title, fontsize=14)
    axes.set_ylabel(series.unit)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def facts_csv(facts: Sequence[StoredFact]) -> bytes:
    """UTF-8 with a byte order mark, so that spreadsheets read Cyrillic; columns CSV_COLUMNS.
    `date` is the agreement's day, or the first report's day; `sources` are URLs, space-
    separated; lists (countries, parties) are ";"-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for fact in facts:
        writer.writerow(
            (
                fact.kind,
                _day(fact).isoformat(),
                ";".join(fact.countries),
                ";".join(fact.parties),
                fact.subject,
                fact.status or "",
                fact.indicator or "",
                "" if fact.value is None else repr(fact.value).removesuffix(".0"),
                fact.unit or "",
                "" if fact.change is None else ("1" if fact.change else "0"),
                fact.period or "",
                " ".join(ref.url for ref in fact.sources),
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
