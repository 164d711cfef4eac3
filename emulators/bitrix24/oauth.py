"""The authorization server (`oauth.bitrix.info`) and the portal's
`/oauth/authorize/` page (facts §2; settings/oauth/index.md, auto-renewal.md).

* `/oauth/token/` (GET or POST): grant_type `authorization_code`
  (client_id, client_secret, code) or `refresh_token` (…, refresh_token).
  Answers as b24-examples/oauth.token.authorization_code.json and
  oauth.token.refresh_token.json — the code exchange without `expires`
  and `user_id`, exactly as documented. `domain` is the authorization
  server's host (here the emulator's), `client_endpoint` the portal's REST
  base.
* Errors are `{error, error_description}`. The docs give no HTTP status;
  the emulator uses the grouping of the official SDK b24pysdk
  (api/requesters/_utils/parse_response.py): invalid_request,
  invalid_client and invalid_grant → 400, PAYMENT_REQUIRED → 401.
* `/p/<domain>/oauth/authorize/?client_id=…&state=…` → 302 to the app's
  redirect URI with code (30 s, single use), state, domain, member_id,
  scope, server_domain (b24-examples/oauth.redirect-uri-callback.txt). The
  "logged-in" user is `Portal.browser_user_id`.
* `/rest/app.info` on the authorization server: what b24pysdk checks frame
  tokens with — `{client_id, scope, expires, install{…}, user_id}` (facts
  §5.4). Its `install.client_endpoint` is how an app finds the portal's
  REST base from a bare token.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlparse

from . import clock
from .errors import RestError
from .tokens import OAuthError

if TYPE_CHECKING:
    from .emulator import Emulator


def _app(emu: Emulator, client_id: str, client_secret: str | None):
    app = emu.apps.get(client_id or "")
    if app is None or (client_secret is not None and app.client_secret != client_secret):
        raise OAuthError("invalid_client", "Invalid client credentials")
    return app


def _live_install(emu: Emulator, domain: str, client_id: str):
    portal = emu.portals.get(domain)
    install = portal.installs.get(client_id) if portal else None
    if install is None or install.removed:
        raise OAuthError("invalid_client", "Application not installed")
    return portal, install


def token_answer(emu: Emulator, portal, install, access, refresh, rotated: bool) -> dict:
    body = {
        "access_token": access.token,
        "client_endpoint": portal.client_endpoint,
        "domain": emu.host,
    }
    if rotated:
        body["expires"] = int(clock.now_ts() + 3600)
    body.update({
        "expires_in": 3600,
        "member_id": portal.member_id,
        "refresh_token": refresh.token,
        "scope": ",".join(install.app.scope),
        "server_endpoint": f"{emu.url}/rest/",
        "status": install.app.status,
    })
    if rotated:
        body["user_id"] = access.user_id
    return body


def token(emu: Emulator, args: dict) -> tuple[int, dict]:
    """/oauth/token/ → (HTTP status, JSON body)."""
    try:
        grant = args.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            raise OAuthError("invalid_request", "Unsupported grant_type")
        app = _app(emu, args.get("client_id", ""), args.get("client_secret", ""))
        with emu.lock:
            if grant == "authorization_code":
                code = emu.tokens.take_code(args.get("code", ""), app.client_id)
                portal, install = _live_install(emu, code.domain, app.client_id)
                if portal.payment_expired:
                    raise OAuthError("PAYMENT_REQUIRED", "Payment required", 401)
                access, refresh = emu.tokens.issue(portal.domain, app.client_id, code.user_id, app.scope,
                                                   emu.faults.token_ttl_s)
                return 200, token_answer(emu, portal, install, access, refresh, rotated=False)
            old = emu.tokens.refresh.get(args.get("refresh_token", "") or "")
            if old is None or old.client_id != app.client_id:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            portal, install = _live_install(emu, old.domain, app.client_id)
            if portal.payment_expired:
                # b24-examples/oauth.token.error.PAYMENT_REQUIRED.json; the refresh token is not spent.
                raise OAuthError("PAYMENT_REQUIRED", "Payment required", 401)
            access, refresh = emu.tokens.rotate(old.token, app.client_id, emu.faults.token_ttl_s)
            return 200, token_answer(emu, portal, install, access, refresh, rotated=True)
    except OAuthError as err:
        return err.status, err.body()


def authorize(emu: Emulator, domain: str, args: dict) -> tuple[int, dict | str]:
    """/p/<domain>/oauth/authorize/ → (302, Location) or (400, error body)."""
    try:
        app = _app(emu, args.get("client_id", ""), None)
        with emu.lock:
            portal, install = _live_install(emu, domain, app.client_id)
            code = emu.tokens.new_code(portal.domain, app.client_id, portal.browser_user_id)
        query = urlencode({"code": code.code, "state": args.get("state", ""), "domain": portal.domain,
                           "member_id": portal.member_id, "scope": ",".join(app.scope),
                           "server_domain": emu.host})
        target = app.url(app.redirect_path)
        sep = "&" if urlparse(target).query else "?"
        return 302, f"{target}{sep}{query}"
    except OAuthError as err:
        return err.status, err.body()


def server_app_info(emu: Emulator, token_value: str) -> tuple[int, dict]:
    """app.info on the authorization server (shape per b24pysdk, facts §5.4)."""
    started = clock.now_ts()
    try:
        with emu.lock:
            access = emu.tokens.check(token_value, None)
            portal = emu.portals[access.domain]
            install = portal.installs.get(access.client_id)
            if install is None or install.removed:
                raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
            result = {
                "client_id": access.client_id,
                "scope": ",".join(access.scope),
                "expires": int(access.expires_at),
                "install": {
                    "installed": install.installed, "version": install.version, "status": install.app.status,
                    "scope": ",".join(install.app.scope), "domain": portal.domain,
                    "uri": portal.client_endpoint.rsplit("/rest/", 1)[0],
                    "client_endpoint": portal.client_endpoint, "member_id": portal.member_id,
                    "member_type": "PORTAL",
                },
                "user_id": access.user_id,
            }
    except RestError as err:
        return err.status, err.body()
    return 200, {"result": result, "time": clock.time_block(started, clock.now_ts(), 0.0, "UTC")}
