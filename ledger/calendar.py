"""Months and weeks in the portal's time zone (PRODUCT.md rule 8).

Bitrix24 hands us instants with offsets; a period is a calendar month and a
week runs Monday to Sunday *in the portal's zone*, so every boundary is a
local midnight turned into a UTC instant here, DST included.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name!r}") from None


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which `day` begins in `tz`."""
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(timezone.utc)


def local_date(at: datetime, tz: str) -> date:
    return at.astimezone(zone(tz)).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """First day of the month `months` after `day`'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + (later.month - earlier.month)


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(label: str) -> date:
    m = _MONTH.match(label or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {label!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_bounds(first: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month beginning on `first`, as UTC instants."""
    return local_midnight(first, tz), local_midnight(add_months(first, 1), tz)


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(label: str) -> date:
    """The Monday of ISO week `YYYY-Www`."""
    m = _WEEK.match(label or "")
    if not m:
        raise ValueError(f"not an ISO week (YYYY-Www): {label!r}")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ValueError(f"no such ISO week: {label!r}") from None


def week_bounds(monday: date, tz: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) in `tz`, as UTC instants. A week
    across a DST change is 167 or 169 hours long, as it should be."""
    if monday.weekday() != 0:
        raise ValueError("a week starts on Monday")
    return local_midnight(monday, tz), local_midnight(monday + timedelta(days=7), tz)


def week_of(at: datetime, tz: str) -> date:
    day = local_date(at, tz)
    return day - timedelta(days=day.weekday())
