from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delivery.schedule import (
    local_digest_date,
    next_digest_at,
    parse_time,
    parse_timezone,
    plan_after_downtime,
    previous_digest_at,
)

ZONES = (
    "Asia/Omsk",
    "Asia/Tashkent",
    "Europe/Moscow",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Novosibirsk",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Europe/London",
    "America/Santiago",
    "Etc/GMT-5",
    "UTC",
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # Omsk is UTC+6 all year: 09:00 there is 03:00 UTC.
        ("Asia/Omsk", utc(2026, 11, 20, 2, 0), utc(2026, 11, 20, 3, 0)),
        ("Asia/Omsk", utc(2026, 11, 20, 3, 0), utc(2026, 11, 21, 3, 0)),
        ("Asia/Omsk", utc(2026, 11, 19, 22, 30), utc(2026, 11, 20, 3, 0)),
        ("Asia/Tashkent", utc(2026, 11, 20, 4, 0), utc(2026, 11, 21, 4, 0)),
        ("Asia/Tashkent", utc(2026, 11, 20, 3, 59), utc(2026, 11, 20, 4, 0)),
        ("Europe/Moscow", utc(2026, 6, 1, 0, 0), utc(2026, 6, 1, 6, 0)),
        ("America/New_York", utc(2026, 1, 15, 12, 0), utc(2026, 1, 15, 14, 0)),
        ("America/New_York", utc(2026, 7, 15, 12, 0), utc(2026, 7, 15, 13, 0)),
        ("Europe/Berlin", utc(2026, 12, 31, 23, 0), utc(2027, 1, 1, 8, 0)),
    ],
)
def test_next_digest_at_is_the_next_local_nine_oclock(
    zone: str, now: datetime, expected: datetime
) -> None:
    assert next_digest_at("09:00", zone, now) == expected


def test_time_skipped_by_spring_forward_moves_forward_by_the_gap() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    moment = next_digest_at("02:30", "America/New_York", utc(2026, 3, 8, 5, 0))
    assert moment == utc(2026, 3, 8, 7, 30)
    assert moment.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "03:30"
    # Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    day_before = next_digest_at("02:30", "Europe/Berlin", utc(2026, 3, 27, 12, 0))
    assert day_before == utc(2026, 3, 28, 1, 30)
    berlin = next_digest_at("02:30", "Europe/Berlin", day_before)
    assert berlin == utc(2026, 3, 29, 1, 30)
    assert berlin.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "03:30"
    # The day after, the usual wall time again.
    assert next_digest_at("02:30", "Europe/Berlin", berlin) == utc(2026, 3, 30, 0, 30)


def test_ambiguous_time_at_fall_back_takes_the_first_and_only_once() -> None:
    # New York, 1 November 2026: 01:00–02:00 happens twice (EDT, then EST).
    first = next_digest_at("01:30", "America/New_York", utc(2026, 11, 1, 0, 0))
    assert first == utc(2026, 11, 1, 5, 30)
    following = next_digest_at("01:30", "America/New_York", first)
    assert following == utc(2026, 11, 2, 6, 30)
    # Berlin, 25 October 2026: 02:30 CEST comes first.
    assert next_digest_at("02:30", "Europe/Berlin", utc(2026, 10, 24, 12, 0)) == utc(
        2026, 10, 25, 0, 30
    )


@pytest.mark.parametrize("zone", ZONES)
def test_one_digest_per_local_day_over_a_year(zone: str) -> None:
    tz = ZoneInfo(zone)
    for digest_time in ("00:30", "02:30", "09:00", "23:59"):
        moment = datetime(2026, 1, 1, tzinfo=tz).astimezone(UTC) - timedelta(microseconds=1)
        days: list[date] = []
        while True:
            moment = next_digest_at(digest_time, zone, moment)
            if moment.astimezone(tz).year > 2026:
                break
            days.append(local_digest_date(moment, zone))
        assert len(days) == len(set(days)) == 365, (zone, digest_time)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)),
)
def test_next_digest_at_properties(zone: str, hour: int, minute: int, now: datetime) -> None:
    now = now.replace(tzinfo=UTC)
    digest_time = f"{hour:02d}:{minute:02d}"
    moment = next_digest_at(digest_time, zone, now)
    assert moment.tzinfo is UTC
    assert now < moment <= now + timedelta(hours=26)
    # Nothing in between: the previous occurrence is at or before `now`.
    assert previous_digest_at(digest_time, zone, moment - timedelta(microseconds=1)) <= now
    assert previous_digest_at(digest_time, zone, moment) == moment
    local = moment.astimezone(ZoneInfo(zone))
    if local.strftime("%H:%M") != digest_time:
        # Only when the wall time does not exist that day (clocks went forward).
        wall = datetime.combine(local.date(), datetime.strptime(digest_time, "%H:%M").time())
        round_trip = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).astimezone(ZoneInfo(zone))
        assert round_trip.replace(tzinfo=None) != wall


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        next_digest_at("09:00", "Asia/Omsk", datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("late", "plan"),
    [
        (timedelta(0), "send"),
        (timedelta(minutes=1), "send"),
        (timedelta(hours=5, minutes=59), "send"),
        (timedelta(hours=6), "skip"),
        (timedelta(hours=6, minutes=1), "skip"),
        (timedelta(days=3), "skip"),
    ],
)
def test_plan_after_downtime(late: timedelta, plan: str) -> None:
    scheduled = utc(2026, 11, 20, 3, 0)
    assert plan_after_downtime(scheduled, scheduled + late, timedelta(hours=6)) == plan


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Asia/Tashkent", "Asia/Tashkent"),
        ("asia/omsk", "Asia/Omsk"),
        ("  Europe/Moscow ", "Europe/Moscow"),
        ("UTC+5", "Etc/GMT-5"),
        ("utc+6", "Etc/GMT-6"),
        ("+05:00", "Etc/GMT-5"),
        ("+5", "Etc/GMT-5"),
        ("GMT-3", "Etc/GMT+3"),
        ("UTC−4", "Etc/GMT+4"),
        ("UTC+5:30", "Asia/Kolkata"),
        ("+0545", "Asia/Kathmandu"),
        ("UTC", "UTC"),
        ("GMT+0", "UTC"),
        ("МСК+3", "Etc/GMT-6"),
        ("мск", "Europe/Moscow"),
        ("Омск", "Asia/Omsk"),
        ("омск", "Asia/Omsk"),
        ("Ташкент", "Asia/Tashkent"),
        ("Новосибирск", "Asia/Novosibirsk"),
        ("Алматы", "Asia/Almaty"),
        ("Улан-Батор", "Asia/Ulaanbaatar"),
        ("Tashkent", "Asia/Tashkent"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("Moscow", "Europe/Moscow"),
    ],
)
def test_parse_timezone_accepts_names_cities_and_offsets(text: str, zone: str) -> None:
    assert parse_timezone(text) == zone
    ZoneInfo(zone)


def test_fixed_offset_zones_have_the_offset_the_user_meant() -> None:
    for text, hours in (("UTC+5", 5), ("GMT-3", -3), ("+14", 14), ("-12", -12), ("МСК+4", 7)):
        zone = parse_timezone(text)
        assert zone is not None
        offset = datetime(2026, 1, 1, tzinfo=ZoneInfo(zone)).utcoffset()
        assert offset == timedelta(hours=hours), text


@pytest.mark.parametrize(
    "text", ["", "   ", "Марс", "Asia/Atlantis", "UTC+15", "+25:00", "+05:75", "9:00", "x" * 500]
)
def test_parse_timezone_rejects_what_is_not_a_zone(text: str) -> None:
    assert parse_timezone(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:30", "08:30"),
        ("08:30", "08:30"),
        ("0830", "08:30"),
        ("830", "08:30"),
        ("8.30", "08:30"),
        ("8 30", "08:30"),
        (" 21:05 ", "21:05"),
        ("9", "09:00"),
        ("0:00", "00:00"),
        ("23:59", "23:59"),
        ("8 pm", "20:00"),
        ("12am", "00:00"),
        ("12 pm", "12:00"),
    ],
)
def test_parse_time(text: str, expected: str) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "24:00", "25", "8:60", "8:5", "13pm", "завтра", "9:00:00"])
def test_parse_time_rejects_what_is_not_a_time(text: str) -> None:
    assert parse_time(text) is None
