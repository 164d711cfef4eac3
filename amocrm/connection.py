"""OAuth 2.0 with an amoCRM account (§1), and the connection it makes.

- The code is exchanged at the account's own host:
  `POST https://<subdomain>.amocrm.ru/oauth2/access_token`, a JSON body with
  `client_id`, `client_secret`, `grant_type`, `code` or `refresh_token`, and
  `redirect_uri` exactly as registered (§1.3). The host comes from the
  redirect's `referer`, and only a host of amoCRM's (or one the settings
  name, the emulator's) is believed: the request carries our client secret.
- The access token lives a day; the refresh token three months and is single
  use, every refresh returns a new pair (§1.4). So a refresh happens under a
  row lock on the connection (SELECT … FOR UPDATE; BEGIN IMMEDIATE on
  SQLite): one at a time per connection across every process, the new pair
  saved in the same transaction. A process that waited finds the token
  already new and uses it; had it refreshed too, it would have spent a
  refresh token already spent and lost the connection.
- A refusal from the token endpoint (400/401, §1.5) marks the connection
  dead, visibly, until the admin connects again.
- An account's subdomain can change (§1.5): its old address then answers
  404 (or the refresh 401). Before giving up we ask where the account lives
  now, as the official SDK does: `GET https://<api_domain>/oauth2/account/current/subdomain`
  with `X-Refresh-Token` (`api_domain` is a claim of the access token), and
  move the connection there when the answer is an amoCRM host.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hosts.limits import Limiter, LocalBucket, RedisBucket
from hosts.secrets import SecretBox
from ledger import clock

from .client import Api, AuthFailed, Unreachable
from .models import AmoConnection

# The account hosts of amoCRM's two platforms (§2.1); a referer elsewhere is refused.
AMO_SUFFIXES = (".amocrm.ru", ".amocrm.com", ".kommo.com")
# §3: 7 requests a second. A leaky bucket lets through its room at once and
# then its rate, so room + rate must stay within 7 in any second: one at a
# time, evenly spaced at 5 a second, so that even when the network bunches
# requests on the way (a slow one, then a fast one) no second sees seven.
# Hourbook asks little of amoCRM (a lead's company, a note a week).
RATE_PER_S = 5.0
ROOM = 1


@dataclass(frozen=True)
class Integration:
    """Our integration in amoCRM: its id and secret, and the redirect URI
    registered with it (the token requests repeat it, §1.3)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    consent_url: str = "https://www.amocrm.ru/oauth"  # §1.2
    # Hosts that may stand in for amoCRM, over plain http (the emulator): "127.0.0.1" or "127.0.0.1:8100".
    dev_hosts: tuple[str, ...] = ()

    @property
    def audience(self) -> set[str]:
        """What a disposable token's `aud` may say: the base address of the
        redirect URI (§5); the SDK compares scheme://host, we also take the port."""
        parts = urlsplit(self.redirect_uri)
        return {f"{parts.scheme}://{parts.netloc}", f"{parts.scheme}://{parts.hostname}"}

    def consent(self, state: str) -> str:
        return f"{self.consent_url}?{urlencode({'client_id': self.client_id, 'state': state, 'mode': 'popup'})}"


def base_url(integration: Integration, referer: str) -> str | None:
    """The account's address from the redirect's `referer` (a bare host,
    `example.amocrm.ru`, §1.2), or None when it is no amoCRM host."""
    referer = (referer or "").strip().lower()
    if "://" in referer:
        referer = urlsplit(referer).netloc
    if not referer or len(referer) > 253 or not all(c.isalnum() or c in ".-:" for c in referer):
        return None
    host = referer.split(":")[0]
    if referer in integration.dev_hosts or host in integration.dev_hosts:
        return f"http://{referer}"
    if ":" not in referer and host.endswith(AMO_SUFFIXES) and host.count(".") == 2:
        return f"https://{referer}"
    return None


def token_request(integration: Integration, base: str, **grant: str) -> dict[str, Any]:
    """Ask the account's token endpoint; AuthFailed on a refusal."""
    body = {"client_id": integration.client_id, "client_secret": integration.client_secret,
            "redirect_uri": integration.redirect_uri, **grant}
    try:
        response = requests.post(base.rstrip("/") + "/oauth2/access_token", json=body, timeout=20,
                                 allow_redirects=False)
    except (requests.Timeout, requests.ConnectionError) as err:
        raise Unreachable(0, "unreachable", str(err), "oauth2/access_token") from None
    if response.status_code >= 500:
        raise Unreachable(response.status_code, "", "", "oauth2/access_token")
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token") \
            or not answer.get("refresh_token"):
        detail = str(answer.get("hint") or answer.get("detail") or "") if isinstance(answer, dict) else ""
        raise AuthFailed(response.status_code, "token refused", detail, "oauth2/access_token")
    return answer


def api_domain(access_token: str | None) -> str:
    """The `api_domain` claim of an access token (a JWT; tokens issued after
    2024-08-21 carry it, §1.5), read without checking: it only says where to
    ask, and the answer is believed only for an amoCRM host."""
    if not access_token:
        return ""
    try:
        import jwt

        return str(jwt.decode(access_token, options={"verify_signature": False}).get("api_domain") or "")
    except Exception:  # noqa: BLE001  (not a JWT, or no claim: nowhere to ask)
        return ""


def current_home(integration: Integration, access_token: str | None, refresh_token: str) -> tuple[str, str] | None:
    """(base URL, subdomain) where the account lives now, or None when that
    cannot be learned."""
    where = base_url(integration, api_domain(access_token))
    if where is None:
        return None
    try:
        response = requests.get(where + "/oauth2/account/current/subdomain",
                                headers={"X-Refresh-Token": refresh_token}, timeout=20, allow_redirects=False)
        answer = response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        return None
    moved = base_url(integration, str(answer.get("domain") or "")) if isinstance(answer, dict) else None
    return (moved, str(answer.get("subdomain") or "")[:255]) if moved else None


def store_tokens(conn: AmoConnection, box: SecretBox, answer: dict[str, Any]) -> None:
    now = clock.now()
    conn.access_token = box.seal(str(answer["access_token"]))
    conn.refresh_token = box.seal(str(answer["refresh_token"]))
    conn.expires_at = now + timedelta(seconds=int(answer.get("expires_in") or 86400))
    conn.refreshed_at, conn.updated_at = now, now
    conn.refresh_count = (conn.refresh_count or 0) + 1


@dataclass
class StoredTokens:
    """The tokens of one connection, read from and written to the database."""

    sessions: sessionmaker[Session]
    connection_id: int
    box: SecretBox
    integration: Integration
    _token: str | None = None

    def token(self) -> str:
        if self._token is None:
            with self.sessions() as s:
                conn = s.get(AmoConnection, self.connection_id)
                token = self.box.open(conn.access_token) if conn is not None else None
            if not token or conn is None or conn.status in ("dead", "disconnected"):
                raise AuthFailed(0, "not connected", "connect amoCRM again")
            self._token = token
        return self._token

    base: str | None = None  # the account's address after a move, for the Api to follow

    def refresh(self, stale: str) -> str:
        refused: AuthFailed | None = None
        with self.sessions() as s, s.begin():
            conn = s.execute(select(AmoConnection).where(AmoConnection.id == self.connection_id)
                             .with_for_update()).scalar_one()
            if conn.status == "disconnected":
                raise AuthFailed(0, "disconnected", "the integration was disconnected")
            current = self.box.open(conn.access_token)
            if current and current != stale:
                self._token, self.base = current, conn.base_url  # rotated by another process meanwhile
                return current
            try:
                refresh = self.box.open(conn.refresh_token)
                if not refresh:
                    raise AuthFailed(0, "no refresh token", "connect amoCRM again")
                try:
                    answer = token_request(self.integration, conn.base_url, grant_type="refresh_token",
                                           refresh_token=refresh)
                except AuthFailed as err:
                    if err.status not in (401, 404) or not self._moved(conn, current, refresh):
                        raise
                    answer = token_request(self.integration, conn.base_url, grant_type="refresh_token",
                                           refresh_token=refresh)
            except AuthFailed as err:
                # Marked dead in this transaction, which must commit: raising
                # inside it would roll the mark back.
                conn.status, conn.dead_reason, conn.updated_at = "dead", str(err)[:500], clock.now()
                refused = err
            else:
                store_tokens(conn, self.box, answer)
                conn.status = "ok" if conn.company_id else "pending"
                self._token, self.base = str(answer["access_token"]), conn.base_url
        if refused is not None:
            raise refused
        assert self._token is not None
        return self._token

    def relocate(self) -> str | None:
        """After a 404 from the account's address: its new address, saved,
        or None when it has not moved."""
        with self.sessions() as s, s.begin():
            conn = s.execute(select(AmoConnection).where(AmoConnection.id == self.connection_id)
                             .with_for_update()).scalar_one()
            refresh = self.box.open(conn.refresh_token)
            if conn.status == "disconnected" or not refresh:
                return None
            before = conn.base_url
            if not self._moved(conn, self.box.open(conn.access_token), refresh):
                return None if conn.base_url == before else conn.base_url
            self.base = conn.base_url
            return conn.base_url

    def _moved(self, conn: AmoConnection, access: str | None, refresh: str) -> bool:
        found = current_home(self.integration, access, refresh)
        if found is None or found[0] == conn.base_url:
            return False
        conn.base_url, conn.subdomain = found[0], found[1] or conn.subdomain
        conn.updated_at = clock.now()
        return True


_LOCAL: dict[int, LocalBucket] = {}


def local_bucket() -> LocalBucket:
    return LocalBucket(RATE_PER_S, ROOM + 1, margin=1)


def limiter_for(amo_account_id: int, redis: Any = None) -> Limiter:
    """Under 7 a second per account, shared by every process with Redis."""
    if redis is not None:
        return RedisBucket(redis, f"amocrm:{amo_account_id}", RATE_PER_S, ROOM + 1, margin=1)
    return _LOCAL.setdefault(amo_account_id, local_bucket())


def api_for(sessions: sessionmaker[Session], connection_id: int, box: SecretBox, integration: Integration,
            redis: Any = None, **options: Any) -> Api:
    with sessions() as s:
        conn = s.get(AmoConnection, connection_id)
        if conn is None or conn.status == "disconnected":
            raise AuthFailed(0, "not connected", f"amoCRM connection {connection_id} is not live")
        base, amo_id = conn.base_url, conn.amo_account_id
    options.setdefault("limiter", limiter_for(amo_id, redis))
    return Api(base, StoredTokens(sessions, connection_id, box, integration), **options)


class HeldToken:
    """An access token held in memory: the code exchange's, before its row exists."""

    def __init__(self, access: str) -> None:
        self.access = access

    def token(self) -> str:
        return self.access

    def refresh(self, stale: str) -> str:
        raise AuthFailed(401, "refused", "a new token was refused")

    def relocate(self) -> str | None:
        return None
