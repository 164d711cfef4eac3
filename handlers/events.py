"""POST /events: every Bitrix24 event.

The application token is checked against the one stored for the portal
before anything else is done; an unknown portal or a wrong token is refused
and nothing is written (facts §3.3). Events are hints: a task event queues a
re-read of that task; the periodic sync remains the truth.

Task events come by the hundred a second at times: once a portal's token
has been proven against the database, TaskEventsFastPath answers its task
events before Flask, from KnownTokens, with no database round trip.
"""
from __future__ import annotations

import hmac
import io
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, jsonify, request
from redis.exceptions import RedisError
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


class KnownTokens:
    """Which application token a portal sends now, once the database said so.

    A task event needs nothing of the database once its token is known
    good: the answer is kept for a minute (in Redis, shared by every web
    process; in this process without Redis, where this process is the only
    one), so a burst of events costs no database round trip. Only a match is
    kept, and an install, update or uninstall drops it for every process at
    once: the old token stops working when the new one arrives.
    """

    KEEP_S = 60

    def __init__(self, redis: Any = None) -> None:
        self.redis = redis
        self.local: dict[str, tuple[str, int, float]] = {}

    @staticmethod
    def _key(member_id: str) -> str:
        return f"hourbook:events:{member_id}"

    def portal(self, member_id: str, digest: str) -> int | None:
        if self.redis is not None:
            try:
                found = self.redis.get(self._key(member_id))
            except RedisError as err:  # a memo must never fail a request: the database answers
                log.warning("known tokens: %s", err)
                return None
            if found is None:
                return None
            known, _, portal_id = found.decode().partition(":")
            return int(portal_id) if hmac.compare_digest(known, digest) else None
        known, portal_id, until = self.local.get(member_id, ("", 0, 0.0))
        return portal_id if until > time.monotonic() and hmac.compare_digest(known, digest) else None

    def remember(self, member_id: str, digest: str, portal_id: int) -> None:
        if self.redis is None:
            self.local[member_id] = (digest, portal_id, time.monotonic() + self.KEEP_S)
            return
        try:
            self.redis.set(self._key(member_id), f"{digest}:{portal_id}", ex=self.KEEP_S)
        except RedisError as err:
            log.warning("known tokens: %s", err)

    def forget(self, member_id: str) -> None:
        self.local.pop(member_id, None)
        if self.redis is not None:
            # Not swallowed: with Redis down the event fails visibly (its job
            # could not be queued either); the database holds the new token
            # already and the old one's memo runs out within KEEP_S.
            self.redis.delete(self._key(member_id))


class TaskEventsFastPath:
    """WSGI in front of Flask for what comes by the thousand: a task event
    whose portal has lately proven this very token (KnownTokens). It is
    answered here, as `events()` would answer it, with the same hint queued;
    anything else (another event, a token not proven yet, a query string, a
    body that is not plain UTF-8 form data or is large, a repeated field)
    goes to Flask untouched, where every check runs."""

    MAX_BODY = 16 * 1024
    OK = b'{"ok":true}\n'

    def __init__(self, wsgi_app: Any, hb: Any) -> None:
        self.wsgi_app, self.hb = wsgi_app, hb

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/events" or environ.get("REQUEST_METHOD") != "POST" \
                or environ.get("QUERY_STRING") \
                or environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return self.wsgi_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.wsgi_app(environ, start_response)
        if not 0 < length <= self.MAX_BODY:
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again when it is passed on
        known = self._known(body)
        if known is None:
            return self.wsgi_app(environ, start_response)
        _hint(self.hb, *known)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(self.OK)))])
        return [self.OK]

    def _known(self, body: bytes) -> tuple[int, dict] | None:
        """(portal id, data) of a task event with a proven token, else None."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return None
        fields = dict(pairs)
        if len(fields) != len(pairs):
            return None
        event = fields.get("event", "").upper()
        member_id, token = fields.get("auth[member_id]"), fields.get("auth[application_token]")
        if event not in TASK_EVENTS or not member_id or not token:
            return None
        portal_id = self.hb.known_tokens.portal(member_id, self.hb.box.digest(token))
        if portal_id is None:
            return None
        data = {side: {"ID": fields[f"data[{side}][ID]"]} for side in ("FIELDS_AFTER", "FIELDS_BEFORE")
                if f"data[{side}][ID]" in fields}
        return portal_id, data


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
    if event in TASK_EVENTS:  # proven now: the next ones take TaskEventsFastPath
        hb.known_tokens.remember(member_id, hb.box.digest(app_token), portal.id)
    else:  # installed, updated (a new token) or removed: every process asks again
        hb.known_tokens.forget(member_id)
    return jsonify(ok=True)


def _hint(hb, portal_id: int, data: object) -> None:
    """A task event: re-read that task soon, with every other task named
    meanwhile (jobs/hints.py; the sync stays the truth)."""
    task_id = _task_id(data if isinstance(data, dict) else {})
    if task_id is not None:
        if hb.hints.add(portal_id, task_id):  # else an event since the last run's take queued one
            hb.runner.enqueue(hb.jobs.sync_hinted_tasks, portal_id, job_id=f"hints-{portal_id}")


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
        _hint(hb, portal.id, data)
