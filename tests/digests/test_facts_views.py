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
    no_date="без даты",
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
    assert first.startswith("• без даты — Узбекистан — соглашение о &lt;сотрудничестве&gt;")
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


def test_csv_has_a_bom_and_reads_back() -> None:
    data = facts_csv(
        [_fact(1, parties=("Омская область", "Бухарская область"), day=date(2025, 3, 12))]
    )
    assert data[:3] == b"\xef\xbb\xbf"
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert row["date"] == "2025-03-12"
    assert row["parties"] == "Омская область;Бухарская область"
    assert row["sources"] == "https://example.ru/1?a=1&b=2"
