"""tasks.task.list / tasks.task.get (facts §4.4, tasks-task-list.md, -get.md).

Parameters are named (`order`, `filter`, `select`, `params`, `start` /
`taskId`, `select`); `select` takes UPPER_CASE field names and the answer
uses camelCase keys, all values strings (b24-examples/tasks.task.list.json,
tasks.task.get.json). UF_CRM_TASK comes back only when selected; TAGS as
`{id: {id, title}}`. The list is `{"result": {"tasks": [...]}, "total",
"next"}`, 50 per page, ordered by ID descending unless told otherwise.

Filter: ID (a value or a list), the usual prefixes, GROUP_ID,
RESPONSIBLE_ID, CREATED_BY, PARENT_ID, CHANGED_DATE / CREATED_DATE /
CLOSED_DATE, UF_CRM_TASK and TAG (any of), REAL_STATUS and STATUS (STATUS
also knows the meta values -1 overdue, -2 unviewed, -3 almost overdue; the
emulator computes only -1).
"""
from __future__ import annotations

from .. import clock, errors
from ..filters import Field, compile_filter, like, page, sort_rows
from ..php import as_dict, as_list
from ..rest import Call, Page, method
from ..state import Portal, Task


def _s(value) -> str:
    return "" if value is None else str(value)


# UPPER_CASE select name -> (camelCase key, value builder)
def _columns(p: Portal) -> dict:
    tz = p.time_zone
    return {
        "ID": ("id", lambda t: str(t.id)),
        "PARENT_ID": ("parentId", lambda t: str(t.parent_id)),
        "TITLE": ("title", lambda t: t.title),
        "DESCRIPTION": ("description", lambda t: t.description),
        "MARK": ("mark", lambda t: ""),
        "PRIORITY": ("priority", lambda t: str(t.priority)),
        "STATUS": ("status", lambda t: str(t.status)),
        "REAL_STATUS": ("status", lambda t: str(t.status)),
        "SUB_STATUS": ("subStatus", lambda t: str(_sub_status(t))),
        "SUBSTATUS": ("subStatus", lambda t: str(_sub_status(t))),   # the docs select "subStatus"
        "MULTITASK": ("multitask", lambda t: "N"),
        "NOT_VIEWED": ("notViewed", lambda t: "N"),
        "REPLICATE": ("replicate", lambda t: "N"),
        "GROUP_ID": ("groupId", lambda t: str(t.group_id)),
        "STAGE_ID": ("stageId", lambda t: "0"),
        "CREATED_BY": ("createdBy", lambda t: str(t.created_by)),
        "CREATED_DATE": ("createdDate", lambda t: clock.iso(t.created_date, tz)),
        "RESPONSIBLE_ID": ("responsibleId", lambda t: str(t.responsible_id)),
        "CHANGED_BY": ("changedBy", lambda t: str(t.changed_by)),
        "CHANGED_DATE": ("changedDate", lambda t: clock.iso(t.changed_date, tz)),
        "STATUS_CHANGED_BY": ("statusChangedBy", lambda t: str(t.status_changed_by)),
        "STATUS_CHANGED_DATE": ("statusChangedDate", lambda t: clock.iso(t.status_changed_date, tz)),
        "CLOSED_BY": ("closedBy", lambda t: str(t.closed_by) if t.closed_by else None),
        "CLOSED_DATE": ("closedDate", lambda t: clock.iso(t.closed_date, tz) or None),
        "ACTIVITY_DATE": ("activityDate", lambda t: clock.iso(t.activity_date, tz)),
        "DATE_START": ("dateStart", lambda t: None),
        "DEADLINE": ("deadline", lambda t: clock.iso(t.deadline, tz) or None),
        "ALLOW_TIME_TRACKING": ("allowTimeTracking", lambda t: "Y" if t.allow_time_tracking else "N"),
        "TIME_ESTIMATE": ("timeEstimate", lambda t: str(t.time_estimate)),
        "TIME_SPENT_IN_LOGS": ("timeSpentInLogs", lambda t: _s(p.time_spent(t.id)) or None),
        "DESCRIPTION_IN_BBCODE": ("descriptionInBbcode", lambda t: "Y"),
        "FAVORITE": ("favorite", lambda t: "N"),
        "ACCOMPLICES": ("accomplices", lambda t: [str(u) for u in t.accomplices]),
        "AUDITORS": ("auditors", lambda t: [str(u) for u in t.auditors]),
        "TAGS": ("tags", lambda t: {str(p.tag_ids[x]): {"id": p.tag_ids[x], "title": x} for x in t.tags} or []),
        "UF_CRM_TASK": ("ufCrmTask", lambda t: list(t.crm)),
    }


# What comes back without `select`: the stored fields, no UF_*, no tags (tasks-task-list.md).
DEFAULT_SELECT = ("ID", "PARENT_ID", "TITLE", "DESCRIPTION", "MARK", "PRIORITY", "MULTITASK", "NOT_VIEWED",
                  "REPLICATE", "STAGE_ID", "CREATED_BY", "CREATED_DATE", "RESPONSIBLE_ID", "CHANGED_BY",
                  "CHANGED_DATE", "STATUS_CHANGED_BY", "CLOSED_BY", "CLOSED_DATE", "ACTIVITY_DATE",
                  "DATE_START", "DEADLINE", "ALLOW_TIME_TRACKING", "TIME_ESTIMATE", "TIME_SPENT_IN_LOGS",
                  "DESCRIPTION_IN_BBCODE", "STATUS", "STATUS_CHANGED_DATE", "FAVORITE", "GROUP_ID")
ALL_SELECT = DEFAULT_SELECT + ("ACCOMPLICES", "AUDITORS", "TAGS")


def _sub_status(task: Task) -> int:
    if task.status < 4 and task.deadline and task.deadline < clock.now():
        return -1   # overdue
    return task.status


def _user_data(p: Portal, uid: int) -> dict:
    user = p.users.get(uid)
    return {"id": str(uid), "name": user.full_name if user else "", "link": f"/company/personal/user/{uid}/",
            "icon": "/bitrix/images/tasks/default_avatar.png", "workPosition": user.work_position if user else ""}


def _group_data(p: Portal, gid: int):
    group = p.group_rows.get(gid)
    if not group:
        return []
    return {"id": str(group.id), "name": group.name, "opened": group.opened,
            "membersCount": len(group.members), "image": "", "additionalData": []}


def task_row(p: Portal, task: Task, select) -> dict:
    columns = _columns(p)
    names = [str(s).upper() for s in as_list(select)]
    if not names:
        names = list(DEFAULT_SELECT)
    elif "*" in names:
        names = list(ALL_SELECT) + [n for n in names if n.startswith("UF_")]
    row: dict = {}
    for name in names:
        if name in columns:
            key, build = columns[name]
            row[key] = build(task)
    # Objects the portal adds next to the ids it was asked for (tasks.task.get.json).
    row["group"] = _group_data(p, task.group_id)
    if "CREATED_BY" in names:
        row["creator"] = _user_data(p, task.created_by)
    if "RESPONSIBLE_ID" in names:
        row["responsible"] = _user_data(p, task.responsible_id)
    if "ACCOMPLICES" in names:
        row["accomplicesData"] = {str(u): _user_data(p, u) for u in task.accomplices} or []
    if "AUDITORS" in names:
        row["auditorsData"] = {str(u): _user_data(p, u) for u in task.auditors} or []
    return row


def _fields(p: Portal) -> dict[str, Field]:
    return {
        "ID": Field(lambda t: t.id), "PARENT_ID": Field(lambda t: t.parent_id),
        "GROUP_ID": Field(lambda t: t.group_id), "CREATED_BY": Field(lambda t: t.created_by),
        "RESPONSIBLE_ID": Field(lambda t: t.responsible_id), "CHANGED_BY": Field(lambda t: t.changed_by),
        "STATUS_CHANGED_BY": Field(lambda t: t.status_changed_by), "PRIORITY": Field(lambda t: t.priority),
        "REAL_STATUS": Field(lambda t: t.status), "TITLE": Field(lambda t: t.title, "str"),
        "CREATED_DATE": Field(lambda t: t.created_date, "date"),
        "CHANGED_DATE": Field(lambda t: t.changed_date, "date"),
        "CLOSED_DATE": Field(lambda t: t.closed_date, "date"),
        "ACTIVITY_DATE": Field(lambda t: t.activity_date, "date"),
        "DEADLINE": Field(lambda t: t.deadline, "date"),
        "TIME_SPENT_IN_LOGS": Field(lambda t: p.time_spent(t.id) or 0),
        "TIME_ESTIMATE": Field(lambda t: t.time_estimate),
        "ALLOW_TIME_TRACKING": Field(lambda t: "Y" if t.allow_time_tracking else "N", "yn"),
        "UF_CRM_TASK": Field(lambda t: t.crm, "multi"), "TAG": Field(lambda t: t.tags, "multi"),
        "ACCOMPLICE": Field(lambda t: [str(u) for u in t.accomplices], "multi"),
        "AUDITOR": Field(lambda t: [str(u) for u in t.auditors], "multi"),
    }


# Sortable per tasks-task-list.md but not modelled: every task has the same value.
_SORT_ONLY = ("DATE_START", "START_DATE_PLAN", "END_DATE_PLAN", "STATUS_COMPLETE", "MARK", "FAVORITE", "SORTING",
              "IS_PINNED", "IS_PINNED_IN_GROUP", "CREATED_BY_LAST_NAME", "RESPONSIBLE_LAST_NAME",
              "ALLOW_CHANGE_DEADLINE", "MATCH_WORK_TIME")


def _status_filter(task: Task, op: str, wants: list) -> bool:
    values = []
    for w in wants:
        try:
            values.append(int(str(w)))
        except ValueError:
            return False
    hit = _sub_status(task) in values or task.status in values
    return not hit if op in ("!", "!=", "!@") else hit


def _title_filter(task: Task, op: str, wants: list) -> bool:
    """TITLE "can search by pattern [%_]" (tasks-task-list.md); `%TITLE` is a substring search."""
    if op.lstrip("!") == "%":
        hit = any(str(w).lower() in task.title.lower() for w in wants)
    else:
        hit = any(like(str(w)).match(task.title) for w in wants)
    return not hit if op.startswith("!") else hit


@method("tasks.task.list", scope="task")
def task_list(call: Call) -> Page:
    p = call.portal
    fields = _fields(p)
    keep = compile_filter(as_dict(call.get("filter") or {}), fields, call.tz,
                          special={"STATUS": _status_filter, "TITLE": _title_filter})
    rows = [t for t in p.tasks.values() if p.can_read_task(call.user, t) and keep(t)]
    order = as_dict(call.get("order") or {})
    sortable = {**fields, "STATUS": fields["REAL_STATUS"], **{k: Field(lambda t: 0) for k in _SORT_ONLY}}
    for key in order:
        if str(key).upper() not in sortable:
            # tasks-task-list.md "Error Handling": a field that cannot be sorted.
            raise errors.RestError("0", "Invalid sorting key (internal error)", 400)
    rows = sort_rows(rows, order, sortable, ("ID", "desc"))
    chunk = page(rows, call.start)
    select = call.get("select")
    return Page({"tasks": [task_row(p, t, select) for t in chunk.result]}, chunk.total, chunk.next)


@method("tasks.task.get", scope="task")
def task_get(call: Call) -> dict:
    raw = call.get("taskId", call.get("id"))
    if raw is None or raw == "":
        raise errors.RestError("100", "CTaskItem All parameters in the constructor must have real class type "
                                      "(internal error)", 400)
    try:
        task_id = int(str(raw))
    except ValueError:
        raise errors.RestError("0", "wrong task id", 400) from None
    task = call.portal.tasks.get(task_id)
    if task is None or not call.portal.can_read_task(call.user, task):
        # Not documented; the portal refuses without telling "missing" from "no access".
        raise errors.RestError("ERROR_CORE", "Task not found or access denied", 400)
    select = call.get("select")
    row = task_row(call.portal, task, select)
    row["action"] = {"accept": False, "decline": False, "complete": task.status != 5, "approve": False,
                     "disapprove": False, "start": task.status == 2, "pause": task.status == 3,
                     "delegate": True, "remove": True, "edit": True, "defer": True, "renew": task.status == 5,
                     "create": True, "changeDeadline": True, "elapsedtime.add": True,
                     "dayplan.timer.toggle": True}
    return {"task": row}
