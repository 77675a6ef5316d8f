"""When digests are due: local wall-clock times across time zones and DST, and user input.

Pure functions, no I/O: the clock job and the settings handlers both build on them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MOSCOW_UTC_OFFSET_HOURS = 3

# Offsets that are not whole hours have no Etc/GMT zone; a real zone that keeps that
# offset all year (or nearly) stands in for them.
_FRACTIONAL_OFFSET_ZONES: dict[int, str] = {
    -(9 * 60 + 30): "Pacific/Marquesas",
    -(3 * 60 + 30): "America/St_Johns",
    3 * 60 + 30: "Asia/Tehran",
    4 * 60 + 30: "Asia/Kabul",
    5 * 60 + 30: "Asia/Kolkata",
    5 * 60 + 45: "Asia/Kathmandu",
    6 * 60 + 30: "Asia/Yangon",
    8 * 60 + 45: "Australia/Eucla",
    9 * 60 + 30: "Australia/Darwin",
    10 * 60 + 30: "Australia/Adelaide",
    12 * 60 + 45: "Pacific/Chatham",
}

# Place names people type instead of a zone name; forms after ё→е folding and lowercasing.
_PLACE_ZONES: dict[str, str] = {
    # Russia, west to east
    "калининград": "Europe/Kaliningrad",
    "москва": "Europe/Moscow",
    "мск": "Europe/Moscow",
    "санкт-петербург": "Europe/Moscow",
    "петербург": "Europe/Moscow",
    "спб": "Europe/Moscow",
    "питер": "Europe/Moscow",
    "казань": "Europe/Moscow",
    "нижний новгород": "Europe/Moscow",
    "ростов-на-дону": "Europe/Moscow",
    "краснодар": "Europe/Moscow",
    "волгоград": "Europe/Volgograd",
    "киров": "Europe/Kirov",
    "астрахань": "Europe/Astrakhan",
    "саратов": "Europe/Saratov",
    "ульяновск": "Europe/Ulyanovsk",
    "самара": "Europe/Samara",
    "ижевск": "Europe/Samara",
    "екатеринбург": "Asia/Yekaterinburg",
    "челябинск": "Asia/Yekaterinburg",
    "тюмень": "Asia/Yekaterinburg",
    "пермь": "Asia/Yekaterinburg",
    "уфа": "Asia/Yekaterinburg",
    "оренбург": "Asia/Yekaterinburg",
    "курган": "Asia/Yekaterinburg",
    "омск": "Asia/Omsk",
    "новосибирск": "Asia/Novosibirsk",
    "барнаул": "Asia/Barnaul",
    "томск": "Asia/Tomsk",
    "новокузнецк": "Asia/Novokuznetsk",
    "кемерово": "Asia/Novokuznetsk",
    "красноярск": "Asia/Krasnoyarsk",
    "иркутск": "Asia/Irkutsk",
    "улан-удэ": "Asia/Irkutsk",
    "чита": "Asia/Chita",
    "якутск": "Asia/Yakutsk",
    "владивосток": "Asia/Vladivostok",
    "хабаровск": "Asia/Vladivostok",
    "магадан": "Asia/Magadan",
    "южно-сахалинск": "Asia/Sakhalin",
    "петропавловск-камчатский": "Asia/Kamchatka",
    "камчатка": "Asia/Kamchatka",
    # partner countries
    "ташкент": "Asia/Tashkent",
    "узбекистан": "Asia/Tashkent",
    "самарканд": "Asia/Samarkand",
    "бухара": "Asia/Samarkand",
    "душанбе": "Asia/Dushanbe",
    "таджикистан": "Asia/Dushanbe",
    "астана": "Asia/Almaty",
    "алматы": "Asia/Almaty",
    "алма-ата": "Asia/Almaty",
    "казахстан": "Asia/Almaty",
    "павлодар": "Asia/Almaty",
    "петропавловск": "Asia/Almaty",
    "бишкек": "Asia/Bishkek",
    "киргизия": "Asia/Bishkek",
    "кыргызстан": "Asia/Bishkek",
    "ашхабад": "Asia/Ashgabat",
    "туркмения": "Asia/Ashgabat",
    "туркменистан": "Asia/Ashgabat",
    "минск": "Europe/Minsk",
    "беларусь": "Europe/Minsk",
    "белоруссия": "Europe/Minsk",
    "пекин": "Asia/Shanghai",
    "шанхай": "Asia/Shanghai",
    "урумчи": "Asia/Urumqi",
    "китай": "Asia/Shanghai",
    "улан-батор": "Asia/Ulaanbaatar",
    "улаанбаатар": "Asia/Ulaanbaatar",
    "монголия": "Asia/Ulaanbaatar",
    "баку": "Asia/Baku",
    "азербайджан": "Asia/Baku",
    "ереван": "Asia/Yerevan",
    "армения": "Asia/Yerevan",
    "тбилиси": "Asia/Tbilisi",
    "грузия": "Asia/Tbilisi",
    "кишинев": "Europe/Chisinau",
    "стамбул": "Europe/Istanbul",
    "анкара": "Europe/Istanbul",
    "турция": "Europe/Istanbul",
    "дели": "Asia/Kolkata",
    "нью-дели": "Asia/Kolkata",
    "индия": "Asia/Kolkata",
    "тегеран": "Asia/Tehran",
    "иран": "Asia/Tehran",
    "берлин": "Europe/Berlin",
    "лондон": "Europe/London",
    "нью-йорк": "America/New_York",
    # English names whose zone is named after another city
    "moscow": "Europe/Moscow",
    "saint petersburg": "Europe/Moscow",
    "st petersburg": "Europe/Moscow",
    "astana": "Asia/Almaty",
    "beijing": "Asia/Shanghai",
    "new delhi": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "bukhara": "Asia/Samarkand",
    "ulan bator": "Asia/Ulaanbaatar",
    "istanbul": "Europe/Istanbul",
}

_OFFSET_PATTERN = re.compile(
    r"^(?P<base>utc|gmt|мск|msk|всемирное)?\s*"
    r"(?:(?P<sign>[+\-−–])\s*(?P<hours>\d{1,2})(?:\s*[:.]?\s*(?P<minutes>\d{2}))?)?$"
)
_TIME_PATTERN = re.compile(
    r"^(?P<hours>\d{1,2})(?:\s*[:.\-hч ]\s*(?P<minutes>\d{2})|(?P<compact>\d{2}))?"
    r"\s*(?P<meridiem>am|pm|a\.m\.|p\.m\.)?$"
)


def _parse_clock(digest_time: str) -> time:
    hours_text, _, minutes_text = digest_time.partition(":")
    return time(int(hours_text), int(minutes_text))


def _resolve_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a day.

    fold=0 picks the first of two ambiguous instants (clocks turned back), and for a time
    that does not exist (clocks turned forward) applies the offset in force before the
    change, which lands as far past the gap's start as the wall time was: 02:30 in a
    one-hour gap becomes 03:30.
    """
    return datetime.combine(day, clock, tzinfo=zone).replace(fold=0).astimezone(UTC)


def _candidates(digest_time: str, timezone: str, moment: datetime) -> list[datetime]:
    zone = ZoneInfo(timezone)
    clock = _parse_clock(digest_time)
    local_day = moment.astimezone(zone).date()
    return [
        _resolve_local(local_day + timedelta(days=shift), clock, zone) for shift in range(-2, 3)
    ]


def next_digest_at(digest_time: str, timezone: str, now: datetime) -> datetime:
    """The first occurrence of `digest_time` (HH:MM, local in `timezone`) strictly after
    `now`, as an aware UTC datetime."""
    _require_aware(now)
    return min(moment for moment in _candidates(digest_time, timezone, now) if moment > now)


def previous_digest_at(digest_time: str, timezone: str, now: datetime) -> datetime:
    """The latest occurrence of `digest_time` at or before `now`, as an aware UTC datetime."""
    _require_aware(now)
    return max(moment for moment in _candidates(digest_time, timezone, now) if moment <= now)


def local_digest_date(moment: datetime, timezone: str) -> date:
    """The calendar day, in the subscriber's zone, that a digest sent at `moment` belongs to."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def plan_after_downtime(
    scheduled_at: datetime, now: datetime, catchup: timedelta
) -> Literal["send", "skip"]:
    """A digest found due `now` for `scheduled_at` is sent if it is less than `catchup`
    late; an older one is skipped and the chat waits for its next regular time."""
    return "send" if now - scheduled_at < catchup else "skip"


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required")


def _fold(text: str) -> str:
    folded = text.strip().lower().replace("ё", "е")
    folded = re.sub(r"\s+", " ", folded)
    return folded


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    """Lowercased zone names and their last components ("new york") -> zone name."""
    index: dict[str, str] = {}
    cities: dict[str, list[str]] = {}
    for name in available_timezones():
        index[name.lower()] = name
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            cities.setdefault(city, []).append(name)
    for city, names in cities.items():
        # Some cities appear under two areas (Asia/Istanbul, Europe/Istanbul), both links
        # to one zone: pick one deterministically.
        canonical = sorted(names, key=lambda n: (n.count("/"), len(n), n))[0]
        index.setdefault(city, canonical)
    return index


def _offset_zone(total_minutes: int) -> str | None:
    if total_minutes == 0:
        return "UTC"
    if total_minutes % 60 == 0:
        hours = total_minutes // 60
        if not -12 <= hours <= 14:
            return None
        # POSIX zone names invert the sign: Etc/GMT-5 is five hours ahead of UTC.
        return f"Etc/GMT{-hours:+d}"
    return _FRACTIONAL_OFFSET_ZONES.get(total_minutes)


def parse_timezone(text: str) -> str | None:
    """A zone name from what a person typed: an IANA name in any case ("asia/omsk"), a city
    ("Омск", "Tashkent", "New York"), an offset ("UTC+5", "+05:00", "GMT-3", "МСК+3").
    Whole-hour offsets become fixed zones such as "Etc/GMT-5"; None if nothing matches."""
    folded = _fold(text)
    if not folded or len(folded) > 64:
        return None
    if folded in {"utc", "gmt", "z", "utc+0", "gmt+0", "utc-0", "gmt-0"}:
        return "UTC"
    place = _PLACE_ZONES.get(folded)
    if place:
        return place
    zone = _zone_index().get(folded) or _zone_index().get(folded.replace("_", " "))
    if zone:
        return zone
    match = _OFFSET_PATTERN.match(folded.replace(" ", ""))
    if match and match.group("sign"):
        minutes = int(match.group("hours")) * 60 + int(match.group("minutes") or 0)
        if int(match.group("minutes") or 0) >= 60:
            return None
        sign = 1 if match.group("sign") == "+" else -1
        base = match.group("base")
        if base in {"мск", "msk"}:
            minutes = sign * minutes + MOSCOW_UTC_OFFSET_HOURS * 60
            return _offset_zone(minutes)
        return _offset_zone(sign * minutes)
    return None


def is_valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_time(text: str) -> str | None:
    """A digest time "HH:MM" from "8:30", "08:30", "0830", "8.30", "8", "8 pm"; None if
    it is not a time of day."""
    folded = _fold(text)
    match = _TIME_PATTERN.match(folded)
    if not match:
        return None
    hours = int(match.group("hours"))
    minutes = int(match.group("minutes") or match.group("compact") or 0)
    meridiem = match.group("meridiem")
    if meridiem:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if meridiem.startswith("p") else 0)
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"
