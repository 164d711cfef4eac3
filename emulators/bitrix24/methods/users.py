"""user.get, user.current, profile (facts §8; b24-examples/user.get.json,
user.current.json, profile.json).

user.get takes `filter` (or, the old way, the filter fields at the top
level), `sort`/`order`, `start` (50 a page, -1 without counting) and
returns users with string IDs. EMAIL is hidden when the token has only
`user_brief`. There is no REST method for the portal's time zone: callers
read TIME_ZONE of a user (facts §8).
"""
from __future__ import annotations

from .. import clock
from ..filters import Field, compile_filter, page, sort_rows
from ..php import as_dict
from ..rest import Call, Page, method
from ..state import User

RESERVED = {"filter", "sort", "order", "select", "admin_mode"}

FIELDS = {
    "ID": Field(lambda u: u.id), "ACTIVE": Field(lambda u: "Y" if u.active else "N", "yn"),
    "NAME": Field(lambda u: u.name, "str"), "LAST_NAME": Field(lambda u: u.last_name, "str"),
    "EMAIL": Field(lambda u: u.email, "str"), "USER_TYPE": Field(lambda u: u.user_type, "str"),
    "WORK_POSITION": Field(lambda u: u.work_position, "str"), "TIME_ZONE": Field(lambda u: u.time_zone, "str"),
    "UF_DEPARTMENT": Field(lambda u: [str(d) for d in u.departments], "multi"),
    "DATE_REGISTER": Field(lambda u: u.date_register, "date"),
}


def user_row(call: Call, user: User) -> dict:
    tz = call.tz
    # The keys and their order of b24-examples/user.get.json.
    row = {
        "ID": str(user.id), "ACTIVE": user.active, "NAME": user.name, "LAST_NAME": user.last_name,
        "SECOND_NAME": "", "EMAIL": user.email, "LAST_LOGIN": clock.iso(clock.now(), tz),
        "DATE_REGISTER": clock.iso(user.date_register, tz), "TIME_ZONE": user.time_zone, "IS_ONLINE": "N",
        "TIMESTAMP_X": {}, "LAST_ACTIVITY_DATE": {}, "PERSONAL_GENDER": "", "PERSONAL_WWW": "",
        "PERSONAL_BIRTHDAY": "", "PERSONAL_MOBILE": "", "PERSONAL_CITY": "", "WORK_PHONE": "",
        "WORK_POSITION": user.work_position, "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": list(user.departments), "USER_TYPE": user.user_type,
    }
    if not (call.auth.has_scope("user_basic") or "user" in call.auth.scopes):
        del row["EMAIL"]   # not in user_brief (facts §8)
    return row


@method("user.get", scope="user")
def user_get(call: Call) -> Page:
    filt = call.get("filter")
    if filt is None:   # old style: the filter fields are the parameters themselves
        filt = {k: v for k, v in call.params.items() if k.lower() not in RESERVED}
    keep = compile_filter(as_dict(filt), FIELDS, call.tz)
    rows = [u for u in call.portal.users.values() if keep(u)]
    sort = call.get("sort")
    if sort:
        rows = sort_rows(rows, {sort: call.get("order", "asc")}, FIELDS, ("ID", "asc"))
    else:
        rows = sorted(rows, key=lambda u: u.id)
    chunk = page(rows, call.start)
    return Page([user_row(call, u) for u in chunk.result], chunk.total, chunk.next)


@method("user.current", scope="user")
def user_current(call: Call) -> dict:
    return user_row(call, call.user)


@method("profile")
def profile(call: Call) -> dict:
    user = call.user
    return {"ID": str(user.id), "ADMIN": user.admin, "NAME": user.name, "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": "", "TIME_ZONE": user.time_zone}
