"""task.elapseditem.* — elapsed-time records (facts §4.1).

These legacy methods take POSITIONAL parameters: the values of the query in
the order sent, whatever their names (`array_values`). For getlist, a first
value that is an array means "no TASKID" (the portal prepends TASKID 0), so
`[ORDER, FILTER, SELECT, PARAMS]` searches all tasks. Every field comes back
as a string; dates are server time with offset
(b24-examples/task.elapseditem.getlist.json).

Paging (getlist): PARAMS.NAV_PARAMS {nPageSize ≤ 50, iNumPage 1-based}.
Without NAV_PARAMS: all rows of the task when TASKID is given, else the
first 50. The answer carries `total`. Rows are limited to tasks the caller
may read (CHECK_RIGHTS), so portal-wide sync needs an admin.

Errors are 400 ERROR_CORE with the messages the docs list ("Task not
found", "ACTION_NOT_ALLOWED", ...; task-elapsed-item-*.md).
"""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from .. import clock, errors
from ..filters import Field, compile_filter, sort_rows
from ..php import as_dict, as_list, is_array
from ..rest import Call, Page, method
from ..state import SOURCE_MANUAL, Portal, TimeRecord

MANIFEST = json.loads((Path(__file__).resolve().parents[1] / "data" / "elapseditem_manifest.json").read_text())

FIELDS = ("ID", "TASK_ID", "USER_ID", "COMMENT_TEXT", "SECONDS", "MINUTES", "SOURCE",
          "CREATED_DATE", "DATE_START", "DATE_STOP")
SORTABLE = {
    "ID": Field(lambda r: r.id), "TASK_ID": Field(lambda r: r.task_id), "USER_ID": Field(lambda r: r.user_id),
    "SECONDS": Field(lambda r: r.seconds), "MINUTES": Field(lambda r: minutes(r.seconds)),
    "CREATED_DATE": Field(lambda r: r.created_date, "date"), "DATE_START": Field(lambda r: r.date_start, "date"),
    "DATE_STOP": Field(lambda r: r.date_stop, "date"),
}
# Only these four are filterable, with ! < <= > >= (getmanifest "allowedKeyPrefixes").
FILTERABLE = {k: SORTABLE[k] for k in ("ID", "TASK_ID", "USER_ID", "CREATED_DATE")}
FILTER_OPS = ("!", "<=", "<", ">=", ">", "")
UPDATABLE = {"MINUTES", "SECONDS", "COMMENT_TEXT", "CREATED_DATE"}  # REST update asserts on others (facts §4.1)
MAX_PAGE = 50

TASK_NOT_FOUND = "Task not found"
NOT_ALLOWED = "ACTION_NOT_ALLOWED"
WRONG_PARAMS = "Invalid method parameters provided"


def minutes(seconds: int) -> int:
    return int(seconds / 60 + 0.5)  # PHP round(): halves go up


def record_row(portal: Portal, rec: TimeRecord, select=None) -> dict:
    tz = portal.time_zone
    row = {
        "ID": str(rec.id), "TASK_ID": str(rec.task_id), "USER_ID": str(rec.user_id),
        "COMMENT_TEXT": rec.comment, "SECONDS": str(rec.seconds), "MINUTES": str(minutes(rec.seconds)),
        "SOURCE": str(rec.source), "CREATED_DATE": clock.iso(rec.created_date, tz),
        "DATE_START": clock.iso(rec.date_start, tz), "DATE_STOP": clock.iso(rec.date_stop, tz),
    }
    wanted = [str(s).upper() for s in as_list(select) if str(s) not in ("", "*")]
    if wanted:
        row = {k: v for k, v in row.items() if k in wanted}
    return row


def _int(value, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise errors.core(WRONG_PARAMS + f" ({what})") from None


def _arg(args: list, position: int, name: str, action: str) -> int:
    """A positional integer argument, refused in the portal's own words when
    it is not one. Seen from real portals (b24phpsdk issue #180, a TASKID sent
    in the wrong place): `TASKS_ERROR_EXCEPTION_#256; Param #0 (taskId) for
    method ctaskelapseditem::getlist() expected to be of type "integer", but
    given something else.; 256/TE/WRONG_ARGUMENTS`. This is what a client
    that adds parameters of its own meets (fast_bitrix24's `__order` inside
    batch commands shifts every value by one)."""
    value = args[position]
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise errors.core(
            f"TASKS_ERROR_EXCEPTION_#256; Param #{position} ({name}) for method ctaskelapseditem::{action}() "
            f'expected to be of type "integer", but given something else.; 256/TE/WRONG_ARGUMENTS') from None


def _task(call: Call, task_id: int):
    task = call.portal.tasks.get(task_id)
    if task is None:
        raise errors.core(TASK_NOT_FOUND)
    if not call.portal.can_read_task(call.user, task):
        raise errors.core(NOT_ALLOWED)
    return task


def _record(call: Call, task_id: int, item_id: int) -> TimeRecord:
    _task(call, task_id)
    rec = call.portal.time.get(item_id)
    if rec is None or rec.task_id != task_id:
        raise errors.core(NOT_ALLOWED)
    return rec


def _may_change(call: Call, rec: TimeRecord) -> bool:
    """Portal admins, the task's creator and the record's author (CTaskElapsedItem::isActionAllowed)."""
    task = call.portal.tasks[rec.task_id]
    return call.user.admin or call.user.id in (rec.user_id, task.created_by)


@method("task.elapseditem.getlist", scope="task")
def getlist(call: Call) -> Page:
    args = call.positional()
    if args and is_array(args[0]):
        args = [0, *args]   # no TASKID: the first value is ORDER (facts §4.1)
    args += [None] * (5 - len(args))
    task_id = _arg([args[0] or 0], 0, "taskId", "getlist")
    order, filt, select, params = args[1], args[2], args[3], args[4]
    for key in (as_dict(order) if order else {}):
        if str(key).upper() not in SORTABLE:
            raise errors.core(f"{WRONG_PARAMS} (order by {key})")
    keep = compile_filter(as_dict(filt) if filt else {}, FILTERABLE, call.tz, allowed_ops=FILTER_OPS, strict=True)
    portal = call.portal
    if task_id:
        _task(call, task_id)
    fast = _id_cursor(call, task_id, order, filt, params)
    if fast is not None:
        return fast
    rows = [r for r in portal.time.values()
            if (not task_id or r.task_id == task_id)
            and portal.can_read_task(call.user, portal.tasks[r.task_id]) and keep(r)]
    rows = sort_rows(rows, as_dict(order) if order else {}, SORTABLE, ("ID", "asc"))
    nav = as_dict(as_dict(params).get("NAV_PARAMS")) if params else {}
    if nav or not task_id:
        size = _int(nav.get("nPageSize", MAX_PAGE), "nPageSize")
        size = MAX_PAGE if size <= 0 else min(size, MAX_PAGE)
        number = max(1, _int(nav.get("iNumPage", 1), "iNumPage"))
        chunk = rows[(number - 1) * size:number * size]
    else:
        chunk = rows
    return Page([record_row(portal, r, select) for r in chunk], total=len(rows))


def _id_cursor(call: Call, task_id: int, order, filt, params) -> Page | None:
    """The sync's `>ID` paging over the whole portal by an admin, answered
    from the portal's ID index: the same rows and total as the scan below,
    without reading every record for every page."""
    order_ = {str(k).upper(): str(v).lower() for k, v in (as_dict(order) if order else {}).items()}
    filt_ = as_dict(filt) if filt else {}
    nav = as_dict(as_dict(params).get("NAV_PARAMS")) if params else {}
    if task_id or not call.user.admin or order_ not in ({}, {"ID": "asc"}) or set(filt_) != {">ID"}:
        return None
    try:
        after = int(str(filt_[">ID"]).strip())
        size = int(str(nav.get("nPageSize", MAX_PAGE)).strip())
        number = max(1, int(str(nav.get("iNumPage", 1)).strip()))
    except (TypeError, ValueError):
        return None
    size = MAX_PAGE if size <= 0 else min(size, MAX_PAGE)
    rows, total = call.portal.time_after(after, number * size)
    return Page([record_row(call.portal, r, _select_of(call)) for r in rows[(number - 1) * size:]], total=total)


def _select_of(call: Call):
    args = call.positional()
    if args and is_array(args[0]):
        args = [0, *args]
    return args[3] if len(args) > 3 else None


@method("task.elapseditem.get", scope="task")
def get(call: Call):
    args = call.positional() + [None, None]
    rec = _record(call, _arg(args, 0, "taskId", "get"), _arg(args, 1, "itemId", "get"))
    row = record_row(call.portal, rec)
    return [row] if call.portal.elapseditem_get_as_list else row


@method("task.elapseditem.add", scope="task")
def add(call: Call) -> int:
    args = call.positional() + [None, None]
    if is_array(args[0]):
        raise errors.core(f"{WRONG_PARAMS} (TASKID)")
    task = _task(call, _int(args[0], "TASKID"))
    fields = {str(k).upper(): v for k, v in as_dict(args[1]).items()}
    if "SECONDS" not in fields and "MINUTES" not in fields or "COMMENT_TEXT" not in fields:
        raise errors.core(f"{WRONG_PARAMS} (SECONDS and COMMENT_TEXT are required)")
    seconds = _int(fields["SECONDS"], "SECONDS") if "SECONDS" in fields else _int(fields["MINUTES"], "MINUTES") * 60
    user_id = _int(fields.get("USER_ID", call.user.id), "USER_ID")
    if user_id != call.user.id and not call.user.admin:
        raise errors.core(NOT_ALLOWED)
    if user_id not in call.portal.users:
        raise errors.core(f"{WRONG_PARAMS} (USER_ID)")
    now = clock.now()
    worked = clock.parse(fields["CREATED_DATE"], call.tz) if fields.get("CREATED_DATE") else now
    if worked is None:
        raise errors.core(f"{WRONG_PARAMS} (CREATED_DATE)")
    start = clock.parse(fields.get("DATE_START"), call.tz) or now
    stop = clock.parse(fields.get("DATE_STOP"), call.tz) or start + timedelta(seconds=seconds)
    source = _int(fields.get("SOURCE", SOURCE_MANUAL), "SOURCE")
    return call.portal.add_time(task.id, user_id, seconds, worked, str(fields["COMMENT_TEXT"]), source, start, stop)


@method("task.elapseditem.update", scope="task")
def update(call: Call) -> None:
    args = call.positional() + [None, None, None]
    rec = _record(call, _int(args[0], "TASKID"), _int(args[1], "ITEMID"))
    if not _may_change(call, rec):
        raise errors.core(NOT_ALLOWED)
    fields = {str(k).upper(): v for k, v in as_dict(args[2]).items()}
    if not fields or set(fields) - UPDATABLE:
        raise errors.core(f"{WRONG_PARAMS} (ARFIELDS)")
    seconds = None
    if "SECONDS" in fields:
        seconds = _int(fields["SECONDS"], "SECONDS")
    elif "MINUTES" in fields:
        seconds = _int(fields["MINUTES"], "MINUTES") * 60
    worked = None
    if fields.get("CREATED_DATE"):
        worked = clock.parse(fields["CREATED_DATE"], call.tz)
        if worked is None:
            raise errors.core(f"{WRONG_PARAMS} (CREATED_DATE)")
    comment = str(fields["COMMENT_TEXT"]) if "COMMENT_TEXT" in fields else None
    call.portal.update_time(rec.id, seconds, worked, comment)
    return None


@method("task.elapseditem.delete", scope="task")
def delete(call: Call) -> None:
    args = call.positional() + [None, None]
    rec = _record(call, _int(args[0], "TASKID"), _int(args[1], "ITEMID"))
    if not _may_change(call, rec):
        raise errors.core(NOT_ALLOWED)
    call.portal.delete_time(rec.id)
    return None


@method("task.elapseditem.isactionallowed", scope="task")
def isactionallowed(call: Call) -> bool:
    args = call.positional() + [None, None, None]
    task_id, item_id, action = _int(args[0], "TASKID"), _int(args[1] or 0, "ITEMID"), _int(args[2], "ACTIONID")
    _task(call, task_id)
    if action == 1:   # add
        return True
    rec = call.portal.time.get(item_id)
    return bool(rec and rec.task_id == task_id and _may_change(call, rec))


@method("task.elapseditem.getmanifest", scope="task")
def getmanifest(call: Call) -> dict:
    return MANIFEST
