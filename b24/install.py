"""Installing into a portal: verify what the portal sent, store the
credentials, bind events and placements from install.json, idempotently.

Nothing in an install or event request is trusted by itself (facts §5.4):
the access token is checked with the authorization server's app.info (our
client_id, the same member_id), and the REST base we call comes from that
answer, never from the request's DOMAIN.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import AuthDead, Rest, RestError
from .connection import oauth_get

MANIFEST = Path(__file__).resolve().parent.parent / "install.json"


def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text())


@dataclass(frozen=True)
class VerifiedInstall:
    member_id: str
    domain: str
    client_endpoint: str
    user_id: int | None
    scope: str


def verify_access_token(oauth_server: str, access_token: str, client_id: str,
                        member_id: str | None = None, timeout_s: float = 10) -> VerifiedInstall:
    """Ask the authorization server who this token belongs to; refuse a token
    of another app or another portal."""
    if not access_token:
        raise AuthDead("NO_AUTH_FOUND", "no access token")
    status, answer = oauth_get(oauth_server.rstrip("/") + "/rest/app.info", {"auth": access_token}, "app.info",
                               timeout_s, method="POST")
    result = answer.get("result")
    if status != 200 or not isinstance(result, dict):
        raise AuthDead(str(answer.get("error", f"HTTP_{status}")), "token not accepted", status, "app.info")
    install = result.get("install") or {}
    if result.get("client_id") != client_id:
        raise AuthDead("WRONG_APP", "the token belongs to another application", 401, "app.info")
    if member_id is not None and install.get("member_id") != member_id:
        raise AuthDead("WRONG_PORTAL", "the token belongs to another portal", 401, "app.info")
    endpoint = install.get("client_endpoint") or ""
    if not endpoint.startswith(("http://", "https://")):
        raise AuthDead("NO_ENDPOINT", "the authorization server gave no portal endpoint", 401, "app.info")
    return VerifiedInstall(str(install.get("member_id")), str(install.get("domain") or ""),
                           endpoint, result.get("user_id"), str(result.get("scope") or ""))


@dataclass
class BindReport:
    events_bound: list[str] = field(default_factory=list)
    placements_bound: list[str] = field(default_factory=list)
    already: int = 0


def bind_all(rest: Rest, public_url: str, spec: dict[str, Any] | None = None) -> BindReport:
    """Bind every event and placement of install.json that is not bound yet:
    a reinstall or an update binds nothing twice."""
    spec = spec or manifest()
    base = public_url.rstrip("/")
    report = BindReport()
    bound_events = set()
    for e in rest.call("event.get").get("result") or []:
        if isinstance(e, dict):
            offline = str(e.get("offline", "0")) == "1"
            bound_events.add((str(e.get("event", "")).upper(), None if offline else e.get("handler")))
    for item in spec["events"]:
        offline = item.get("event_type") == "offline"
        key = (item["event"].upper(), None if offline else base + item["handler"])
        if key in bound_events:
            report.already += 1
            continue
        params: dict[str, Any] = {"event": item["event"]}
        if offline:
            params["event_type"] = "offline"  # admin only: the installer runs as the admin
        else:
            params["handler"] = key[1]
        if item.get("options"):
            params["options"] = item["options"]
        rest.call("event.bind", params)
        report.events_bound.append(item["event"] + (" (offline)" if offline else ""))
    bound_placements = {(str(p.get("placement")), p.get("handler"))
                        for p in rest.call("placement.get").get("result") or [] if isinstance(p, dict)}
    for item in spec["placements"]:
        key = (item["placement"], base + item["handler"])
        if key in bound_placements:
            report.already += 1
            continue
        params = {"PLACEMENT": item["placement"], "HANDLER": key[1],
                  "TITLE": item["lang"]["ru"]["TITLE"], "LANG_ALL": item["lang"]}
        try:
            rest.call("placement.bind", params)
        except RestError as err:
            if err.code == "ERROR_PLACEMENT_NOT_FOUND":
                continue  # this portal has no such placement (plan or scope): the others still work
            raise
        report.placements_bound.append(item["placement"])
    return report


def portal_time_zone(rest: Rest) -> str | None:
    """Bitrix24 has no portal time zone (facts §8): take the installing
    admin's, else None (the caller falls back to the server's offset)."""
    try:
        profile = rest.call("profile").get("result") or {}
    except RestError:
        return None
    zone = str(profile.get("TIME_ZONE") or "").strip()
    return zone or None
