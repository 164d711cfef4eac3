"""Pure parts: rounding, hours, calendar (DST), tariff options."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from ledger import calendar as cal
from ledger.hours import format_hm, format_hours, parse_hours
from ledger.plan import tariff_options
from ledger.rounding import RoundingRule, round_seconds

ROUNDING = [  # (mode, step, seconds, expected)
    ("none", 0, 601, 601),
    ("none", 900, 601, 601),
    ("up", 900, 0, 0),
    ("up", 900, 1, 900),
    ("up", 900, 900, 900),
    ("up", 900, 901, 1800),
    ("down", 900, 899, 0),
    ("down", 900, 1799, 900),
    ("nearest", 900, 449, 0),
    ("nearest", 900, 450, 900),
    ("nearest", 900, 1349, 900),
    ("nearest", 900, 1350, 1800),
    ("up", 60, 61, 120),
    ("up", 1, 61, 61),
]


@pytest.mark.parametrize("mode,step,seconds,expected", ROUNDING)
def test_round_seconds_table(mode, step, seconds, expected):
    assert round_seconds(seconds, RoundingRule(mode, step)) == expected


def test_rounding_refuses_nonsense():
    with pytest.raises(ValueError):
        RoundingRule("ceil", 60)
    with pytest.raises(ValueError):
        round_seconds(-1, RoundingRule())


@pytest.mark.parametrize("text,seconds", [
    ("40", 144000), ("1.5", 5400), ("1,5", 5400), ("1:30", 5400), ("0:10", 600), ("90m", 5400),
    ("2h 15m", 8100), ("2ч 15мин", 8100), ("-2", -7200), ("0.25", 900), ("1:00:30", 3630), ("45s", 45),
])
def test_parse_hours(text, seconds):
    assert parse_hours(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1.00001", "1:75", "nan", "inf", "1e400", "2 h x", None])
def test_parse_hours_refuses(text):
    with pytest.raises(ValueError):
        parse_hours(text)


def test_format_hours_never_rounds_up():
    assert format_hours(3 * 3600 + 1800) == "3 ч 30 мин"
    assert format_hours(3 * 3600 + 1800, "en") == "3 h 30 min"
    assert format_hours(600) == "10 мин"
    assert format_hours(-3600) == "−1 ч"
    assert format_hm(12 * 3600 + 5 * 60 + 59) == "12:05"


def test_month_bounds_in_moscow_have_no_dst():
    start, end = cal.month_bounds(date(2026, 3, 1), "Europe/Moscow")
    assert start == datetime(2026, 2, 28, 21, tzinfo=timezone.utc)
    assert end == datetime(2026, 3, 31, 21, tzinfo=timezone.utc)


@pytest.mark.parametrize("tz,monday,hours", [
    ("Europe/Berlin", date(2026, 3, 23), 167),     # spring forward on Sunday 29 March
    ("Europe/Berlin", date(2026, 10, 19), 169),    # fall back on Sunday 25 October
    ("America/New_York", date(2026, 3, 2), 167),   # 8 March
    ("America/New_York", date(2026, 10, 26), 169), # 1 November
    ("Europe/Moscow", date(2026, 3, 23), 168),
])
def test_week_across_dst_is_monday_to_sunday_local(tz, monday, hours):
    start, end = cal.week_bounds(monday, tz)
    assert end - start == timedelta(hours=hours)
    assert start.astimezone(cal.zone(tz)).hour == 0 and end.astimezone(cal.zone(tz)).hour == 0
    assert start.astimezone(cal.zone(tz)).weekday() == 0


@pytest.mark.parametrize("tz,month,hours", [
    ("Europe/Berlin", date(2026, 3, 1), 31 * 24 - 1),
    ("Europe/Berlin", date(2026, 10, 1), 31 * 24 + 1),
    ("America/New_York", date(2026, 11, 1), 30 * 24 + 1),
    ("Europe/Moscow", date(2026, 10, 1), 31 * 24),
])
def test_month_across_dst(tz, month, hours):
    start, end = cal.month_bounds(month, tz)
    assert end - start == timedelta(hours=hours)


def test_week_labels():
    assert cal.parse_week("2026-W47") == date(2026, 11, 16)
    assert cal.week_of(datetime(2026, 11, 22, 22, tzinfo=timezone.utc), "Europe/Moscow") == date(2026, 11, 23)
    for bad in ("2026-47", "2026-W54", ""):
        with pytest.raises(ValueError):
            cal.parse_week(bad)
    with pytest.raises(ValueError):
        cal.week_bounds(date(2026, 11, 17), "Europe/Moscow")


def test_months():
    assert cal.add_months(date(2026, 11, 15), 2) == date(2027, 1, 1)
    assert cal.add_months(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert cal.months_between(date(2025, 12, 1), date(2026, 2, 1)) == 2
    for bad in ("2026-13", "26-01", "2026/01"):
        with pytest.raises(ValueError):
            cal.parse_month(bad)
    with pytest.raises(ValueError):
        cal.zone("Mars/Olympus")


def test_tariff_options_for_the_seeds_160_hours():
    options = {o.tariff_h: o for o in tariff_options(160 * 3600, 2_500_00)}
    assert (options[80].months, options[40].months, options[20].months) == (2, 4, 8)
    assert options[40].monthly_price_minor == 100_000_00 and options[40].total_price_minor == 400_000_00
    assert options[120].months == 2 and options[120].spare_s == 80 * 3600
    assert all(o.months == 0 for o in tariff_options(0, 100))
