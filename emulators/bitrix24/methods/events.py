"""event.bind / unbind / get / test and event.offline.* (facts §3.1, §3.5;
rest/lib/api/event.php; b24-examples/event.*.json).

All need application context (a webhook gets WRONG_AUTH_TYPE). event.bind:
the event name is case-insensitive and stored upper-case; `event_type`
online (needs `handler`) or offline (admin only, no handler); an event the
app's scopes do not offer is 400 ERROR_EVENT_NOT_FOUND; the same event and
handler twice is 400 ERROR_CORE "Unable to set event handler…"; the
handler must be http(s) on a host with a dot (handlerhelper.php).
Non-admins bind as themselves; another `auth_type` needs an admin.

event.offline.get: `filter`, `order` (default TIMESTAMP_X asc), `limit`
(default 50, > 0), `clear` (1 default: returned records are deleted; 0:
they are reserved under a new `process_id`, which needs the
rest_offline_extended feature), `process_id` (re-read a reserved batch).
"""
from __future__ import annotations

import secrets

from .. import clock, errors
from ..errors import RestError
from ..events import EVENTS
from ..filters import Field, compile_filter, page, sort_rows
from ..php import as_dict, as_list
from ..rest import Call, Page, method
from ..state import EventBinding, OfflineRecord
from .placement import check_handler

OFFLINE_FIELDS = {
    "ID": Field(lambda r: r.id), "TIMESTAMP_X": Field(lambda r: r.timestamp_x, "date"),
    "EVENT_NAME": Field(lambda r: r.event_name, "str"), "MESSAGE_ID": Field(lambda r: r.message_id, "str"),
}
LIST_FIELDS = {**OFFLINE_FIELDS, "PROCESS_ID": Field(lambda r: r.process_id, "str"),
               "ERROR": Field(lambda r: r.error)}


def _event_type(call: Call) -> str:
    kind = str(call.get("event_type") or "online").lower()
    if kind not in ("online", "offline"):
        raise errors.argument("EVENT_TYPE", "Value must be one of {online|offline}")
    return kind


def _auth_type(call: Call) -> int:
    wanted = int(call.get("auth_type") or 0)
    if wanted > 0 and not call.user.admin and wanted != call.user.id:
        raise errors.access_denied("Event binding with AUTH_TYPE requires administrator access rights")
    if not wanted and not call.user.admin:
        return call.user.id
    return wanted


@method("event.bind", app_only=True)
def event_bind(call: Call) -> bool:
    name = str(call.get("event") or "").upper()
    kind = _event_type(call)
    auth_type = _auth_type(call)
    handler = str(call.get("handler") or "")
    if not name:
        raise errors.argument_null("EVENT")
    if kind == "offline":
        if not call.user.admin:
            raise errors.access_denied("Offline events binding requires administrator access rights")
        handler, auth_type = "", 0
    elif not handler:
        raise errors.argument_null("HANDLER")
    if handler:
        try:
            check_handler(handler)
        except RestError as err:
            raise RestError(err.code, err.description, 400) from None
    info = EVENTS.get(name)
    if info is None or (info.scope and not call.auth.has_scope(info.scope)):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    if kind == "offline" and info.no_offline:
        raise errors.RestError("ERROR_ARGUMENT", "Offline event cannot be registered for this event.", 400)
    install = call.auth.install
    for b in install.bindings:
        if b.event == name and b.handler == handler and b.auth_type == auth_type and b.offline == (kind == "offline"):
            raise errors.core("Unable to set event handler: Handler already binded")
    options = {}
    raw = as_dict(call.get("options") or {})
    if name == "ONOFFLINEEVENT" and "minTimeout" in raw:
        options["minTimeout"] = int(raw["minTimeout"])   # the only option there is (allowOptions)
    install.bindings.append(EventBinding(call.portal._next("binding"), name, handler, auth_type,
                                         kind == "offline", call.auth.connector if kind == "offline" else "",
                                         options))
    return True


@method("event.unbind", app_only=True)
def event_unbind(call: Call) -> dict:
    name = str(call.get("event") or "").upper()
    kind = _event_type(call)
    handler = str(call.get("handler") or "")
    if not name:
        raise errors.argument_null("EVENT")
    if kind == "offline":
        if not call.user.admin:
            raise errors.access_denied("Offline events unbinding requires administrator access rights")
        handler = ""
    elif not handler:
        raise errors.argument_null("HANDLER")
    user_filter = None
    if call.get("auth_type") is not None and kind == "online":
        user_filter = int(call.get("auth_type") or 0)
    elif not call.user.admin:
        user_filter = call.user.id
    install = call.auth.install
    gone = [b for b in install.bindings if b.event == name and b.handler == handler
            and b.offline == (kind == "offline") and (user_filter is None or b.auth_type == user_filter)]
    install.bindings = [b for b in install.bindings if b not in gone]
    return {"count": len(gone)}


@method("event.get", app_only=True)
def event_get(call: Call) -> list[dict]:
    out = []
    for b in sorted(call.auth.install.bindings, key=lambda b: b.id):
        if not call.user.admin and b.auth_type != call.user.id:
            continue
        if b.offline:
            out.append({"event": b.event, "connector_id": b.connector_id, "offline": 1})
        else:
            out.append({"event": b.event, "handler": b.handler, "auth_type": str(b.auth_type), "offline": 0})
    return out


@method("event.test", app_only=True)
def event_test(call: Call) -> int:
    install = call.auth.install
    call.emu.events.emit_to(call.portal, install, "ONAPPTEST",
                            {"QUERY": dict(call.params), "LANGUAGE_ID": install.language}, call.user.id)
    return 1


def _offline_row(call: Call, r: OfflineRecord, with_state: bool = False) -> dict:
    row = {"ID": str(r.id), "TIMESTAMP_X": clock.iso(r.timestamp_x, call.tz), "EVENT_NAME": r.event_name,
           "EVENT_DATA": r.event_data, "EVENT_ADDITIONAL": r.event_additional, "MESSAGE_ID": r.message_id}
    if with_state:
        row["PROCESS_ID"] = r.process_id
        row["ERROR"] = str(r.error)
    return row


def _offline_admin(call: Call) -> None:
    if not call.user.admin:
        raise errors.access_denied()   # b24-examples/event.offline.error.ACCESS_DENIED.json


@method("event.offline.get", app_only=True)
def offline_get(call: Call) -> dict:
    _offline_admin(call)
    clear = int(call.get("clear", 1) or 0) if call.get("clear") is not None else 1
    process_id = call.get("process_id")
    process_id = str(process_id).strip() if process_id is not None else None
    if not clear and not call.portal.features.get("rest_offline_extended"):
        raise RestError("WRONG_LICENSE", "This feature is not enabled for the current license: "
                                         "extended offline events handling", 403)
    limit = int(call.get("limit", 50) or 0)
    if limit <= 0:
        raise errors.argument("LIMIT", "Value must be positive integer")
    keep = compile_filter(as_dict(call.get("filter") or {}), OFFLINE_FIELDS, call.tz)
    errors_only = str(call.get("error", "0")) == "1"
    install = call.auth.install
    connector = call.auth.connector
    mine = [r for r in install.offline if r.connector_id == connector and bool(r.error) == errors_only]
    order = as_dict(call.get("order") or {}) or {"TIMESTAMP_X": "ASC"}
    return_pid = not clear
    if process_id is None:
        batch = sort_rows([r for r in mine if r.process_id == "" and keep(r)], order, OFFLINE_FIELDS,
                          ("TIMESTAMP_X", "asc"))[:limit]
        process_id = secrets.token_hex(16)
        for r in batch:
            r.process_id = process_id
    else:
        return_pid = True
        batch = sort_rows([r for r in mine if r.process_id == process_id and keep(r)], order, OFFLINE_FIELDS,
                          ("TIMESTAMP_X", "asc"))[:limit]
    rows = [_offline_row(call, r) for r in batch]
    if clear and batch:
        install.offline = [r for r in install.offline if r.process_id != process_id]
    return {"process_id": process_id if return_pid else None, "events": rows}


@method("event.offline.clear", app_only=True)
def offline_clear(call: Call) -> bool:
    _offline_admin(call)
    process_id = call.get("process_id")
    if process_id is None:
        raise errors.argument_null("PROCESS_ID")
    ids = {int(i) for i in as_list(call.get("id"))} if call.get("id") is not None else None
    message_ids = set(map(str, as_list(call.get("message_id")))) if call.get("message_id") is not None else None
    if message_ids and any(len(m) != 32 for m in message_ids):
        raise errors.argument("message_id", "Value must be array of MESSAGE_ID values")

    def cleared(r: OfflineRecord) -> bool:
        return (r.process_id == str(process_id) and (ids is None or r.id in ids)
                and (message_ids is None or r.message_id in message_ids))

    install = call.auth.install
    install.offline = [r for r in install.offline if not cleared(r)]
    return True


@method("event.offline.error", app_only=True)
def offline_error(call: Call) -> bool:
    _offline_admin(call)
    process_id = call.get("process_id")
    if process_id is None:
        raise errors.argument_null("PROCESS_ID")
    message_ids = call.get("message_id")
    if not isinstance(message_ids, (list, dict)):
        raise errors.argument("message_id", "Value must be array of MESSAGE_ID values")
    wanted = set(map(str, as_list(message_ids)))
    for r in call.auth.install.offline:
        if r.process_id == str(process_id) and r.message_id in wanted:
            r.error = 1
    return True


@method("event.offline.list", app_only=True)
def offline_list(call: Call) -> Page:
    _offline_admin(call)
    keep = compile_filter(as_dict(call.get("filter") or {}), LIST_FIELDS, call.tz)
    rows = [r for r in call.auth.install.offline if r.connector_id == call.auth.connector and keep(r)]
    rows = sort_rows(rows, as_dict(call.get("order") or {}), LIST_FIELDS, ("ID", "asc"))
    chunk = page(rows, call.start)
    return Page([_offline_row(call, r, True) for r in chunk.result], chunk.total, chunk.next)
