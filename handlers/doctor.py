"""GET /app/doctor: the doctor (b24/doctor.py) on the manager's page, run on
the portal the page was opened from; POST /app/doctor/rebind: bind again the
events and widgets the doctor found missing (an administrator's action: it
is the one thing here that writes to the portal)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import gettext as _

from b24.client import RestError
from b24.install import bind_all
from b24.models import PortalAuth

from . import db
from .manager import _portal, _rest, manager_frame
from .widget import render_frame

bp = Blueprint("doctor", __name__)


@bp.get("/app/doctor")
def page():
    from b24.doctor import worst
    from jobs.doctor import diagnose

    frame = manager_frame()
    portal = _portal(frame)
    checks, error = [], None
    try:
        checks = diagnose(portal.id, retries=1, timeout_s=20)
    except (RestError, OSError) as err:
        error = str(err)[:300]
    auth = db.reader().get(PortalAuth, portal.id)
    rows = [{"status": c.status, "title": _(c.title), "expected": c.text(c.expected, _),
             "seen": c.text(c.seen, _), "fix": c.text(c.fix, _)} for c in checks]
    return render_frame("manager_doctor.html", portal.id, frame=frame, portal=portal, rows=rows,
                        overall=worst(checks) if checks else "fail", error=error,
                        may_rebind=frame.admin and auth is not None and auth.kind == "oauth"
                        and any(c.key in ("events", "placements") and c.status == "fail" for c in checks),
                        done=request.args.get("done"))


@bp.post("/app/doctor/rebind")
def rebind():
    frame = manager_frame()
    if not frame.admin:
        abort(403, description=_("Only portal administrators bind events and widgets."))
    portal = _portal(frame)
    auth = db.reader().get(PortalAuth, portal.id)
    if auth is None or auth.kind != "oauth":
        abort(400, description=_("A webhook connection has no events or widgets to bind."))
    try:
        bind_all(_rest(portal.id), current_app.config["PUBLIC_URL"])
    except (RestError, OSError) as err:
        abort(503, description=_("The portal did not answer: %(error)s", error=str(err)[:200]))
    return redirect(url_for("doctor.page", t=request.form.get("_t"), done="rebound"), 303)
