"""What the emulated amoCRM holds: accounts (users, companies, leads,
notes), integrations (id, secret, redirect URI, widget archive), the codes
and tokens it issued, and each account's request meter.

The rules, and where they come from (amocrm/FACTS.md):
- an authorization code lives 20 minutes and is used once (§1.2);
- an access token lives 86 400 s; a refresh token is single use, each
  refresh gives a new pair and the old pair stops working (§1.4); a spent
  refresh token is answered 401 with OAuthProblemJson (§1.5);
- more than 7 requests in a second → 429; a storm of 429s → the account is
  blocked, every request answered 403 with an nginx page (§3);
- disposable tokens: HS256 with the integration's secret, `aud` = the base
  address of its redirect URI, 30 minutes (§5).
"""
from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt

CODE_TTL_S = 20 * 60
ACCESS_TTL_S = 86400
DISPOSABLE_TTL_S = 1800
RATE_PER_S = 7
BLOCK_AFTER_429 = 100  # 429s within a minute that get the account blocked
BLOCK_S = 60


@dataclass
class Integration:
    client_id: str
    secret: str
    redirect_uri: str
    disconnect_hook: str = ""
    widget_zip: bytes | None = None  # the uploaded widget.zip
    code: str = "hourbook"  # the widget code amoCRM gives the archive on upload

    @property
    def audience(self) -> str:
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Grant:
    account_id: int
    client_id: str
    access: str
    refresh: str
    access_expires: float
    alive: bool = True


@dataclass
class Account:
    id: int
    subdomain: str
    name: str
    time_zone: str = "Europe/Moscow"
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""  # set when its server starts: http://127.0.0.1:<port>
    host: str = ""  # 127.0.0.1:<port>, what `referer` says
    installed: set[str] = field(default_factory=set)  # client ids with a grant
    recent: deque = field(default_factory=deque)  # request times, last second
    limited: deque = field(default_factory=deque)  # 429 times, last minute
    blocked_until: float = 0.0
    rate_limit: bool = True
    paid: bool = True  # False: the subscription is over, every API call answers 402 (§2.1)
    counts: dict[str, int] = field(default_factory=lambda: {"requests": 0, "429": 0, "403": 0, "refreshes": 0})


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[int, Account] = {}
        self.integrations: dict[str, Integration] = {}
        self.codes: dict[str, tuple[int, str, float]] = {}  # code -> (account, client_id, expires)
        self.grants: list[Grant] = []
        self._ids = {"account": 31_000_000, "user": 7_000_000, "company": 40_000_000, "lead": 20_000_000,
                     "note": 90_000_000}
        self.clock = time.time
        self.api_host = "api-b.amocrm.ru"  # the `api_domain` of access tokens: the emulator's www host once started

    def next_id(self, kind: str) -> int:
        with self.lock:
            self._ids[kind] += 1
            return self._ids[kind]

    # -- the account's content

    def add_account(self, subdomain: str, name: str) -> Account:
        account = Account(self.next_id("account"), subdomain, name)
        self.accounts[account.id] = account
        return account

    def add_user(self, account: Account, name: str, lang: str = "ru", admin: bool = False) -> int:
        user_id = self.next_id("user")
        account.users[user_id] = {"id": user_id, "name": name, "lang": lang, "is_admin": admin}
        return user_id

    def add_company(self, account: Account, name: str, **fields: Any) -> int:
        company_id = self.next_id("company")
        now = int(self.clock())
        account.companies[company_id] = {
            "id": company_id, "name": name, "responsible_user_id": next(iter(account.users), 0), "group_id": 0,
            "created_by": 0, "updated_by": 0, "created_at": now, "updated_at": now, "closest_task_at": None,
            "custom_fields_values": fields.get("custom_fields_values"), "is_deleted": False,
            "account_id": account.id}
        return company_id

    def add_lead(self, account: Account, name: str, company_id: int | None, price: int = 0) -> int:
        lead_id = self.next_id("lead")
        now = int(self.clock())
        account.leads[lead_id] = {"id": lead_id, "name": name, "price": price, "company_id": company_id,
                                  "responsible_user_id": next(iter(account.users), 0), "group_id": 0,
                                  "created_at": now, "updated_at": now, "account_id": account.id}
        return lead_id

    # -- OAuth

    def issue_code(self, account: Account, client_id: str) -> str:
        code = "def50200" + secrets.token_hex(40)  # amoCRM's codes look like this
        with self.lock:
            self.codes[code] = (account.id, client_id, self.clock() + CODE_TTL_S)
        return code

    def grant(self, account: Account, client_id: str) -> Grant:
        with self.lock:
            found = Grant(account.id, client_id, self._access_token(account, client_id), secrets.token_hex(48),
                          self.clock() + ACCESS_TTL_S)
            self.grants.append(found)
            account.installed.add(client_id)
            return found

    def _access_token(self, account: Account, client_id: str) -> str:
        # A JWT, as amoCRM's are (§1.3); signed with a key of the emulator's own.
        now = int(self.clock())
        return jwt.encode({"aud": client_id, "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
                           "exp": now + ACCESS_TTL_S, "sub": "0", "account_id": account.id,
                           "api_domain": self.api_host, "scopes": ["crm", "notifications"]},
                          "emulator-private-key-of-the-amocrm-double", algorithm="HS256")

    def by_access(self, token: str) -> Grant | None:
        with self.lock:
            for g in self.grants:
                if g.alive and g.access == token:
                    return g if g.access_expires > self.clock() else None
        return None

    def by_refresh(self, token: str) -> Grant | None:
        with self.lock:
            return next((g for g in self.grants if g.refresh == token), None)

    def rotate(self, old: Grant) -> Grant:
        with self.lock:
            old.alive = False
            account = self.accounts[old.account_id]
            account.counts["refreshes"] += 1
            return self.grant(account, old.client_id)

    def revoke(self, account: Account, client_id: str) -> None:
        with self.lock:
            for g in self.grants:
                if g.account_id == account.id and g.client_id == client_id:
                    g.alive = False
            account.installed.discard(client_id)

    def expire_access(self, account: Account) -> None:
        """Let every access token of the account run out now (a day passes)."""
        with self.lock:
            for g in self.grants:
                if g.account_id == account.id:
                    g.access_expires = self.clock() - 1

    # -- disposable tokens (§5)

    def disposable(self, account: Account, client_id: str, user_id: int, ttl_s: int = DISPOSABLE_TTL_S) -> str:
        integration = self.integrations[client_id]
        now = int(self.clock())
        user = account.users.get(user_id) or {}
        return jwt.encode({"iss": account.url, "aud": integration.audience, "jti": str(uuid.uuid4()), "iat": now,
                           "nbf": now, "exp": now + ttl_s, "account_id": account.id, "user_id": user_id,
                           "subdomain": account.subdomain, "client_uuid": client_id,
                           "is_admin": bool(user.get("is_admin"))},
                          integration.secret, algorithm="HS256")

    # -- the request meter (§3)

    def meter(self, account: Account) -> int | None:
        """None to go on; 429 or 403 to refuse this request."""
        now = self.clock()
        with self.lock:
            account.counts["requests"] += 1
            if account.blocked_until > now:
                account.counts["403"] += 1
                return 403
            if not account.rate_limit:
                return None
            while account.recent and account.recent[0] <= now - 1.0:
                account.recent.popleft()
            while account.limited and account.limited[0] <= now - 60.0:
                account.limited.popleft()
            if len(account.recent) >= RATE_PER_S:
                account.counts["429"] += 1
                account.limited.append(now)
                if len(account.limited) >= BLOCK_AFTER_429:
                    account.blocked_until = now + BLOCK_S
                return 429
            account.recent.append(now)
            return None
