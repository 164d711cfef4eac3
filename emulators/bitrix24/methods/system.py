"""app.info, server.time, feature.get (facts §8; b24-examples/app.info.json,
server.time.json, feature.get.json).

app.info in app context gives the install's ID, CODE, VERSION, STATUS,
INSTALLED (true only after installFinish), PAYMENT_EXPIRED, DAYS,
LANGUAGE_ID and the license; with a webhook the portal answers SCOPE and
LICENSE only (rest_provider.php appInfo).
"""
from __future__ import annotations

from .. import clock, errors
from ..rest import Call, method
from ..state import PLAN_LICENSE


def license_fields(call: Call) -> dict:
    kind, family = PLAN_LICENSE[call.portal.plan]
    return {"LICENSE": f"{call.portal.lang}_{kind}", "LICENSE_TYPE": kind, "LICENSE_FAMILY": family}


@method("app.info")
def app_info(call: Call) -> dict:
    lic = license_fields(call)
    if call.auth.kind == "webhook":
        return {"SCOPE": list(call.auth.scopes), "LICENSE": lic["LICENSE"]}
    install = call.auth.install
    return {
        "ID": install.id, "CODE": install.app.code or install.app.client_id, "VERSION": install.version,
        "STATUS": install.app.status, "INSTALLED": install.installed,
        "PAYMENT_EXPIRED": "Y" if call.portal.payment_expired else "N", "DAYS": None,
        "LANGUAGE_ID": install.language, **lic,
    }


@method("server.time")
def server_time(call: Call) -> str:
    return clock.iso(clock.now(), call.tz)


@method("feature.get")
def feature_get(call: Call) -> dict:
    code = call.get("CODE")
    if not code:
        raise errors.RestError("CODE_EMPTY", "CODE can't be empty", 400)
    return {"value": "Y" if call.portal.features.get(str(code)) else "N"}
