"""POST /events: every Bitrix24 event.

The application token is checked against the one stored for the portal
before anything else is done; an unknown portal or a wrong token is refused
and nothing is written (facts §3.3). Events are hints: a task event queues a
re-read of that task; the periodic sync remains the truth.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from b24 import portals
from b24.client import AuthDead, Transient
from b24.forms import BadForm, unflatten
from b24.install import verify_access_token
from b24.models import PortalAuth
from ledger.models import Portal

from . import db

bp = Blueprint("events", __name__)
log = logging.getLogger("hourbook.events")
TASK_EVENTS = ("ONTASKADD", "ONTASKUPDATE", "ONTASKDELETE")
KNOWN = ("ONAPPINSTALL", "ONAPPUNINSTALL", "ONAPPUPDATE", "ONOFFLINEEVENT", *TASK_EVENTS)


def _refuse(status: int, error: str):
    return jsonify(error=error), status


def _task_id(data: dict) -> int | None:
    for side in ("FIELDS_AFTER", "FIELDS_BEFORE"):
        fields = data.get(side)
        if isinstance(fields, dict) and str(fields.get("ID", "")).isdecimal():
            return int(fields["ID"])
    return None


@bp.post("/events")
def events():
    if request.mimetype != "application/x-www-form-urlencoded":
        return _refuse(415, "events are form-encoded")
    try:
        body = unflatten(request.form.items(multi=True))
    except BadForm:
        return _refuse(400, "malformed form")
    auth = body.get("auth")
    event = str(body.get("event") or "").upper()
    if not isinstance(auth, dict) or not event:
        return _refuse(400, "event and auth are required")
    member_id, app_token = auth.get("member_id"), auth.get("application_token")
    if not isinstance(member_id, str) or not isinstance(app_token, str) or not member_id or not app_token:
        return _refuse(400, "auth[member_id] and auth[application_token] are required")
    hb = current_app.extensions["hourbook"]
    s = db.session()
    portal = s.execute(select(Portal).where(Portal.member_id == member_id)).scalar_one_or_none()
    stored = s.get(PortalAuth, portal.id) if portal is not None else None
    if stored is None:
        stored = _webhook_portal(s, hb.box, app_token)
        portal = s.get(Portal, stored.portal_id) if stored is not None else None
    if portal is None or stored is None:
        return _refuse(401, "unknown portal")
    if not hb.box.matches(app_token, stored.application_token):
        # A new version brings a new application token (ONAPPUPDATE), and an
        # installer that predates APPLICATION_TOKEN leaves us none until
        # ONAPPINSTALL: then the token must prove itself with the
        # authorization server before we take it.
        if event not in ("ONAPPUPDATE", "ONAPPINSTALL") or stored.kind != "oauth" or (
                event == "ONAPPINSTALL" and stored.application_token is not None):
            return _refuse(403, "application token does not match")
        try:
            verify_access_token(current_app.config["B24_OAUTH_SERVER"], str(auth.get("access_token") or ""),
                                hb.app_credentials.client_id if hb.app_credentials else "", member_id)
        except AuthDead:
            return _refuse(403, "application token does not match")
        except Transient:
            return _refuse(503, "cannot verify now")
        stored.application_token = hb.box.digest(app_token)
    if event not in KNOWN:
        return jsonify(ok=True, ignored=event)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    _dispatch(s, hb, portal, stored, event, data, auth)
    s.commit()
    return jsonify(ok=True)


def _webhook_portal(s, box, app_token: str) -> PortalAuth | None:
    """An outgoing webhook's events carry the portal's member_id, which
    webhook mode could not learn: find the portal by the webhook's token."""
    for auth in s.execute(select(PortalAuth).where(PortalAuth.kind == "webhook")).scalars():
        if box.matches(app_token, auth.application_token):
            return auth
    return None


def _dispatch(s, hb, portal: Portal, stored: PortalAuth, event: str, data: dict, auth: dict) -> None:
    if event == "ONAPPUNINSTALL":
        portals.uninstall(s, portal, stored)
        return
    if event in ("ONAPPINSTALL", "ONAPPUPDATE"):
        # These carry the installing admin's tokens. Other events carry the
        # tokens of whoever triggered them: never let those replace the
        # admin's, which portal-wide reads and offline events need.
        portal.active, stored.installed = True, True
        portals.accept_tokens(stored, hb.box, auth)
    if event == "ONAPPUPDATE":
        hb.runner.enqueue(hb.jobs.rebind, portal.id, job_id=f"rebind-{portal.id}")
    elif event == "ONOFFLINEEVENT":
        hb.runner.enqueue(hb.jobs.drain_offline, portal.id, job_id=f"offline-{portal.id}")
    elif event in TASK_EVENTS:
        task_id = _task_id(data)
        if task_id is not None:
            hb.runner.enqueue(hb.jobs.sync_task, portal.id, task_id, job_id=f"task-{portal.id}-{task_id}")
