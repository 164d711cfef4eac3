"""The disposable tokens of widget calls (§5).

In the card, the widget calls Hourbook with `self.$authorizedAjax(...)`;
amoCRM adds `X-Auth-Token: <JWT>` for the user looking at the card: HS256,
signed with the integration's secret key, claims `iss` (the account's
address), `aud` (the base address of our redirect URI), `jti`, `iat`, `nbf`,
`exp` (30 minutes after `iat`), `account_id`, `user_id`, `client_uuid`
(our integration id), `subdomain`. We check what the official SDK checks
(signature, audience, time) and more: the integration id, the claims'
types, and that no token is used twice (its `jti` is remembered until it
expires). Everything else is for the caller: that `account_id` names a
live connection.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .connection import Integration

LEEWAY_S = 30  # clocks differ a little; the SDK's LooseValidAt allows the same
MAX_LIFETIME_S = 3600  # amoCRM issues 30 minutes; a longer token is not one of theirs
MAX_TOKEN_LEN = 4096


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    amo_account_id: int
    user_id: int
    subdomain: str
    issuer: str
    jti: str
    expires_at: int
    is_admin: bool


def verify(token: str, integration: Integration) -> Caller:
    """The caller a disposable token names; Refused when it is not one
    amoCRM issued to our integration, now, for us."""
    if not token or len(token) > MAX_TOKEN_LEN:
        raise Refused("no token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("not a JWT") from None
    if header.get("alg") != "HS256":  # never "none", never a public-key algorithm
        raise Refused("wrong algorithm")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, integration.client_secret, algorithms=["HS256"], audience=sorted(integration.audience),
            leeway=LEEWAY_S, options={"require": ["exp", "iat", "aud", "jti", "account_id", "user_id"]})
    except jwt.ExpiredSignatureError:
        raise Refused("expired") from None
    except jwt.InvalidAudienceError:
        raise Refused("another audience") from None
    except jwt.ImmatureSignatureError:
        raise Refused("not valid yet") from None
    except jwt.PyJWTError as err:
        raise Refused(f"invalid: {type(err).__name__}") from None
    if str(claims.get("client_uuid") or "") != integration.client_id:
        raise Refused("issued to another integration")
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > MAX_LIFETIME_S:
        raise Refused("lifetime")
    account_id, user_id = claims["account_id"], claims["user_id"]
    if type(account_id) is not int or type(user_id) is not int or account_id <= 0:
        raise Refused("account_id and user_id must be numbers")
    jti = str(claims["jti"])
    if not 8 <= len(jti) <= 64:
        raise Refused("jti")
    return Caller(account_id, user_id, str(claims.get("subdomain") or "")[:255], str(claims.get("iss") or "")[:255],
                  jti, exp, claims.get("is_admin") is True)


class SeenTokens:
    """The `jti` of tokens already used, until they expire: in Redis when
    several processes answer, else in this process."""

    def __init__(self, redis: Any = None) -> None:
        self.redis = redis
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def first_use(self, caller: Caller) -> bool:
        ttl = max(1, caller.expires_at + LEEWAY_S - int(time.time()))
        key = f"hourbook:amocrm:jti:{caller.amo_account_id}:{caller.jti}"
        if self.redis is not None:
            return bool(self.redis.set(key, b"1", nx=True, ex=ttl))
        now = int(time.time())
        with self._lock:
            if len(self._seen) > 10000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl
            return True
