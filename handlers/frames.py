"""Frames: the portal POSTs to the app page and the CRM widget; we check
that POST once, then carry a short-lived signed token instead of a cookie.

Browsers block third-party cookies inside frames, so after the entry POST
every link, form and fetch carries `t` (query, form field `_t`, or the
`X-Hourbook-Token` header): an itsdangerous signature over the portal, the
user, what they may do, the entity the frame shows, the language and an
expiry of at most an hour. A request without a valid token is refused, so
the token is also the CSRF defence: another site cannot forge it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from flask import abort, current_app, g, request
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from b24.client import AuthDead, Transient
from b24.frames import verify_frame
from b24.models import PortalAuth
from ledger.access import is_manager
from ledger.models import Portal

from . import db

log = logging.getLogger("hourbook.frames")
TOKEN_MAX_AGE_S = 3600
HEADER = "X-Hourbook-Token"


@dataclass(frozen=True)
class Frame:
    """Who is looking, at what, in which language."""

    portal_id: int
    user_id: int
    admin: bool
    manager: bool  # an administrator, or a user an administrator named
    name: str
    lang: str
    placement: str
    entity_id: int | None  # the CRM company or deal the tab was opened on

    @property
    def may_manage(self) -> bool:
        return self.admin or self.manager

    @property
    def who(self) -> str:
        """The user as the change log and the client's requests name them."""
        return f"{self.name or 'user'} (#{self.user_id})"


class FrameRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hourbook.frame")


def language(value: str | None) -> str:
    """The portal's LANG: English when it says so (or another language we do not speak), Russian first."""
    value = (value or "ru").lower()
    return "ru" if value in ("ru", "ua", "by", "kz") else "en"


def entity_id(options: str | None) -> int | None:
    """`PLACEMENT_OPTIONS` is a JSON string: {"ID": "123", …} (facts §5.3)."""
    if not options:
        return None
    if len(options) > 4096:
        raise FrameRefused(400, "PLACEMENT_OPTIONS is too long")
    try:
        parsed = json.loads(options)
    except (ValueError, RecursionError):
        raise FrameRefused(400, "PLACEMENT_OPTIONS is not JSON") from None
    raw = parsed.get("ID") if isinstance(parsed, dict) else None
    if raw is None:
        return None
    text = str(raw).strip()
    if not text.isdecimal() or len(text) > 18:
        raise FrameRefused(400, "PLACEMENT_OPTIONS.ID is not a number")
    return int(text)


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def open_frame() -> Frame:
    """Check the portal's POST and say who opened the frame."""
    form = request.form
    member_id = form.get("member_id", "")
    auth_id = form.get("AUTH_ID", "")
    placement = form.get("PLACEMENT", "DEFAULT") or "DEFAULT"
    if not member_id or not auth_id:
        raise FrameRefused(400, "member_id and AUTH_ID are required")
    if len(member_id) > 64 or len(placement) > 64 or not _printable(member_id + placement + auth_id):
        raise FrameRefused(400, "malformed frame request")
    entity = entity_id(form.get("PLACEMENT_OPTIONS"))
    s = db.reader()
    row = s.execute(select(Portal, PortalAuth).join(PortalAuth, PortalAuth.portal_id == Portal.id)
                    .where(Portal.member_id == member_id)).first()
    if row is None or not row[0].active:
        raise FrameRefused(403, "unknown portal")
    portal, auth = row
    hb = current_app.extensions["hourbook"]
    app = hb.app_credentials if auth.kind == "oauth" else None
    try:
        user = verify_frame(member_id, auth_id, auth.client_endpoint, app=app,
                            oauth_server=current_app.config.get("B24_OAUTH_SERVER"))
    except Transient as err:
        log.warning("frame check could not reach the portal: %s", err.code)
        raise FrameRefused(503, "the portal did not answer; try again") from None
    except AuthDead as err:
        log.info("frame refused for portal %s: %s", portal.id, err.code)
        raise FrameRefused(403, "the portal did not accept this request") from None
    manager = user.admin or is_manager(s, portal.id, user.user_id)
    s.rollback()  # nothing to write: end the read transaction now
    lang = language(request.args.get("LANG") or form.get("LANG"))
    return Frame(portal.id, user.user_id, user.admin, manager, user.name, lang, placement, entity)


def issue(frame: Frame) -> str:
    return _serializer().dumps(asdict(frame))


def current() -> Frame:
    """The frame of a request after the entry POST, from its signed token;
    aborts with 403 when there is none or it does not hold."""
    if "frame" in g:
        return g.frame
    token = request.headers.get(HEADER) or request.form.get("_t") or request.args.get("t") or ""
    if not token or len(token) > 2048:
        abort(403, description=_("Open the app from your Bitrix24 portal."))
    try:
        data: dict[str, Any] = _serializer().loads(token, max_age=TOKEN_MAX_AGE_S)
        frame = Frame(**data)
    except SignatureExpired:
        abort(403, description=_("This page has been open too long. Reopen it from your portal."))
    except (BadSignature, TypeError, ValueError):
        abort(403, description=_("This link is not valid. Reopen the app from your portal."))
    g.frame, g.frame_token, g.lang = frame, token, frame.lang
    return frame


def enter(frame: Frame) -> str:
    token = issue(frame)
    g.frame, g.frame_token, g.lang = frame, token, frame.lang
    return token
