"""Dates the way the REST API writes and reads them.

Output: "server time with its offset", `YYYY-MM-DDThh:mm:ss±hh:mm`
(facts §9, api-reference/data-types.md). The emulator's server zone is the
portal's time zone. Input: ISO 8601 with an offset is exact; a bare date or
a time without offset is read in the server zone; anything else matches
nothing (user.get says unrecognised values match nothing; facts §9).

`now()` is the one clock of the emulator, so tests can move it
(`clock.offset_s`) instead of sleeping.
"""
from __future__ import annotations

import time as _time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

offset_s = 0.0  # tests may shift the emulator's clock; real time otherwise


def now_ts() -> float:
    return _time.time() + offset_s


def now() -> datetime:
    return datetime.fromtimestamp(now_ts(), timezone.utc)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def iso(value: datetime | None, tz: str) -> str:
    """A stored instant in the portal's zone, seconds precision, with offset."""
    if value is None:
        return ""
    return value.astimezone(zone(tz)).replace(microsecond=0).isoformat()


def iso_ts(ts: float, tz: str) -> str:
    return iso(datetime.fromtimestamp(ts, timezone.utc), tz)


def parse(value, tz: str) -> datetime | None:
    """An incoming date/datetime filter or field value, or None if unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone(tz))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # The portal's short format (dd.mm.yyyy [hh:mi:ss]) is accepted too (facts §9).
        for fmt in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y"):
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return parsed.astimezone(timezone.utc)


def time_block(start: float, finish: float, processing: float, tz: str,
               operating: float = 0.0, operating_reset_at: int | None = None) -> dict:
    """The `time` object of every answer (b24-examples/time-object.json)."""
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": iso_ts(start, tz),
        "date_finish": iso_ts(finish, tz),
        "operating_reset_at": int(operating_reset_at if operating_reset_at is not None else start + 600),
        "operating": operating,
    }
