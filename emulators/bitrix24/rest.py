"""Running one REST method the way CRestServer does.

Order (rest/classes/general/rest.php): the method must exist (404
ERROR_METHOD_NOT_FOUND, checked before auth), then auth (401), then scope
(403 insufficient_scope), then the method itself. `start` is taken out of
the parameters for every method, `auth` too, and a method's `total`/`next`
go to the top level of the answer next to `result` and `time`.

A method is a plain function `fn(call) -> value | Page`, registered with
`@method(name, scope=...)`. `app_only` methods refuse webhooks with
WRONG_AUTH_TYPE (placement.*, event.*; facts §5.1, §7), `admin_only` ones
refuse non-admins with ACCESS_DENIED.
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import clock, errors
from .errors import RestError
from .state import Install, Portal, User

if TYPE_CHECKING:
    from .emulator import Emulator
    from .tokens import AccessToken

# A scope name of the method → the token scopes that grant it.
SCOPE_GRANTS = {
    "user": ("user", "user_basic", "user_brief"),
}


@dataclass
class Method:
    name: str
    fn: Callable
    scope: str | None
    app_only: bool
    admin_only: bool


REGISTRY: dict[str, Method] = {}


def method(name: str, scope: str | None = None, app_only: bool = False, admin_only: bool = False):
    def register(fn):
        REGISTRY[name] = Method(name, fn, scope, app_only, admin_only)
        return fn
    return register


@dataclass
class Page:
    """A list answer: `result` plus the top-level `total` / `next` (facts §6)."""

    result: Any
    total: int | None = None
    next: int | None = None


@dataclass
class Auth:
    kind: str                      # "oauth" | "webhook"
    user: User
    scopes: tuple[str, ...]
    install: Install | None = None
    token: AccessToken | None = None
    webhook_secret: str = ""
    connector: str = ""

    @property
    def caller(self) -> str:
        """Who the operating limit is counted for: the app or the webhook."""
        return self.install.app.client_id if self.install else f"webhook:{self.user.id}:{self.webhook_secret}"

    def has_scope(self, scope: str) -> bool:
        return any(s in self.scopes for s in SCOPE_GRANTS.get(scope, (scope,)))


@dataclass
class Call:
    emu: Emulator
    portal: Portal
    auth: Auth
    method: str
    params: dict
    start: int = 0

    @property
    def user(self) -> User:
        return self.auth.user

    @property
    def tz(self) -> str:
        return self.portal.time_zone

    def get(self, name: str, default=None):
        """A named parameter, any letter case (the portal upper- or lower-cases keys)."""
        if name in self.params:
            return self.params[name]
        low = name.lower()
        for key, value in self.params.items():
            if key.lower() == low:
                return value
        return default

    def positional(self) -> list:
        """Parameter values in the order sent, names ignored: the legacy
        task.* methods read `array_values` of the query (facts §4.1)."""
        return list(self.params.values())

    def require_admin(self, detail: str = "") -> None:
        if not self.user.admin:
            raise errors.access_denied(detail)


def find(name: str) -> Method:
    found = REGISTRY.get(name.lower())
    if found is None:
        raise errors.method_not_found()
    return found


def split_params(params: dict) -> tuple[dict, int, str]:
    """Take out what the server consumes itself: `start` (paging), `auth`."""
    params = dict(params)
    start_raw = params.pop("start", 0)
    try:
        start = int(start_raw or 0)
    except (TypeError, ValueError):
        start = 0
    params.pop("auth", None)
    connector = params.pop("auth_connector", "") or ""
    return params, start, str(connector)


def execute(emu: Emulator, portal: Portal, auth: Auth, name: str, params: dict) -> dict:
    """Run one method under the emulator lock and return the answer body.

    Raises RestError for any error answer. Used by the HTTP server and, per
    command, by batch."""
    meth = find(name)
    params, start, connector = split_params(params)
    auth.connector = connector or auth.connector
    started = clock.now_ts()
    with emu.lock:
        emu.calls[meth.name] += 1
        if meth.scope and not auth.has_scope(meth.scope):
            raise errors.insufficient_scope()
        if meth.app_only and auth.kind != "oauth":
            raise errors.wrong_auth_type()
        if meth.admin_only and not auth.user.admin:
            raise errors.access_denied()
        key = (portal.domain, auth.caller, meth.name)
        if emu.operating.used(key, started) > portal.operating_limit_s:
            raise errors.operation_time_limit()
        t0 = time.perf_counter()
        try:
            value = meth.fn(Call(emu, portal, auth, meth.name, params, start))
        except RestError:
            raise
        except Exception as exc:
            # A bug here or input no branch expected: answer like the portal's 500 and
            # keep the traceback visible rather than hang up on the client.
            traceback.print_exc()
            raise RestError("INTERNAL_SERVER_ERROR", f"Internal server error: {exc!r}", 500) from exc
        processing = time.perf_counter() - t0
        cost = portal.operating_cost_s.get(meth.name, processing)
        emu.operating.add(key, started, cost)
        operating = emu.operating.used(key, started)
        reset_at = emu.operating.reset_at(key, started)
    body: dict[str, Any] = {}
    if isinstance(value, Page):
        body["result"] = value.result
        if value.next is not None:
            body["next"] = value.next
        if value.total is not None:
            body["total"] = value.total
    else:
        body["result"] = value
    finished = clock.now_ts()
    body["time"] = clock.time_block(started, finished, processing, portal.time_zone, operating, reset_at)
    return body


def authenticate(emu: Emulator, portal: Portal, params: dict, webhook: tuple[str, str] | None) -> Auth:
    """Webhook path `/rest/<user>/<secret>/` or an OAuth `auth` parameter (facts §2.1, §7)."""
    if webhook is not None:
        user_id, secret = webhook
        hook = portal.webhooks.get(secret)
        if hook is None or str(hook.user_id) != str(user_id) or hook.user_id not in portal.users:
            raise errors.no_auth()
        return Auth("webhook", portal.users[hook.user_id], hook.scope, webhook_secret=secret)
    token = params.get("auth")
    if not isinstance(token, str) or not token:
        raise errors.no_auth()
    access = emu.tokens.check(token, portal.domain)
    install = portal.installs.get(access.client_id)
    if install is None or install.removed or access.user_id not in portal.users:
        raise errors.no_auth()
    return Auth("oauth", portal.users[access.user_id], access.scope, install=install, token=access)
