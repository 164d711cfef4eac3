"""API v4 of one amoCRM account: every call Hourbook makes to amoCRM goes
through here.

- Paced under the limit of 7 requests a second (§3) by a bucket shared, with
  Redis, by every process calling the same account. A 429 is still retried
  with exponential backoff and jitter, a few times, then given up as
  `RateLimited` (the job is retried later): repeated 429s get the account
  blocked (403 for every call, often an nginx HTML page, §3), so a storm is
  never answered with more requests.
- A 401 refreshes the access token once (another process may have rotated
  it) and repeats the call; a second 401 is `AuthFailed`.
- 204 is an empty answer (a get-by-id of nothing, an empty list, §2.1);
  lists are paged with `page`/`limit` ≤ 250, following `_links.next`.
- Errors are problem+json (`title`, `type`, `status`, `detail`,
  `validation-errors`, §2.1): kept in `AmoError`.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from hosts.limits import Limiter

PAGE_LIMIT = 250  # the largest page amoCRM gives (§2.3)
TIMEOUT_S = 20


class AmoError(Exception):
    """An error answer from amoCRM, its problem+json fields kept."""

    def __init__(self, status: int, title: str = "", detail: str = "", path: str = "") -> None:
        super().__init__(f"{path}: HTTP {status} {title} {detail}".strip())
        self.status, self.title, self.detail, self.path = status, title, detail, path


class AuthFailed(AmoError):
    """amoCRM will not accept our tokens (the integration was disconnected,
    the refresh token was used or expired): the admin must connect again."""


class Blocked(AmoError):
    """403 after too many requests: the account is blocked for every call (§3)."""


class RateLimited(AmoError):
    """429 after every retry: try the whole job later."""


class Unreachable(AmoError):
    """Timeouts and 5xx: worth retrying later."""


class Tokens(Protocol):
    def token(self) -> str: ...
    def refresh(self, stale: str) -> str: ...
    def relocate(self) -> str | None: ...


@dataclass
class Api:
    base_url: str  # https://<subdomain>.amocrm.ru, never taken from a widget call
    tokens: Tokens
    limiter: Limiter | None = None
    retries_429: int = 5
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    http: Any = field(default_factory=requests.Session)
    counts: dict[str, int] = field(default_factory=lambda: {"requests": 0, "429": 0, "refreshes": 0})

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                body: Any = None) -> dict[str, Any] | None:
        """The decoded answer, or None for 204 (nothing there)."""
        token = self.tokens.token()
        refreshed = moved = False
        limited = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            self.counts["requests"] += 1
            try:
                response = self.http.request(
                    method, self.base_url.rstrip("/") + path, params=params,
                    data=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/hal+json",
                             **({"Content-Type": "application/json"} if body is not None else {})},
                    timeout=TIMEOUT_S, allow_redirects=False)
            except (requests.Timeout, requests.ConnectionError) as err:
                raise Unreachable(0, "unreachable", str(err), path) from None
            status = response.status_code
            if status == 429:
                self.counts["429"] += 1
                if limited >= self.retries_429:
                    raise RateLimited(429, "Too Many Requests", f"after {limited} retries", path)
                # 1, 2, 4, 8 … s with jitter: workers that hit the limit together
                # do not come back together.
                self.sleep(self.backoff_s * (2 ** limited) * (0.5 + random.random()))
                limited += 1
                continue
            if status == 401 and not refreshed:
                refreshed = True
                self.counts["refreshes"] += 1
                token = self.tokens.refresh(token)
                self.base_url = getattr(self.tokens, "base", None) or self.base_url
                continue
            if status == 404 and not moved:
                # Not a missing entity (that is 204): the address is gone, the
                # subdomain may have changed (§1.5).
                moved = True
                where = self.tokens.relocate()
                if where and where != self.base_url:
                    self.base_url = where
                    continue
            if status == 204:
                return None
            if status in (200, 201, 202):
                try:
                    answer = response.json()
                except ValueError:
                    raise AmoError(status, "not JSON", response.text[:200], path) from None
                return answer if isinstance(answer, dict) else {"_items": answer}
            raise _error(response, path)

    def get(self, path: str, **params: Any) -> dict[str, Any] | None:
        return self.request("GET", path, params or None)

    def pages(self, path: str, key: str, limit: int = PAGE_LIMIT, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page, until a page has no
        `_links.next` or the list answers 204."""
        page = 1
        while True:
            answer = self.get(path, page=page, limit=limit, **params)
            if answer is None:
                return
            yield from (answer.get("_embedded") or {}).get(key) or []
            if not ((answer.get("_links") or {}).get("next") or {}).get("href"):
                return
            page += 1

    # -- what Hourbook uses

    def account(self) -> dict[str, Any]:
        answer = self.get("/api/v4/account", **{"with": "datetime_settings"})
        if not answer or "id" not in answer:
            raise AmoError(200, "no account", "", "/api/v4/account")
        return answer

    def company(self, company_id: int) -> dict[str, Any] | None:
        return self.get(f"/api/v4/companies/{int(company_id)}")

    def companies(self, query: str = "") -> Iterator[dict[str, Any]]:
        return self.pages("/api/v4/companies", "companies", **({"query": query} if query else {}))

    def lead_company(self, lead_id: int) -> int | None:
        """The company of a lead: `_embedded.companies` holds at most one,
        present without `with` (§2.4)."""
        lead = self.get(f"/api/v4/leads/{int(lead_id)}")
        companies = ((lead or {}).get("_embedded") or {}).get("companies") or []
        try:
            return int(companies[0]["id"]) if companies else None
        except (KeyError, TypeError, ValueError):
            return None

    def add_note(self, company_id: int, text: str, request_id: str) -> int:
        """A common note on the company card (§2.5): the body is an array,
        the answer 200 with `_embedded.notes[0].id`."""
        answer = self.request("POST", f"/api/v4/companies/{int(company_id)}/notes",
                              body=[{"note_type": "common", "params": {"text": text}, "request_id": request_id}])
        notes = ((answer or {}).get("_embedded") or {}).get("notes") or []
        if not notes or "id" not in notes[0]:
            raise AmoError(200, "no note in the answer", "", "notes")
        return int(notes[0]["id"])

    def notes(self, company_id: int) -> Iterator[dict[str, Any]]:
        return self.pages(f"/api/v4/companies/{int(company_id)}/notes", "notes",
                          **{"filter[note_type]": "common", "order[id]": "desc"})


def _error(response: requests.Response, path: str) -> AmoError:
    status = response.status_code
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    title, detail = str(problem.get("title") or ""), str(problem.get("detail") or "")
    if status == 403 and not problem:
        return Blocked(403, "blocked", "the account is blocked for too many requests", path)
    if status == 401:
        return AuthFailed(401, title or "Unauthorized", detail, path)
    if status == 402:
        return AuthFailed(402, title or "Payment Required", detail or "the account is not paid", path)
    if status >= 500:
        return Unreachable(status, title, detail, path)
    return AmoError(status, title, detail, path)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
