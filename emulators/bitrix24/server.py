"""The HTTP face of the emulator: a werkzeug WSGI app on its own port.

Routes (one host, portals told apart by a path prefix since there is no DNS):

    /p/<domain>/rest/<method>[.json]                  REST with `auth` (OAuth)
    /p/<domain>/rest/<user>/<secret>/<method>[.json]  REST via incoming webhook
    /p/<domain>/oauth/authorize/                      the portal's OAuth page
    /p/<domain>/shell[/refresh|/install-finish]       a portal page around an app frame (shell.py)
    /p/<domain>/im                                    what apps posted to chats and notifications
    /oauth/token/                                     the authorization server
    /rest/app.info                                    the authorization server's REST
    /                                                 a JSON index of the portals

Parameters: the query string and the body together, the body winning, as
CRestUtil::getRequestData merges them — JSON (an object or an array), a
form, or a raw `parse_str` body (facts §6 "Request format"). Before a call
runs: the portal's leaky bucket (503), then the injected faults; then
rest.py checks method, auth, scope and the operating limit.
"""
from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import errors, oauth, rest, shell
from .errors import RestError
from .php import parse_pairs, parse_query

if TYPE_CHECKING:
    from .emulator import Emulator


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # tests and the demo read counters, not logs
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def request_params(req: Request) -> dict:
    params = parse_query(req.query_string.decode("utf-8", "replace"))
    if req.method != "POST":
        return params
    if req.mimetype == "application/json":
        try:
            data = json.loads(req.get_data(as_text=True) or "null")
        except ValueError:
            data = None   # the portal reads broken JSON as no parameters
        if isinstance(data, list):
            data = {str(i): v for i, v in enumerate(data)}
        if isinstance(data, dict):
            params.update(data)
        return params
    if req.form:
        params.update(parse_pairs(req.form.items(multi=True)))
    else:
        raw = req.get_data(as_text=True)
        if raw:
            params.update(parse_query(raw))
    return params


class EmulatorApp:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def __call__(self, environ, start_response):
        req = Request(environ)
        return self.dispatch(req)(environ, start_response)

    def dispatch(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/p/"):
            domain, _, tail = path[3:].partition("/")
            if tail.startswith("rest/"):
                return self.portal_rest(req, domain, tail[len("rest/"):])
            if tail.strip("/") == "oauth/authorize":
                return self.authorize(req, domain)
            if tail == "shell" and req.method == "GET":
                return shell.page(self.emu, req, domain)
            if tail == "shell/refresh" and req.method == "POST":
                return shell.refresh(self.emu, req, domain)
            if tail == "shell/install-finish" and req.method == "POST":
                return shell.install_finish(self.emu, req, domain)
            if tail.strip("/") == "im" and req.method == "GET":
                return shell.messenger(self.emu, req, domain)
        if path.rstrip("/") == "/oauth/token":
            self.emu.requests["oauth/token"] += 1
            args = {**req.args.to_dict(), **req.form.to_dict()}
            status, body = oauth.token(self.emu, args)
            return _json(body, status)
        if path.rstrip("/") in ("/rest/app.info", "/rest/app.info.json"):
            self.emu.requests["oauth/app.info"] += 1
            params = request_params(req)
            status, body = oauth.server_app_info(self.emu, str(params.get("auth") or ""))
            return _json(body, status)
        if path == "/":
            return _json(self.emu.describe())
        return _json({"error": "NOT_FOUND", "error_description": "Not found"}, 404)

    def authorize(self, req: Request, domain: str) -> Response:
        self.emu.requests["oauth/authorize"] += 1
        status, answer = oauth.authorize(self.emu, domain, req.args.to_dict())
        if status == 302:
            return Response("", status=302, headers={"Location": answer})
        return _json(answer, status)

    def portal_rest(self, req: Request, domain: str, tail: str) -> Response:
        emu = self.emu
        parts = [p for p in tail.split("/") if p]
        webhook = None
        if len(parts) == 3:
            webhook, name = (parts[0], parts[1]), parts[2]
        elif len(parts) == 1:
            name = parts[0]
        else:
            name = "/".join(parts)
        name = name.lower()
        if name.endswith(".json"):
            name = name[:-len(".json")]
        with emu.lock:
            emu.requests[name] += 1
            portal = emu.portals.get(domain)
        if portal is None:
            return _json({"error": "PORTAL_NOT_FOUND", "error_description": f"No portal {domain}"}, 404)
        params = request_params(req)
        with emu.lock:
            admitted = portal.rate_limit is None or emu.bucket(domain).admit(time.monotonic(), *portal.rate_limit)
        if not admitted:
            with emu.lock:
                emu.refused[name] += 1
            return _json(errors.query_limit().body(), 503)
        faults = emu.faults
        if faults.chance(faults.fail_calls):
            faults.injected["failed"] += 1
            err = errors.query_limit() if faults.choice(faults.fail_kinds) == "QUERY_LIMIT_EXCEEDED" \
                else errors.internal()
            return _json(err.body(), err.status)
        late = faults.chance(faults.timeout_calls)
        if late:
            faults.injected["late"] += 1
        if faults.slow_s:
            time.sleep(faults.slow_s)
        try:
            rest.find(name)   # an unknown method is 404 before auth is looked at
            with emu.lock:
                auth = rest.authenticate(emu, portal, params, webhook)
            body, status = rest.execute(emu, portal, auth, name, params), 200
        except RestError as err:
            body, status = err.body(), err.status
        if late:
            # The call took effect; only the answer is late (the nasty kind of timeout).
            time.sleep(faults.timeout_sleep_s)
        return _json(body, status)


class ServerThread:
    """A threaded werkzeug server in a daemon thread."""

    def __init__(self, app, host: str, port: int) -> None:
        self.server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="b24-emulator-http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=2)
