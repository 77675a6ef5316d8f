"""Feed dates as Russian outlets write them.

feedparser reads the zone "MSK" as UTC and gives up on Russian month names
(«Ср, 30 апр 2025 10:00:00 +0300»), so dates are parsed here from the raw strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

MOSCOW = timezone(timedelta(hours=3), "MSK")

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "янв": 1,
    "фев": 2,
    "мар": 3,
    "апр": 4,
    "май": 5,
    "мая": 5,
    "июн": 6,
    "июл": 7,
    "авг": 8,
    "сен": 9,
    "окт": 10,
    "ноя": 11,
    "дек": 12,
}

# Zone abbreviations seen in Russian and CIS feeds, plus the RFC 822 ones.
_ZONE_HOURS = {
    "z": 0,
    "ut": 0,
    "utc": 0,
    "gmt": 0,
    "wet": 0,
    "cet": 1,
    "cest": 2,
    "eet": 2,
    "eest": 3,
    "kalt": 2,
    "msk": 3,
    "мск": 3,
    "msd": 4,
    "samt": 4,
    "yekt": 5,
    "uzt": 5,
    "tjt": 5,
    "almt": 5,
    "omst": 6,
    "kgt": 6,
    "novt": 7,
    "krat": 7,
    "irkt": 8,
    "yakt": 9,
    "vlat": 10,
    "magt": 11,
    "pett": 12,
    "est": -5,
    "edt": -4,
    "cst": -6,
    "cdt": -5,
    "mst": -7,
    "mdt": -6,
    "pst": -8,
    "pdt": -7,
}

_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(.*)$"
)
_DAY_MONTH_YEAR = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s+)?"  # weekday, in any language
    r"(\d{1,2})[\s\-]+([^\W\d_]+)\.?[\s\-,]+(\d{2,4})"
    r"(?:(?:\s+|,\s*|\s*[Tв]\s*)(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(.*)$"
)
_MONTH_DAY_YEAR = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s+)?"
    r"([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(.*)$"
)
_DOTTED = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})"
    r"(?:[,\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(.*)$"
)
_NUMERIC_ZONE = re.compile(r"^(?:gmt|utc)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


def _month(name: str) -> int | None:
    return _MONTHS.get(name.lower().replace("ё", "е")[:3])


def _zone(text: str, default: timezone) -> timezone | None:
    """The zone written after the time; `default` when nothing is written."""
    zone = text.strip().strip("()").strip().lower()
    if not zone:
        return default
    if zone in _ZONE_HOURS:
        return timezone(timedelta(hours=_ZONE_HOURS[zone]))
    match = _NUMERIC_ZONE.match(zone)
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if sign == "-" else offset)


def _build(
    year: int,
    month: int | None,
    day: int,
    hour: str | None,
    minute: str | None,
    second: str | None,
    zone_text: str,
    default: timezone,
) -> datetime | None:
    if month is None:
        return None
    if year < 100:
        year += 2000 if year < 70 else 1900
    zone = _zone(zone_text, default)
    if zone is None:
        return None
    try:
        moment = datetime(
            year, month, day, int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone
        )
    except ValueError:
        return None
    return moment.astimezone(UTC)


def parse_feed_date(raw: str | None, *, default_zone: timezone = MOSCOW) -> datetime | None:
    """An aware UTC datetime from an RFC 822, ISO 8601 or Russian-style date string.

    A date written without a zone is taken to be in `default_zone` (Moscow time, the
    convention of Russian outlets).
    """
    if not raw:
        return None
    text = " ".join(raw.split())
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second, rest = match.groups()
        zone_text = rest.replace("Z", "z") if rest else ""
        return _build(
            int(year), int(month), int(day), hour, minute, second, zone_text, default_zone
        )
    match = _DAY_MONTH_YEAR.match(text)
    if match:
        day, month_name, year, hour, minute, second, rest = match.groups()
        return _build(
            int(year), _month(month_name), int(day), hour, minute, second, rest, default_zone
        )
    match = _MONTH_DAY_YEAR.match(text)
    if match:
        month_name, day, year, hour, minute, second, rest = match.groups()
        return _build(
            int(year), _month(month_name), int(day), hour, minute, second, rest, default_zone
        )
    match = _DOTTED.match(text)
    if match:
        day, month, year, hour, minute, second, rest = match.groups()
        return _build(int(year), int(month), int(day), hour, minute, second, rest, default_zone)
    return None


def resolve_item_date(
    parsed: datetime | None, *, fetched_at: datetime, tolerance: timedelta
) -> datetime:
    """The date an item is stored with: its own, unless missing or in the future."""
    if parsed is None or parsed > fetched_at + tolerance:
        return fetched_at
    return parsed
