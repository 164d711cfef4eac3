"""A portal's credentials, from the database, refreshed safely.

Refresh tokens rotate: using one invalidates it and its access token
(facts §2.2). So a refresh happens under a row lock on the portal's
`portal_auth` row (SELECT … FOR UPDATE; BEGIN IMMEDIATE on SQLite): one at a
time per portal across every process, and the rotated pair is saved in the
same transaction. A process that waited finds the token already new and
uses it. A refusal (invalid_grant, PAYMENT_REQUIRED, app removed) marks the
portal dead, visibly, and the sync retries it later instead of skipping it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger import clock

from .client import AuthDead, Rest, Transient, WebhookAuth
from .limits import Limiter, LocalBucket, RedisBucket
from .models import PortalAuth
from hosts.secrets import SecretBox


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str
    token_url: str  # the OAuth server's /oauth/token/


def mark_dead(session: Session, auth: PortalAuth, reason: str) -> None:
    if auth.status != "dead":
        auth.status = "dead"
        auth.dead_since = clock.now()
    auth.dead_reason = reason


def oauth_get(url: str, params: dict[str, str], what: str, timeout_s: float = 30,
              method: str = "GET") -> tuple[int, dict[str, Any]]:
    """A call outside the REST gateway (the authorization server, a frame
    check): (status, JSON answer); trouble reaching it (timeouts, 5xx) is
    Transient, to be retried. With method="POST" the parameters go in the
    body, so a user's token never sits in a URL that a log line may keep."""
    try:
        if method == "POST":
            response = requests.post(url, data=params, timeout=timeout_s)
        else:
            response = requests.get(url, params=params, timeout=timeout_s)
    except (requests.Timeout, requests.ConnectionError) as err:
        raise Transient("TIMEOUT", str(err), 0, what) from None
    if response.status_code >= 500:
        raise Transient(f"HTTP_{response.status_code}", "", response.status_code, what)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    return response.status_code, answer if isinstance(answer, dict) else {}


def token_request(app: AppCredentials, **params: str) -> dict[str, Any]:
    """Ask the OAuth server for tokens; raises AuthDead on a refusal."""
    status, answer = oauth_get(app.token_url, {"client_id": app.client_id, "client_secret": app.client_secret,
                                               **params}, "oauth/token")
    if "error" in answer or "access_token" not in answer:
        raise AuthDead(str(answer.get("error") or f"HTTP_{status}"),
                       str(answer.get("error_description") or ""), status, "oauth/token")
    return answer


@dataclass
class OAuthAuth:
    """OAuth credentials of one installed portal, read from and written to the database."""

    sessions: sessionmaker[Session]
    portal_id: int
    box: SecretBox
    app: AppCredentials
    _endpoint: str = ""
    _token: str | None = None

    def _load(self) -> None:
        with self.sessions() as s:
            auth = s.get(PortalAuth, self.portal_id)
            if auth is None or auth.kind != "oauth":
                raise AuthDead("NOT_INSTALLED", "no OAuth credentials for this portal")
            if auth.status == "dead" and auth.refresh_token is None:
                raise AuthDead("NOT_INSTALLED", auth.dead_reason or "uninstalled")
            self._endpoint = auth.client_endpoint
            self._token = self.box.open(auth.access_token)

    def endpoint(self) -> str:
        if not self._endpoint:
            self._load()
        return self._endpoint

    def token(self) -> str | None:
        if self._token is None:
            self._load()
        return self._token

    def refresh(self, stale: str | None) -> str:
        refused: AuthDead | None = None
        with self.sessions() as s, s.begin():
            auth = s.execute(
                select(PortalAuth).where(PortalAuth.portal_id == self.portal_id).with_for_update()
            ).scalar_one()
            current = self.box.open(auth.access_token)
            if current != stale and current is not None:
                self._token = current  # refreshed by someone else while we waited for the lock
                return current
            refresh = self.box.open(auth.refresh_token)
            try:
                if not refresh:
                    raise AuthDead("NO_REFRESH_TOKEN", "re-install the app")
                answer = token_request(self.app, grant_type="refresh_token", refresh_token=refresh)
            except AuthDead as err:
                # Marked dead in this transaction, which must commit: raising
                # inside it would roll the mark back and hide the portal's state.
                mark_dead(s, auth, f"{err.code}: {err.description}".strip(": "))
                refused = err
            else:
                store_tokens(auth, self.box, answer)
                self._token = answer["access_token"]
        if refused is not None:
            raise refused
        return self._token


def store_tokens(auth: PortalAuth, box: SecretBox, answer: dict[str, Any]) -> None:
    """Save a token answer (install, code exchange, refresh). The REST base
    comes from the OAuth server's answer, never from a request's DOMAIN."""
    now = clock.now()
    auth.access_token = box.seal(answer["access_token"])
    if answer.get("refresh_token"):
        auth.refresh_token = box.seal(answer["refresh_token"])
    expires_in = int(answer.get("expires_in") or 3600)
    auth.expires_at = now + timedelta(seconds=expires_in)
    if answer.get("client_endpoint"):
        auth.client_endpoint = answer["client_endpoint"]
    if answer.get("server_endpoint"):
        auth.server_endpoint = answer["server_endpoint"]
    if answer.get("scope"):
        auth.scope = str(answer["scope"])
    auth.status, auth.dead_reason, auth.dead_since = "ok", None, None
    auth.refreshed_at = now
    auth.refresh_count = (auth.refresh_count or 0) + 1
    auth.updated_at = now


def limiter_for(portal_id: int, redis: Any = None, rate_per_s: float = 2.0, capacity: int = 50) -> Limiter:
    if redis is not None:
        return RedisBucket(redis, str(portal_id), rate_per_s, capacity)
    return _LOCAL.setdefault((portal_id, rate_per_s, capacity), LocalBucket(rate_per_s, capacity))


_LOCAL: dict[tuple, LocalBucket] = {}


def rest_for(sessions: sessionmaker[Session], portal_id: int, box: SecretBox, app: AppCredentials | None,
             limiter: Limiter | None = None, record_dir: str | None = None, **rest_options: Any) -> Rest:
    """The gateway to one portal, by how it is connected; with `record_dir`,
    every exchange is also written there, redacted (b24/recording.py)."""
    if record_dir:
        from .recording import Recorder

        rest_options.setdefault("recorder", Recorder(record_dir))
    with sessions() as s:
        auth = s.get(PortalAuth, portal_id)
        if auth is None:
            raise AuthDead("NOT_CONNECTED", f"portal {portal_id} has no connection")
        kind, webhook = auth.kind, box.open(auth.webhook_url)
    if kind == "webhook":
        return Rest(WebhookAuth(webhook or ""), limiter=limiter, **rest_options)
    if app is None:
        raise AuthDead("NO_APP", "OAuth portal but no app credentials configured")
    return Rest(OAuthAuth(sessions, portal_id, box, app), limiter=limiter, **rest_options)
