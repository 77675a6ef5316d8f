"""The register, timeline, chart series and CSV of stored facts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from digests.facts import (
    MAX_SUBJECT_CHARACTERS,
    FactTexts,
    chart_series,
    facts_csv,
    render_register,
    render_timeline,
)
from storage.facts import FactSourceRef, StoredFact

TEXTS = FactTexts(
    register_title="Реестр соглашений",
    timeline_title="Показатели торговли",
    reported="{date} (сообщение)",
    statuses={"signed": "подписано", "planned": "планируется"},
    indicators={"export": "экспорт", "trade_turnover": "товарооборот"},
    change="изменение",
    country_names={"UZ": "Узбекистан"},
)


def _source(number: int) -> FactSourceRef:
    return FactSourceRef(
        number,
        f"Статья {number}",
        f"https://example.ru/{number}?a=1&b=2",
        f"Издание {number}",
        datetime(2025, 1, number, tzinfo=UTC),
    )


def _fact(number: int, **changes: object) -> StoredFact:
    values: dict[str, object] = {
        "id": number,
        "kind": "agreement",
        "countries": ("UZ",),
        "subject": "соглашение о <сотрудничестве>",
        "parties": (),
        "status": "planned",
        "day": None,
        "indicator": None,
        "value": None,
        "unit": None,
        "change": None,
        "period": None,
        "sort_at": datetime(2025, 2, number, tzinfo=UTC),
        "sources": (_source(number),),
    }
    values.update(changes)
    return StoredFact(**values)  # type: ignore[arg-type]


def test_register_escapes_cuts_and_links() -> None:
    long_subject = "меморандум " + "о сотрудничестве " * 40
    text = render_register(
        [
            _fact(1),
            _fact(2, subject=long_subject, sources=tuple(_source(n) for n in range(1, 6))),
        ],
        TEXTS,
    )
    first, second = text.splitlines()[1:]
    # No report gave the day: the day of the first report, marked as such.
    assert first.startswith(
        "• 01.02.2025 (сообщение) — Узбекистан — соглашение о &lt;сотрудничестве&gt;"
    )
    assert '<a href="https://example.ru/1?a=1&amp;b=2">Издание 1</a>' in first
    assert "<i>планируется</i>" in first
    assert second.endswith("+2") and second.count("<a ") == 3
    assert "…" in second and len(long_subject) > MAX_SUBJECT_CHARACTERS


def test_timeline_and_chart_series() -> None:
    figures = [
        _fact(n, kind="figure", indicator="export", value=v, unit="млн долл.", change=False)
        for n, v in ((1, 10.0), (2, 12.5), (3, 11.0))
    ]
    text = render_timeline(figures, TEXTS)
    assert "• 01.02.2025 — экспорт: 10 млн долл. — " in text
    assert "экспорт: 12,5 млн долл." in text
    assert chart_series(figures) is None
    more = [*figures, _fact(4, kind="figure", indicator="export", value=9.0, unit="млн долл.")]
    series = chart_series(more)
    assert series is not None and [value for _day, value in series.points] == [10, 12.5, 11, 9]


def test_the_chart_never_mixes_units() -> None:
    def figure(number: int, value: float, unit: str, change: bool = False) -> StoredFact:
        return _fact(
            number, kind="figure", indicator="export", value=value, unit=unit, change=change
        )

    figures = [
        figure(1, 640.0, "млн долларов"),
        figure(2, 1.2, "млрд долларов"),
        figure(3, 700.0, "млн долл."),
        figure(4, 0.9, "млрд долларов США"),
        figure(5, 5.0, "млрд рублей"),
        figure(6, 7.0, "млрд рублей"),
        figure(7, 8.0, "млрд руб."),
        figure(8, 430.0, "тыс. тонн"),
        figure(9, 0.5, "млн тонн"),
        figure(10, 12.0, "%", change=True),
        figure(11, 15.0, "процента", change=True),
        figure(12, 2.0, "раза", change=True),
        figure(13, 300.0, "млн."),
    ]
    series = chart_series(figures)
    assert series is not None
    # Dollars only, brought to millions: roubles, tonnes, rates and a bare «млн» stay out.
    assert (series.indicator, series.change) == ("export", False)
    assert series.unit in {"млн долларов", "млн долл."}
    assert [value for _day, value in series.points] == [640, 1200, 700, 900]
    # Without the dollars, the roubles are the longest series... once they have 4 points.
    roubles = [*figures[4:], figure(14, 900.0, "млн рублей")]
    rouble_series = chart_series(roubles)
    assert rouble_series is not None and rouble_series.unit == "млрд рублей"
    assert [value for _day, value in rouble_series.points] == [5, 7, 8, 0.9]
    # Rates of change: per cent and «раза» are never one series.
    assert (
        chart_series(
            [figure(n, 10.0 + n, "%", True) for n in range(1, 4)] + [figure(4, 2.0, "раза", True)]
        )
        is None
    )


def test_csv_keeps_each_figure_with_its_own_unit() -> None:
    data = facts_csv(
        [
            _fact(1, kind="figure", indicator="export", value=1.2, unit="млрд долларов"),
            _fact(2, kind="figure", indicator="export", value=5.0, unit="млрд рублей"),
            _fact(3, kind="figure", indicator="import", value=430.0, unit="тыс. тонн"),
        ]
    )
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["value"], r["unit"]) for r in rows] == [
        ("1.2", "млрд долларов"),
        ("5", "млрд рублей"),
        ("430", "тыс. тонн"),
    ]


def test_csv_has_a_bom_and_reads_back() -> None:
    data = facts_csv(
        [_fact(1, parties=("Омская область", "Бухарская область"), day=date(2025, 3, 12))]
    )
    assert data[:3] == b"\xef\xbb\xbf"
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert row["date"] == "2025-03-12"
    assert row["parties"] == "Омская область;Бухарская область"
    assert row["sources"] == "https://example.ru/1?a=1&b=2"


def test_the_day_of_a_first_report_is_the_readers_day() -> None:
    # Reported at 20:30 UTC on 1 February: already 2 February in Omsk (UTC+6).
    late = datetime(2025, 2, 1, 20, 30, tzinfo=UTC)
    agreement = _fact(1, sort_at=late)
    figure = _fact(2, kind="figure", indicator="export", value=5.0, unit="%", sort_at=late)
    assert "• 01.02.2025 (сообщение) —" in render_register([agreement], TEXTS)
    assert "• 02.02.2025 (сообщение) —" in render_register([agreement], TEXTS, "Asia/Omsk")
    assert "• 02.02.2025 —" in render_timeline([figure], TEXTS, "Asia/Omsk")
    # A day the text gives is the same everywhere.
    dated = _fact(3, day=date(2025, 1, 30), sort_at=late)
    assert "• 30.01.2025 —" in render_register([dated], TEXTS, "Asia/Omsk")
