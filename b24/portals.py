"""Connecting portals to the ledger: marketplace installs, webhook mode,
uninstall and reinstall (history is always kept)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger import clock
from ledger import calendar as cal
from ledger.contracts import LedgerError, audit, create_portal
from ledger.models import Portal

from .client import Rest, WebhookAuth
from .connection import AppCredentials, store_tokens
from .install import BindReport, bind_all, portal_time_zone, verify_access_token
from .models import PortalAuth
from hosts.secrets import SecretBox

DEFAULT_ZONE = "Europe/Moscow"


@dataclass(frozen=True)
class Connected:
    portal_id: int
    member_id: str
    created: bool
    binds: BindReport | None = None


def _zone_from_offset(rest: Rest) -> str | None:
    """server.time's offset as a fixed zone (Etc/GMT signs are inverted)."""
    try:
        value = rest.call("server.time").get("result")
        offset = datetime.fromisoformat(str(value)).utcoffset()
    except Exception:
        return None
    if offset is None or offset.total_seconds() % 3600:
        return None
    hours = int(offset.total_seconds() // 3600)
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def install(sessions: sessionmaker[Session], box: SecretBox, app: AppCredentials, oauth_server: str,
            public_url: str, form: dict[str, str], actor: str = "install") -> Connected:
    """The installer POST (or a reinstall): verify the token with the
    authorization server, store the credentials sealed, bind everything."""
    member_id = form["member_id"]
    verified = verify_access_token(oauth_server, form["AUTH_ID"], app.client_id, member_id)
    expires_in = int(form.get("AUTH_EXPIRES") or 3600) if str(form.get("AUTH_EXPIRES", "")).isdecimal() else 3600
    with sessions() as s, s.begin():
        portal = s.execute(select(Portal).where(Portal.member_id == member_id)).scalar_one_or_none()
        created = portal is None
        if created:
            portal = create_portal(s, member_id, verified.domain, DEFAULT_ZONE, "client", actor=actor)
        else:
            portal.active = True  # a reinstall picks up the portal and all its history
            portal.domain = verified.domain or portal.domain
            audit(s, actor, "portal.reinstall", portal_id=portal.id)
        auth = s.get(PortalAuth, portal.id) or PortalAuth(portal_id=portal.id, kind="oauth", refresh_count=0)
        auth.kind, auth.installed = "oauth", True
        auth.client_endpoint = verified.client_endpoint
        auth.auth_user_id = verified.user_id
        store_tokens(auth, box, {"access_token": form["AUTH_ID"], "refresh_token": form["REFRESH_ID"],
                                 "expires_in": expires_in, "scope": verified.scope,
                                 "server_endpoint": oauth_server.rstrip("/") + "/rest/"})
        auth.refresh_count = 0
        if form.get("APPLICATION_TOKEN"):
            auth.application_token = box.digest(form["APPLICATION_TOKEN"])
        s.merge(auth)
        portal_id = portal.id
    from .connection import OAuthAuth

    rest = Rest(OAuthAuth(sessions, portal_id, box, app))
    binds = bind_all(rest, public_url)
    if created:
        zone = portal_time_zone(rest) or _zone_from_offset(rest)
        if zone and cal.is_valid_zone(zone):
            with sessions() as s, s.begin():
                s.get(Portal, portal_id).time_zone = zone
    return Connected(portal_id, member_id, created, binds)


def connect_webhook(sessions: sessionmaker[Session], box: SecretBox, url: str, *, integrator: bool = False,
                    events_token: str | None = None, member_id: str | None = None,
                    rest: Rest | None = None) -> Connected:
    """Single-portal mode: REST through an incoming webhook; events from an
    outgoing webhook, checked against its own token."""
    parsed = urlparse(url)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme not in ("http", "https") or "rest" not in parts or len(parts) < parts.index("rest") + 3:
        raise LedgerError("a webhook URL looks like https://portal.bitrix24.ru/rest/1/secret/")
    rest = rest or Rest(WebhookAuth(url))
    profile = rest.call("profile").get("result") or {}  # proves the webhook works before we store it
    zone = str(profile.get("TIME_ZONE") or "").strip() or _zone_from_offset(rest) or DEFAULT_ZONE
    if not cal.is_valid_zone(zone):
        zone = DEFAULT_ZONE
    domain = parsed.netloc
    member = member_id or f"webhook:{domain}"
    with sessions() as s, s.begin():
        portal = s.execute(select(Portal).where(Portal.member_id == member)).scalar_one_or_none()
        created = portal is None
        if created:
            portal = create_portal(s, member, domain, zone, "integrator" if integrator else "client", actor="connect")
        portal.active = True
        auth = s.get(PortalAuth, portal.id) or PortalAuth(portal_id=portal.id, refresh_count=0)
        auth.kind, auth.installed, auth.status = "webhook", True, "ok"
        auth.client_endpoint = url.split("/rest/")[0] + "/rest/"
        auth.webhook_url = box.seal(url if url.endswith("/") else url + "/")
        auth.scope = ""
        if events_token:
            auth.application_token = box.digest(events_token)
        auth.updated_at = clock.now()
        s.merge(auth)
        return Connected(portal.id, member, created)


def uninstall(session: Session, portal: Portal, auth: PortalAuth) -> None:
    """ONAPPUNINSTALL: the portal goes inactive and its tokens are forgotten;
    every entry and posting stays, for a reinstall or for the record."""
    portal.active = False
    auth.installed = False
    auth.access_token = auth.refresh_token = None
    auth.expires_at = None
    audit(session, "portal", "portal.uninstall", portal_id=portal.id)


def accept_tokens(auth: PortalAuth, box: SecretBox, event_auth: dict[str, Any]) -> None:
    """Tokens carried by ONAPPINSTALL / ONAPPUPDATE / ONOFFLINEEVENT."""
    if event_auth.get("access_token") and event_auth.get("refresh_token"):
        store_tokens(auth, box, {"access_token": event_auth["access_token"],
                                 "refresh_token": event_auth["refresh_token"],
                                 "expires_in": event_auth.get("expires_in") or 3600})

