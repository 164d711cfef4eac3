"""Fixtures for the emulator's own tests: a running emulator, a portal
without the rate limit (tests that want it switch it on), a webhook, an
installed app with tokens, and `receiver` — a real little HTTP server that
plays the app's side (installer page, event handler) and records what the
"portal" sent it.

Everything talks real HTTP through `requests`.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulators.bitrix24.php import flatten
from tests.conformance.shape import kind

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "b24-examples"
APP_ID, APP_SECRET = "app.5f1c0e2a9b7d31.40212345", "Xy9secretXy9secretXy9secretXy9secretXy9secret00"


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


def assert_shape(actual, expected, path: str = "$", subset: bool = False) -> None:
    """Same JSON shape: the same keys (or, with subset=True, only keys the
    example has), the same value kinds, list items shaped like the
    example's first item. A null in the example admits any kind; a map keyed
    by ids is compared entry by entry."""
    if expected is None:
        return
    assert kind(actual) == kind(expected), f"{path}: {kind(actual)} != {kind(expected)} ({actual!r})"
    if isinstance(expected, dict) and expected and all(str(k).isdigit() for k in expected):
        # A map keyed by ids (tags, auditorsData): every entry shaped like the example's first.
        proto = next(iter(expected.values()))
        for key, value in actual.items():
            assert str(key).isdigit(), f"{path}: key {key!r} is not an id"
            assert_shape(value, proto, f"{path}.{key}", subset)
        return
    if isinstance(expected, dict):
        if subset:
            extra = set(actual) - set(expected)
            assert not extra, f"{path}: keys not in the example: {sorted(extra)}"
        else:
            assert set(actual) == set(expected), \
                f"{path}: keys differ: +{sorted(set(actual) - set(expected))} -{sorted(set(expected) - set(actual))}"
        for key in set(actual) & set(expected):
            assert_shape(actual[key], expected[key], f"{path}.{key}", subset)
    elif isinstance(expected, list) and expected and actual:
        for i, item in enumerate(actual):
            assert_shape(item, expected[0], f"{path}[{i}]", subset)


def assert_wire_shape(actual, expected, path: str = "$") -> None:
    """A form-encoded payload against its documented JSON: on the wire every
    leaf is a string, so only the nesting and the keys are compared."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: not a map: {actual!r}"
        assert set(actual) == set(expected), \
            f"{path}: keys differ: +{sorted(set(actual) - set(expected))} -{sorted(set(expected) - set(actual))}"
        for key in expected:
            assert_wire_shape(actual[key], expected[key], f"{path}.{key}")
    else:
        assert isinstance(actual, str), f"{path}: {actual!r} is not a leaf"


TIME_KEYS = set(example("time-object.json")["time"])


class Receiver:
    """The app's side of the wire: records every request, answers through
    per-path handlers (`receiver.on("/install", fn)`, fn(request) -> str)."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.handlers: dict[str, Callable[[Request], str]] = {}
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)

        class Quiet(WSGIRequestHandler):
            def log_request(self, *a, **k):
                pass

        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def on(self, path: str, handler: Callable[[Request], str]) -> None:
        self.handlers[path] = handler

    def _wsgi(self, environ, start_response):
        req = Request(environ)
        hit = {"path": req.path, "args": req.args.to_dict(), "form": list(req.form.items(multi=True)),
               "content_type": req.mimetype, "raw": req.get_data(as_text=True)}
        handler = self.handlers.get(req.path)
        body = handler(req) if handler else "OK"
        with self._cv:
            self.hits.append(hit)
            self._cv.notify_all()
        return Response(body, content_type="text/html; charset=utf-8")(environ, start_response)

    def at(self, path: str) -> list[dict]:
        with self._lock:
            return [h for h in self.hits if h["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portal(emu):
    p = emu.add_portal("romashka.bitrix24.test")
    p.rate_limit = None
    return p


@pytest.fixture
def hook(portal) -> str:
    return portal.webhook(1)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def app(emu, receiver):
    return emu.register_app(APP_ID, APP_SECRET, receiver.url)


@pytest.fixture
def tokens(emu, portal, app) -> dict:
    """The app installed (without its installer) and the admin's tokens."""
    return emu.grant_tokens(portal, APP_ID, 1)


def call(base: str, method: str, params=None, auth: str | None = None, http: str = "json", timeout=10):
    """One REST call: http = "json" (POST JSON body), "form" (POST form) or "get"."""
    url = base + method
    params = dict(params or {}) if not isinstance(params, list) else params
    query = {"auth": auth} if auth else {}
    if http == "json":
        return requests.post(url, json=params, params=query, timeout=timeout)
    if http == "form":
        return requests.post(url, data=flatten(params), params=query, timeout=timeout)
    return requests.get(url, params=flatten(params) + list(query.items()), timeout=timeout)
