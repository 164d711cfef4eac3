"""The REST gateway: every call Hourbook makes to a portal goes through here.

Written on `requests` rather than fast-bitrix24 (which PRODUCT.md first
suggested for bulk reads) because the sync's economy depends on controlling
each HTTP request exactly: fast-bitrix24 wraps even single calls into its own
batches, pages with `start` offsets instead of an ID cursor, drops Bitrix24's
error codes on 4xx, and loops forever on a permanently rejected token
(libraries.md §A1–A4). Here a request is a request: counted, paced to the
portal's leaky bucket, retried with backoff on 503/429/timeouts, refreshed
once on `expired_token`.
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests

from .limits import Limiter

MAX_BATCH = 50


class RestError(Exception):
    """An error answer from the portal, with Bitrix24's code kept."""

    def __init__(self, code: str, description: str = "", status: int = 0, method: str = "") -> None:
        super().__init__(f"{method}: {code} {description}".strip())
        self.code, self.description, self.status, self.method = code, description, status, method


class AuthDead(RestError):
    """The portal will not accept our credentials any more (app removed,
    refresh token invalid, payment required): a person must act."""


class Transient(RestError):
    """Worth retrying later: limits, overload, timeouts."""


class Auth(Protocol):
    def endpoint(self) -> str: ...
    def token(self) -> str | None: ...
    def refresh(self, stale: str | None) -> str: ...


@dataclass
class WebhookAuth:
    """An incoming webhook: the secret is in the URL, there is no token."""

    url: str

    def endpoint(self) -> str:
        return self.url if self.url.endswith("/") else self.url + "/"

    def token(self) -> str | None:
        return None

    def refresh(self, stale: str | None) -> str:
        raise AuthDead("NO_AUTH_FOUND", "the webhook was rejected")


def php_query(params: Any, prefix: str = "") -> list[tuple[str, str]]:
    """PHP's http_build_query: nested dicts and lists as `a[b][0]=…`, the
    form Bitrix24 reads inside batch commands."""
    pairs: list[tuple[str, str]] = []
    if isinstance(params, Mapping):
        items = params.items()
    elif isinstance(params, (list, tuple)):
        items = enumerate(params)
    else:
        return [(prefix, _scalar(params))]
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (Mapping, list, tuple)):
            if not value:
                continue
            pairs.extend(php_query(value, name))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "Y"
    if value is False:
        return "N"
    return str(value)


def command(method: str, params: Any = None) -> str:
    """One batch command: `method?query`. `$result[...]` references are left
    unescaped so the portal can substitute them."""
    if not params:
        return method
    parts = []
    for key, value in php_query(params):
        encoded = value if value.startswith("$result[") else quote(value, safe="")
        parts.append(f"{quote(key, safe='[]')}={encoded}")
    return f"{method}?{'&'.join(parts)}"


@dataclass
class BatchResult:
    result: dict[str, Any]
    errors: dict[str, Any]
    total: dict[str, int]
    next: dict[str, int]

    @classmethod
    def of(cls, answer: Mapping[str, Any]) -> BatchResult:
        """A batch answer's parts; an empty part comes as [] (PHP's empty array)."""
        body = answer.get("result") or {}

        def part(name: str) -> dict:
            value = body.get(name) if isinstance(body, dict) else None
            return value if isinstance(value, dict) else {}

        return cls(part("result"), part("result_error"), part("result_total"), part("result_next"))


@dataclass
class Rest:
    """Calls to one portal."""

    auth: Auth
    limiter: Limiter | None = None
    timeout_s: float = 30.0
    retries: int = 6
    backoff_s: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    sleep: Callable[[float], None] = time.sleep
    http: requests.Session = field(default_factory=requests.Session)
    requests_made: Counter = field(default_factory=Counter)
    last_request_s: float = 0.0
    # b24.recording.Recorder: every exchange, redacted, to a file; by default
    # when HOURBOOK_RECORD_DIR is set (the web process records its installs,
    # frames and syncs alike), else when the caller passes one (RECORD_DIR).
    recorder: Callable[..., Any] | None = field(default_factory=lambda: _recorder_from_environment())

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """The whole answer (`result`, `total`, `next`, `time`) of one method."""
        refreshed = False
        for attempt in range(self.retries + 1):
            token = self.auth.token()
            body = params if params is not None else {}
            if token is not None:
                if isinstance(body, list):
                    # Positional methods take a list; the token rides in the query string.
                    url = f"{self.auth.endpoint()}{method}?auth={quote(token, safe='')}"
                else:
                    body, url = {**body, "auth": token}, f"{self.auth.endpoint()}{method}"
            else:
                url = f"{self.auth.endpoint()}{method}"
            if self.limiter is not None:
                self.limiter.acquire()
            self.requests_made[method] += 1
            sent_at = time.perf_counter()
            try:
                response = self.http.post(url, data=json.dumps(body), timeout=self.timeout_s,
                                          headers={"Content-Type": "application/json",
                                                   "User-Agent": "Hourbook/1.0"})
            except (requests.Timeout, requests.ConnectionError) as err:
                self._record(method, params, 0, None, token)
                self._wait(attempt, method, Transient("TIMEOUT", str(err), 0, method))
                continue
            answer = _json(response)
            self.last_request_s = time.perf_counter() - sent_at  # the wire alone, not the pacing
            self._record(method, params, response.status_code, answer, token)
            error = answer.get("error") if isinstance(answer, dict) else "ERROR_UNEXPECTED_ANSWER"
            if not error and response.status_code == 200:
                return answer
            code = str(error or f"HTTP_{response.status_code}")
            description = str(answer.get("error_description", "")) if isinstance(answer, dict) else ""
            if code == "expired_token" and not refreshed:
                self.auth.refresh(token)
                refreshed = True
                continue
            if response.status_code == 401 or code in ("NO_AUTH_FOUND", "invalid_token", "expired_token",
                                                       "PAYMENT_REQUIRED", "ERROR_OAUTH"):
                raise AuthDead(code, description, response.status_code, method)
            if response.status_code in (429, 500, 502, 503, 504) or code in (
                    "QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR", "OVERLOAD_LIMIT"):
                self._wait(attempt, method, Transient(code, description, response.status_code, method))
                continue
            raise RestError(code, description, response.status_code, method)
        raise Transient("RETRIES_EXHAUSTED", f"{method} failed {self.retries + 1} times", 0, method)

    def _record(self, method: str, params: Any, status: int, answer: Any, token: str | None) -> None:
        if self.recorder is None:
            return
        from .recording import endpoint_secrets

        self.recorder(method, params if params is not None else {}, status, answer,
                      secrets=[token or "", *endpoint_secrets(self.auth.endpoint())])

    def _wait(self, attempt: int, method: str, error: Transient) -> None:
        if attempt >= self.retries:
            raise error
        base = self.backoff_s[min(attempt, len(self.backoff_s) - 1)]
        if error.code == "OPERATION_TIME_LIMIT":
            base = max(base, 10.0)  # the method's 10-minute budget is spent: wait longer
        self.sleep(base * (0.5 + random.random()))  # jitter: many workers must not retry in step

    def batch(self, commands: Mapping[str, str], halt: bool = False) -> BatchResult:
        """Up to 50 commands in one request (`command()` builds each)."""
        if not commands:
            return BatchResult({}, {}, {}, {})
        if len(commands) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} commands")
        return BatchResult.of(self.call("batch", {"halt": 1 if halt else 0, "cmd": dict(commands)}))


def _recorder_from_environment() -> Any:
    from .recording import from_environment

    return from_environment()


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": "ERROR_UNEXPECTED_ANSWER", "error_description": response.text[:200]}
