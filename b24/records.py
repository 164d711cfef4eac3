"""Bitrix24 elapsed-time records → the ledger's snapshots.

The one place that knows how `task.elapseditem.*` spells a record. Every
field arrives as a string. The trap (bitrix24-facts §4.1): the day the work
was done is CREATED_DATE, the field a user picks when logging time by hand
(the docs call it the "start date"); DATE_START and DATE_STOP say when the
record itself was made or the timer ran. A back-dated manual entry has
CREATED_DATE in the past and DATE_START today, so attributing by DATE_START
would put last month's work into this month.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.entries import EntrySnapshot


class BadRecord(ValueError):
    """The portal sent a record we cannot read; it is reported, never guessed."""


def _int(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    if isinstance(value, bool):
        raise BadRecord(f"{name} is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise BadRecord(f"{name} is not an integer: {value!r}")


def _instant(item: Mapping[str, Any], name: str) -> datetime:
    value = item.get(name)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRecord(f"{name} is not an ISO 8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        # The REST API always sends server time with its offset; without one
        # we cannot know the day, and a wrong day moves hours between months.
        raise BadRecord(f"{name} has no UTC offset: {value!r}")
    return parsed


def work_at(item: Mapping[str, Any]) -> datetime:
    """When the work was done: CREATED_DATE (see the module docstring)."""
    return _instant(item, "CREATED_DATE")


def snapshot_from_elapseditem(portal_id: int, item: Mapping[str, Any]) -> EntrySnapshot:
    if "SECONDS" in item and item["SECONDS"] not in (None, ""):
        seconds = _int(item, "SECONDS")
    else:  # MINUTES is derived by the server (round(SECONDS/60)); only a fallback
        seconds = _int(item, "MINUTES") * 60
    return EntrySnapshot(
        portal_id=portal_id,
        record_id=_int(item, "ID"),
        task_id=_int(item, "TASK_ID"),
        user_id=_int(item, "USER_ID"),
        duration_s=seconds,
        work_at=work_at(item),
        comment=str(item.get("COMMENT_TEXT") or ""),
    )
