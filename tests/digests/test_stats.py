from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digests.stats import Weeks, choose_countries, last_weeks, weekly_counts

# Sunday 23:30 UTC: still Sunday in UTC, already Monday 05:30 in Omsk (UTC+6).
SUNDAY_NIGHT_UTC = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)


def _week_of(weeks: Weeks, moment: datetime) -> date:
    (start,) = [
        start
        for start, begin, end in zip(weeks.starts, weeks.edges, weeks.edges[1:], strict=False)
        if begin <= moment < end
    ]
    return start


def test_weeks_start_on_local_mondays_and_their_edges_are_utc() -> None:
    weeks = last_weeks(datetime(2026, 11, 18, 12, 0, tzinfo=UTC), 3, "Asia/Omsk")

    assert weeks.starts == (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16))
    assert weeks.today == date(2026, 11, 18)
    assert weeks.edges == (
        datetime(2026, 11, 1, 18, 0, tzinfo=UTC),
        datetime(2026, 11, 8, 18, 0, tzinfo=UTC),
        datetime(2026, 11, 15, 18, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
    )


def test_an_article_late_on_sunday_utc_belongs_to_mondays_week_in_omsk() -> None:
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)

    assert _week_of(last_weeks(now, 2, "Asia/Omsk"), SUNDAY_NIGHT_UTC) == date(2026, 11, 16)
    assert _week_of(last_weeks(now, 2, "UTC"), SUNDAY_NIGHT_UTC) == date(2026, 11, 9)


def test_the_current_week_is_the_one_of_the_chats_local_date() -> None:
    in_omsk = last_weeks(SUNDAY_NIGHT_UTC, 1, "Asia/Omsk")
    in_utc = last_weeks(SUNDAY_NIGHT_UTC, 1, "UTC")

    assert in_omsk.starts == (date(2026, 11, 16),) and in_omsk.today == date(2026, 11, 16)
    assert in_utc.starts == (date(2026, 11, 9),) and in_utc.today == date(2026, 11, 15)


def test_edges_follow_daylight_saving_time() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026.
    weeks = last_weeks(datetime(2026, 10, 28, 12, 0, tzinfo=UTC), 2, "Europe/Berlin")

    assert weeks.edges == (
        datetime(2026, 10, 18, 22, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
    )


def test_an_unknown_time_zone_counts_in_utc() -> None:
    weeks = last_weeks(SUNDAY_NIGHT_UTC, 1, "Mars/Olympus")

    assert weeks.starts == (date(2026, 11, 9),)
    assert weeks.edges[0] == datetime(2026, 11, 9, 0, 0, tzinfo=UTC)


def test_weeks_must_be_positive() -> None:
    with pytest.raises(ValueError):
        last_weeks(SUNDAY_NIGHT_UTC, 0, "UTC")


def _weeks(count: int) -> Weeks:
    return last_weeks(datetime(2026, 11, 18, 12, 0, tzinfo=UTC), count, "Asia/Omsk")


def test_chosen_countries_are_shown_with_zero_weeks_and_no_others() -> None:
    counts = weekly_counts(
        _weeks(4),
        {"UZ": [0, 3, 0, 1], "KZ": [5, 5, 5, 5], "TJ": [0, 0, 2, 0]},
        chosen={"TJ", "UZ", "MN"},
    )

    assert counts.series == {"UZ": (0, 3, 0, 1), "TJ": (0, 0, 2, 0), "MN": (0, 0, 0, 0)}
    assert list(counts.series) == ["UZ", "TJ", "MN"]
    assert counts.totals == {"UZ": 4, "TJ": 2, "MN": 0}
    assert counts.week_starts == _weeks(4).starts
    assert not counts.is_empty


def test_without_chosen_countries_the_six_with_most_articles_are_shown() -> None:
    counts = weekly_counts(
        _weeks(2),
        {
            "UZ": [1, 1],
            "KZ": [9, 0],
            "TJ": [0, 4],
            "CN": [3, 3],
            "BY": [1, 0],
            "KG": [0, 1],
            "MN": [1, 0],
            "AM": [0, 0],
        },
    )

    # Ties broken by code; a country without articles never makes the list.
    assert list(counts.series) == ["KZ", "CN", "TJ", "UZ", "BY", "KG"]
    assert counts.totals == {"KZ": 9, "CN": 6, "TJ": 4, "UZ": 2, "BY": 1, "KG": 1}


def test_nothing_to_show_is_empty() -> None:
    assert weekly_counts(_weeks(3), {}).is_empty
    assert weekly_counts(_weeks(3), {"KZ": [0, 2, 0]}, chosen={"UZ"}).is_empty
    assert not weekly_counts(_weeks(3), {"KZ": [0, 2, 0]}).is_empty


def test_counts_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="UZ"):
        weekly_counts(_weeks(3), {"UZ": [1, 2]})


def test_choose_countries_uses_upper_case_codes() -> None:
    assert choose_countries({"UZ": 2, "TJ": 5}, {"uz", "tj"}) == ["TJ", "UZ"]
    assert choose_countries({"UZ": 2, "TJ": 5, "KZ": 1}, (), top=2) == ["TJ", "UZ"]


def test_the_last_week_is_unfinished_until_its_local_sunday() -> None:
    def unfinished(now: datetime) -> bool:
        return weekly_counts(last_weeks(now, 2, "Asia/Omsk"), {}).last_week_unfinished

    # Saturday 23:00 in Omsk (UTC+6), then Sunday 00:30 in Omsk.
    assert unfinished(datetime(2026, 11, 21, 17, 0, tzinfo=UTC))
    assert not unfinished(datetime(2026, 11, 21, 18, 30, tzinfo=UTC))
