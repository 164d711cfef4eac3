"""Who opened a frame: checking the POST a portal sends to the app page and
the CRM widget (facts §5.3–5.4).

Nothing in the POST is believed by itself. The `member_id` must name a
portal we hold; the `AUTH_ID` must be accepted by that portal at the REST
base stored at install (never the request's `DOMAIN`), and for a
marketplace install the authorization server must say it was issued to our
application for that portal. The answer is cached for a short while, so a
widget refreshed every minute does not cost the portal a call each time.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from .client import AuthDead
from .connection import AppCredentials, oauth_get
from .install import verify_access_token

CACHE_TTL_S = 120
CACHE_SIZE = 4096


@dataclass(frozen=True)
class FrameUser:
    user_id: int
    admin: bool
    name: str


class _Cache:
    """A small thread-safe LRU with expiry, keyed by a digest of the token
    (the token itself is never kept)."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, size: int = CACHE_SIZE) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._items: OrderedDict[str, tuple[float, FrameUser]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> FrameUser | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: str, user: FrameUser) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl_s, user)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cache = _Cache()


def _profile(client_endpoint: str, auth_id: str) -> FrameUser:
    base = client_endpoint if client_endpoint.endswith("/") else client_endpoint + "/"
    status, answer = oauth_get(base + "profile.json", {"auth": auth_id}, "profile", timeout_s=10, method="POST")
    result = answer.get("result")
    if status != 200 or not isinstance(result, dict):
        raise AuthDead(str(answer.get("error") or f"HTTP_{status}"), "the portal does not accept this token",
                       status or 401, "profile")
    try:
        user_id = int(result.get("ID"))
    except (TypeError, ValueError):
        raise AuthDead("NO_USER", "the portal named no user", 401, "profile") from None
    name = " ".join(str(result.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    return FrameUser(user_id, result.get("ADMIN") is True, name)


def verify_frame(member_id: str, auth_id: str, client_endpoint: str, *, app: AppCredentials | None,
                 oauth_server: str | None) -> FrameUser:
    """The user behind `auth_id` on the portal `member_id`; raises AuthDead
    when the token is not one the portal (and, for an app, the authorization
    server) accepts, Transient when they cannot be reached."""
    if not auth_id or len(auth_id) > 512:
        raise AuthDead("NO_AUTH_FOUND", "no access token")
    key = hashlib.sha256(f"{member_id}\0{auth_id}".encode()).hexdigest()
    found = cache.get(key)
    if found is not None:
        return found
    issued_to = None
    if app is not None and oauth_server:
        verified = verify_access_token(oauth_server, auth_id, app.client_id, member_id)
        issued_to = verified.user_id
    user = _profile(client_endpoint, auth_id)
    if issued_to is not None and int(issued_to) != user.user_id:
        raise AuthDead("WRONG_USER", "the token names another user", 401, "profile")
    cache.put(key, user)
    return user


def deal_company(client_endpoint: str, auth_id: str, deal_id: int) -> int | None:
    """The CRM company of a deal, asked as the user who opened its tab (so
    the portal's own access rights apply); None when it has none or the
    user may not read it."""
    base = client_endpoint if client_endpoint.endswith("/") else client_endpoint + "/"
    status, answer = oauth_get(base + "crm.deal.get.json", {"auth": auth_id, "id": str(deal_id)}, "crm.deal.get",
                               timeout_s=10, method="POST")
    result = answer.get("result")
    if status != 200 or not isinstance(result, dict):
        return None
    company = str(result.get("COMPANY_ID") or "0")
    return int(company) if company.isdecimal() and int(company) > 0 else None
