"""placement.bind / unbind / get / list (facts §5.1; b24-examples/placement.*.json).

App context only (a webhook gets 403 WRONG_AUTH_TYPE); bind, unbind and
get need an admin. Several handlers per placement are allowed, except
REST_APP_URI and PAGE_BACKGROUND_WORKER (one each). The docs list the
argument errors of placement.bind with HTTP **200** (placement-bind.md
"Possible Error Codes"); the emulator answers them that way.
Widgets stay invisible until installFinish: `Emulator.open_frame` refuses
them before.
"""
from __future__ import annotations

from urllib.parse import urlparse

from ..errors import RestError, argument_null
from ..php import as_dict
from ..rest import Call, method
from ..state import PlacementBinding

_CRM = ("LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "SMART_INVOICE")
_CRM_KINDS = ("DETAIL_TAB", "DETAIL_TOOLBAR", "DETAIL_ACTIVITY", "LIST_MENU", "LIST_TOOLBAR",
              "ACTIVITY_TIMELINE_MENU")
PLACEMENTS = {
    "crm": [f"CRM_{e}_{k}" for e in _CRM for k in _CRM_KINDS] + ["CRM_ANALYTICS_MENU", "CRM_ANALYTICS_TOOLBAR"],
    "task": ["TASK_VIEW_TAB", "TASK_VIEW_SIDEBAR", "TASK_VIEW_TOP_PANEL", "TASK_LIST_CONTEXT_MENU",
             "TASK_USER_LIST_TOOLBAR", "TASK_GROUP_LIST_TOOLBAR"],
    "im": ["IM_CONTEXT_MENU", "IM_NAVIGATION", "IM_TEXTAREA"],
    "placement": ["LEFT_MENU", "REST_APP_URI", "PAGE_BACKGROUND_WORKER"],
}
SINGLE = {"REST_APP_URI", "PAGE_BACKGROUND_WORKER"}


def _ok_200(code: str, description: str, **extra) -> RestError:
    return RestError(code, description, 200, **extra)


def available(call: Call) -> list[str]:
    return [code for scope, codes in PLACEMENTS.items() if call.auth.has_scope(scope) for code in codes]


def check_handler(url: str) -> None:
    # rest/lib/handlerhelper.php: a host with a dot, then http or https.
    parts = urlparse(url)
    if not parts.hostname or "." not in parts.hostname:
        raise _ok_200("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    if parts.scheme not in ("http", "https"):
        raise _ok_200("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol")


@method("placement.list", scope="placement", app_only=True)
def placement_list(call: Call) -> list[str]:
    return available(call)


@method("placement.bind", scope="placement", app_only=True, admin_only=True)
def placement_bind(call: Call) -> bool:
    code = str(call.get("PLACEMENT") or "").upper()
    handler = str(call.get("HANDLER") or "")
    if not code:
        err = argument_null("PLACEMENT")
        raise _ok_200(err.code, err.description, **err.extra)
    if not handler:
        err = argument_null("HANDLER")
        raise _ok_200(err.code, err.description, **err.extra)
    if code not in available(call):
        raise _ok_200("ERROR_PLACEMENT_NOT_FOUND", "Placement not found")
    check_handler(handler)
    install = call.auth.install
    same = [b for b in install.placements if b.placement == code]
    if code in SINGLE and same:
        raise _ok_200("ERROR_PLACEMENT_MAX_COUNT", "Placement max count reached")
    if any(b.handler == handler for b in same):
        raise RestError("ERROR_CORE", "Unable to set placement handler: Handler already binded", 400)
    install.placements.append(PlacementBinding(
        code, handler, str(call.get("TITLE") or ""), str(call.get("DESCRIPTION") or ""),
        str(call.get("GROUP_NAME") or ""), as_dict(call.get("LANG_ALL") or {}),
        as_dict(call.get("OPTIONS") or {}), int(call.get("USER_ID") or 0)))
    return True


@method("placement.unbind", scope="placement", app_only=True, admin_only=True)
def placement_unbind(call: Call) -> dict:
    code = str(call.get("PLACEMENT") or "").upper()
    if not code:
        raise argument_null("PLACEMENT")
    handler = call.get("HANDLER")
    install = call.auth.install
    gone = [b for b in install.placements if b.placement == code and (not handler or b.handler == handler)]
    install.placements = [b for b in install.placements if b not in gone]
    return {"count": len(gone)}


@method("placement.get", scope="placement", app_only=True, admin_only=True)
def placement_get(call: Call) -> list[dict]:
    out = []
    for b in call.auth.install.placements:
        lang_all = b.lang_all or {call.auth.install.language: {
            "TITLE": b.title, "DESCRIPTION": b.description, "GROUP_NAME": b.group_name}}
        out.append({"placement": b.placement, "userId": b.user_id, "handler": b.handler,
                    "options": b.options or [], "title": b.title, "description": b.description,
                    "langAll": lang_all})
    return out
