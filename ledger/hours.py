"""Hours as people write them, to and from integer seconds, exactly.

"1.5", "1,5", "1:30", "90m", "2h 15m" all parse with Decimal, never binary fractions;
formatting never rounds 3 h 30 min to "4 hours" the way Babel's
format_timedelta does.
"""
from __future__ import annotations

import re
from decimal import Decimal

_HM = re.compile(r"^\s*(-)?(\d{1,9}):([0-5]?\d)(?::([0-5]\d))?\s*$")
_NUMBER = re.compile(r"^\d{1,9}(?:[.,]\d{1,9})?$")
MAX_S = 10**9  # about 277,000 hours: more is a typo, not a contract

_UNITS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(h|ч|m|мин|м|s|с)\b", re.IGNORECASE)


def parse_hours(text: str) -> int:
    """Seconds in `text`; raises ValueError on anything ambiguous.

    Decimal hours must come out as whole seconds (0.0001 h would not).
    """
    if text is None:
        raise ValueError("empty duration")
    raw = str(text).strip()
    if not raw:
        raise ValueError("empty duration")
    m = _HM.match(raw)
    if m:
        sign = -1 if m.group(1) else 1
        h, mi, s = int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)
        return sign * _whole_seconds(Decimal(h * 3600 + mi * 60 + s), text)
    sign = 1
    body = raw
    if body.startswith("-"):
        sign, body = -1, body[1:].strip()
    elif body.startswith("+"):
        body = body[1:].strip()
    if _UNITS.search(body):
        total = Decimal(0)
        rest = _UNITS.sub("", body).strip()
        if rest:
            raise ValueError(f"cannot read duration: {text!r}")
        for num, unit in _UNITS.findall(body):
            value = Decimal(num.replace(",", "."))
            u = unit.lower()
            factor = 3600 if u in ("h", "ч") else 60 if u in ("m", "мин", "м") else 1
            total += value * factor
        return sign * _whole_seconds(total, text)
    if not _NUMBER.match(body):
        raise ValueError(f"cannot read duration: {text!r}")
    return sign * _whole_seconds(Decimal(body.replace(",", ".")) * 3600, text)


def _whole_seconds(value: Decimal, text: str) -> int:
    if value != value.to_integral_value():
        raise ValueError(f"duration is not a whole number of seconds: {text!r}")
    if value > MAX_S:
        raise ValueError(f"duration too large: {text!r}")
    return int(value)


def format_hm(duration_s: int) -> str:
    """`12:05` for 12 h 5 min; seconds are truncated for display only."""
    sign = "-" if duration_s < 0 else ""
    minutes = abs(duration_s) // 60
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def format_hours(duration_s: int, lang: str = "ru") -> str:
    """`3 ч 30 мин` / `3 h 30 min`, never rounded up."""
    sign = "−" if duration_s < 0 else ""
    minutes = abs(duration_s) // 60
    h, m = divmod(minutes, 60)
    hu, mu = ("ч", "мин") if lang == "ru" else ("h", "min")
    if h and m:
        return f"{sign}{h} {hu} {m} {mu}"
    if h:
        return f"{sign}{h} {hu}"
    return f"{sign}{m} {mu}"
