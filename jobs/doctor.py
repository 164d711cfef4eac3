"""`python app.py doctor` and the manager page's button: the doctor
(b24/doctor.py) run on one connected portal, with what Hourbook holds about
it (how it is connected, its time zone, our public address)."""
from __future__ import annotations

from typing import Any

from b24 import doctor
from b24.client import AuthDead
from b24.models import PortalAuth
from jobs.context import context
from ledger.models import Portal


def diagnose(portal_id: int, **rest_options: Any) -> list[doctor.Check]:
    ctx = context()
    with ctx.sessions() as s:
        auth, portal = s.get(PortalAuth, portal_id), s.get(Portal, portal_id)
        if auth is None or portal is None:
            raise AuthDead("NOT_CONNECTED", f"portal {portal_id} has no connection")
        held = doctor.Portal("app" if auth.kind == "oauth" else "webhook", portal.time_zone,
                             str(ctx.config.get("PUBLIC_URL") or ""))
    return doctor.run(ctx.rest(portal_id, **rest_options), held)
