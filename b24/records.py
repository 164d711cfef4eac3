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
from dataclasses import dataclass
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
    if isinstance(value, str) and value.strip().isdecimal():
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


@dataclass(frozen=True)
class TaskInfo:
    """What the ledger needs of a task, read from `tasks.task.list/get`
    (camelCase keys, facts §4.4)."""

    task_id: int
    title: str
    status: int
    group_id: int | None
    parent_id: int | None
    company_id: int | None
    responsible_id: int | None
    tags: tuple[str, ...]
    time_spent_s: int | None


def _opt_int(value: Any) -> int | None:
    if value in (None, "", "0", 0):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tags(value: Any) -> tuple[str, ...]:
    # tasks.task.list answers tags as {"12": {"id": 12, "title": "x"}}; older
    # forms are a list of titles or of such objects.
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    titles = []
    for item in items:
        title = item.get("title") if isinstance(item, dict) else item
        if title:
            titles.append(str(title).strip())
    return tuple(sorted(set(titles)))


def company_of(bindings: Any) -> int | None:
    """The CRM company of UF_CRM_TASK (`["CO_591", "D_1723"]`), if any."""
    for binding in bindings or []:
        if isinstance(binding, str) and binding.startswith("CO_") and binding[3:].isdecimal():
            return int(binding[3:])
    return None


def task_from_api(item: Mapping[str, Any]) -> TaskInfo:
    task_id = _opt_int(item.get("id") or item.get("ID"))
    if task_id is None:
        raise BadRecord(f"task without an id: {item!r}"[:200])
    spent = item.get("timeSpentInLogs")
    return TaskInfo(
        task_id=task_id,
        title=str(item.get("title") or ""),
        status=_opt_int(item.get("status")) or 2,
        group_id=_opt_int(item.get("groupId")),
        parent_id=_opt_int(item.get("parentId")),
        company_id=company_of(item.get("ufCrmTask")),
        responsible_id=_opt_int(item.get("responsibleId")),
        tags=_tags(item.get("tags")),
        time_spent_s=None if spent in (None, "") else int(spent),
    )
