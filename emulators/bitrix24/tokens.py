"""OAuth tokens, authorization codes and their lifetimes (facts §2).

* access token: valid `Faults.token_ttl_s` (3600 s unless a test shortens
  it); an expired one answers 401 `expired_token`.
* refresh token: 180 days (current docs), **single use and rotating**: a
  refresh returns a new pair, and the used refresh token and the access
  token issued with it stop working (older official pages; facts §2.2).
  An access token retired by rotation answers `expired_token` too, so a
  client that lost a race does what it must do anyway: reload the stored
  pair or refresh.
* authorization code: single use, 30 s (facts §2.1).
* uninstalling the app revokes everything: 401 NO_AUTH_FOUND.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from . import clock
from .errors import expired_token, no_auth

REFRESH_TTL_S = 180 * 24 * 3600
CODE_TTL_S = 30.0


def new_token() -> str:
    # Same look as the documented ones: 32 lowercase hex-ish characters.
    return secrets.token_hex(16)


@dataclass
class AccessToken:
    token: str
    domain: str
    client_id: str
    user_id: int
    scope: tuple[str, ...]
    expires_at: float
    revoked: bool = False   # uninstall
    retired: bool = False   # rotated away by a refresh


@dataclass
class RefreshToken:
    token: str
    domain: str
    client_id: str
    user_id: int
    scope: tuple[str, ...]
    access: str
    expires_at: float
    used: bool = False
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    domain: str
    client_id: str
    user_id: int
    expires_at: float
    used: bool = False


class OAuthError(Exception):
    """An answer of the authorization server (settings/oauth/error-codes.md)."""

    def __init__(self, code: str, description: str, status: int = 400):
        super().__init__(code)
        self.code, self.description, self.status = code, description, status

    def body(self) -> dict:
        return {"error": self.code, "error_description": self.description}


class TokenStore:
    def __init__(self) -> None:
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.code_ttl_s = CODE_TTL_S

    def issue(self, domain: str, client_id: str, user_id: int, scope, ttl_s: float) -> tuple[AccessToken, RefreshToken]:
        now = clock.now_ts()
        access = AccessToken(new_token(), domain, client_id, user_id, tuple(scope), now + ttl_s)
        refresh = RefreshToken(new_token(), domain, client_id, user_id, access.scope, access.token, now + REFRESH_TTL_S)
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        return access, refresh

    def check(self, token: str, domain: str | None) -> AccessToken:
        """The live access token, for `domain` (None: any portal, as the OAuth server sees it)."""
        found = self.access.get(token or "")
        if found is None or found.revoked or (domain is not None and found.domain != domain):
            raise no_auth()
        if found.retired or found.expires_at <= clock.now_ts():
            raise expired_token()
        return found

    def rotate(self, token: str, client_id: str, ttl_s: float) -> tuple[AccessToken, RefreshToken]:
        old = self.refresh.get(token or "")
        if old is None or old.client_id != client_id or old.used or old.revoked or old.expires_at <= clock.now_ts():
            raise OAuthError("invalid_grant", "Invalid refresh token")
        old.used = True
        if old.access in self.access:
            self.access[old.access].retired = True
        return self.issue(old.domain, old.client_id, old.user_id, old.scope, ttl_s)

    def new_code(self, domain: str, client_id: str, user_id: int) -> AuthCode:
        code = AuthCode(new_token(), domain, client_id, user_id, clock.now_ts() + self.code_ttl_s)
        self.codes[code.code] = code
        return code

    def take_code(self, code: str, client_id: str) -> AuthCode:
        found = self.codes.get(code or "")
        if found is None or found.used or found.client_id != client_id or found.expires_at <= clock.now_ts():
            raise OAuthError("invalid_grant", "Invalid authorization code")
        found.used = True
        return found

    def expire_portal(self, domain: str) -> int:
        now = clock.now_ts()
        count = 0
        for tok in self.access.values():
            if tok.domain == domain and tok.expires_at > now:
                tok.expires_at = now - 1
                count += 1
        return count

    def revoke(self, domain: str, client_id: str) -> None:
        for tok in self.access.values():
            if tok.domain == domain and tok.client_id == client_id:
                tok.revoked = True
        for tok in self.refresh.values():
            if tok.domain == domain and tok.client_id == client_id:
                tok.revoked = True

