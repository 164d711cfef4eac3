"""`Emulator`: Bitrix24 cloud portals plus the OAuth server, in-process.

    emu = Emulator().start()            # or: with Emulator() as emu: ...
    emu.register_app("app.x", "secret", "http://127.0.0.1:5000")
    p = emu.add_portal("romashka.bitrix24.test")
    emu.install(p, "app.x")             # POSTs the installer frame to the app

What the app sees is what a portal sends (facts §1.1, §5.3): frames are
POSTs with DOMAIN/PROTOCOL/LANG/APP_SID in the query string and the tokens
in the body; PROTOCOL is 0 because the emulator speaks plain http. DOMAIN
is the bare portal domain; the REST base of a portal is
`{emu.url}/p/{domain}/rest/`, which the app learns from `client_endpoint`
in token answers and events, or from the authorization server's app.info.

Everything that changes portal state holds `emu.lock`; event deliveries and
the installer POST happen outside it, so the app may call back in.
"""
from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from urllib.parse import urlencode

import requests

from . import methods  # noqa: F401  (registers the REST methods)
from . import batch  # noqa: F401  (registers `batch`)
from .events import EventBus
from .faults import Faults
from .limits import LeakyBucket, OperatingMeter
from .oauth import token_answer
from .server import EmulatorApp, ServerThread
from .state import App, Install, Portal
from .tokens import TokenStore

DEFAULT_SCOPE = "task,crm,user_brief,im,placement,sonet_group"


class Emulator:
    def __init__(self, faults: Faults | None = None) -> None:
        self.lock = threading.RLock()
        self.faults = faults or Faults()
        self.tokens = TokenStore()
        self.portals: dict[str, Portal] = {}
        self.apps: dict[str, App] = {}
        self.events = EventBus(self)
        self.operating = OperatingMeter()
        self._buckets: dict[str, LeakyBucket] = {}
        self.requests: Counter = Counter()   # HTTP requests served, by method ("batch", "oauth/token", …)
        self.calls: Counter = Counter()      # method executions, each batch command included
        self.refused: Counter = Counter()    # requests the leaky bucket refused (503), by method
        self.events_sent: list[dict] = []    # deliveries made: event, handler, status_code, payload, form
        self.events_dropped: list[dict] = []  # deliveries Faults.drop_events swallowed
        self.messages: list[dict] = []       # im.message.add / im.notify.* calls received
        self.shells: dict[str, dict] = {}    # APP_SID -> frame opened through the portal shell (shell.py)
        self.http = requests.Session()       # how the "portal" POSTs the installer page
        self.url = ""
        self.host = ""
        self._server: ServerThread | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Emulator:
        if self._server:
            return self
        self._server = ServerThread(EmulatorApp(self), host, port)
        self.host = f"{host}:{self._server.port}"
        self.url = f"http://{self.host}"
        self._server.start()
        self.events.start()
        return self

    def stop(self) -> None:
        self.events.stop()
        if self._server:
            self._server.stop()
            self._server = None
        self.http.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- setup --------------------------------------------------------------

    def register_app(self, client_id: str, client_secret: str, handler_base: str, installer_path: str = "/install",
                     redirect_path: str = "/oauth/callback", scope: str = DEFAULT_SCOPE, app_path: str = "/app",
                     code: str = "", version: int = 1, status: str = "F") -> App:
        """An app as listed in the Market / the developer's account."""
        scopes = tuple(s.strip() for s in scope.split(",") if s.strip())
        app = App(client_id, client_secret, handler_base, installer_path, redirect_path, app_path, scopes,
                  code or client_id, version, status)
        with self.lock:
            self.apps[client_id] = app
        return app

    def add_portal(self, domain: str = "romashka.bitrix24.test", plan: str = "basic",
                   time_zone: str = "Europe/Moscow", lang: str = "ru", admin_name: str = "Администратор",
                   admin_last_name: str = "Портала") -> Portal:
        """A new portal with its admin as user 1."""
        with self.lock:
            if domain in self.portals:
                raise ValueError(f"portal {domain} exists")
            portal = Portal(self, domain, plan, time_zone, lang)
            self.portals[domain] = portal
            portal.add_user(admin_name, admin_last_name, admin=True, time_zone=time_zone, work_position="Директор")
            return portal

    def bucket(self, domain: str) -> LeakyBucket:
        return self._buckets.setdefault(domain, LeakyBucket())

    # -- installation -------------------------------------------------------

    def _install_record(self, p: Portal, app: App, lang: str) -> Install:
        install = p.installs.get(app.client_id)
        if install is None or install.removed:
            install = Install(p._next("install"), app, secrets.token_hex(16), version=app.version, language=lang)
            p.installs[app.client_id] = install
        return install

    def _frame(self, p: Portal, install: Install, user_id: int, handler: str, placement: str,
               options, lang: str) -> tuple[str, dict]:
        """What the portal POSTs to an app page or widget (b24-examples/app-frame-open-POST.txt)."""
        access, refresh = self.tokens.issue(p.domain, install.app.client_id, user_id, install.app.scope,
                                            self.faults.token_ttl_s)
        query = urlencode({"DOMAIN": p.domain, "PROTOCOL": "0", "LANG": lang, "APP_SID": secrets.token_hex(16)})
        url = f"{handler}{'&' if '?' in handler else '?'}{query}"
        form = {
            "AUTH_ID": access.token, "AUTH_EXPIRES": "3600", "REFRESH_ID": refresh.token,
            "SERVER_ENDPOINT": f"{self.url}/rest/", "APPLICATION_TOKEN": install.application_token,
            "APPLICATION_SCOPE": ",".join(install.app.scope), "member_id": p.member_id,
            "status": install.app.status, "PLACEMENT": placement,
        }
        if options is not None:
            form["PLACEMENT_OPTIONS"] = options if isinstance(options, str) else \
                json.dumps(options, ensure_ascii=False, separators=(",", ":"))
        return url, form

    def install(self, p: Portal, client_id: str, admin_user_id: int = 1, lang: str = "ru") -> requests.Response:
        """The admin opens the app's installer page (facts §1.1–1.2).

        If the page's HTML calls installFinish, the app becomes installed — as
        the browser's BX24.installFinish() would do — and ONAPPINSTALL goes
        to its handler if the installer bound one."""
        app = self.apps[client_id]
        with self.lock:
            if not p.users.get(admin_user_id) or not p.users[admin_user_id].admin:
                raise ValueError("only an admin installs apps")
            install = self._install_record(p, app, lang)
            url, form = self._frame(p, install, admin_user_id, app.url(app.installer_path), "DEFAULT", None, lang)
        response = self.http.post(url, data=form, timeout=30)
        if "installFinish" in response.text:
            self.finish_install(p, client_id, admin_user_id)
        return response

    def finish_install(self, p: Portal, client_id: str, admin_user_id: int = 1) -> None:
        """BX24.installFinish(): mark installed, fire ONAPPINSTALL (once)."""
        with self.lock:
            install = p.installs[client_id]
            if install.installed or install.removed:
                return
            install.installed = True
            self.events.emit_to(p, install, "ONAPPINSTALL",
                                {"VERSION": str(install.version), "ACTIVE": "Y", "INSTALLED": "Y",
                                 "LANGUAGE_ID": install.language}, admin_user_id)

    def grant_tokens(self, p: Portal, client_id: str, user_id: int = 1) -> dict:
        """For tests without an app server: make the app installed (no installer
        POST, no ONAPPINSTALL) and return a token answer like /oauth/token/'s."""
        app = self.apps[client_id]
        with self.lock:
            install = self._install_record(p, app, p.lang)
            install.installed = True
            access, refresh = self.tokens.issue(p.domain, client_id, user_id, app.scope, self.faults.token_ttl_s)
            answer = token_answer(self, p, install, access, refresh, rotated=True)
            answer["application_token"] = install.application_token
            return answer

    def update_app(self, p: Portal, client_id: str, version: int | None = None) -> None:
        """A new app version is installed: new application_token, ONAPPUPDATE
        with fresh tokens (facts §1.3). Bindings are kept: the docs say an
        update drops them but not when, and dropping them first would leave
        ONAPPUPDATE nowhere to go."""
        with self.lock:
            install = p.installs[client_id]
            previous = install.version
            install.version = version or previous + 1
            install.application_token = secrets.token_hex(16)
            self.events.emit_to(p, install, "ONAPPUPDATE",
                                {"VERSION": str(install.version), "PREVIOUS_VERSION": str(previous),
                                 "LANGUAGE_ID": install.language}, 1)

    def uninstall(self, p: Portal, client_id: str, clean: bool = False) -> None:
        """ONAPPUNINSTALL without tokens, then bindings removed and tokens revoked (facts §1.4)."""
        with self.lock:
            install = p.installs[client_id]
            self.events.emit_to(p, install, "ONAPPUNINSTALL",
                                {"LANGUAGE_ID": install.language, "CLEAN": 1 if clean else 0}, 0, tokens=False)
            install.bindings.clear()
            install.placements.clear()
            install.offline.clear()
            install.installed = False
            install.removed = True
            self.tokens.revoke(p.domain, client_id)

    def open_frame(self, p: Portal, client_id: str, user_id: int, placement: str = "DEFAULT", options=None,
                   lang: str = "ru", handler: str | None = None) -> tuple[str, dict]:
        """What the portal would POST when `user_id` opens the app page or a
        widget: (URL with the query string, form fields). Issues a token."""
        with self.lock:
            install = p.installs.get(client_id)
            if install is None or install.removed:
                raise LookupError(f"{client_id} is not installed on {p.domain}")
            app = install.app
            if placement == "DEFAULT":
                if not install.installed:
                    if not p.users[user_id].admin:
                        raise PermissionError("application is not fully installed")
                    target = app.url(app.installer_path)   # the admin keeps seeing the installer
                else:
                    target = app.url(app.app_path)
            else:
                if not install.installed:
                    raise PermissionError("widgets are not shown before installFinish (facts §1.2)")
                bound = [b for b in install.placements if b.placement == placement
                         and (handler is None or b.handler == handler)]
                if not bound:
                    raise LookupError(f"{placement} is not bound by {client_id}")
                target = bound[0].handler
            return self._frame(p, install, user_id, target, placement, options, lang)

    def shell_url(self, p: Portal, client_id: str, user_id: int, placement: str = "DEFAULT", options=None,
                  lang: str = "ru") -> str:
        """The portal page around the app frame, for a browser (shell.py,
        SHELL.md): it POSTs what open_frame would into an iframe and answers
        the frame's b24jssdk messages. Each load opens the frame anew."""
        query = {"client_id": client_id, "user_id": str(user_id), "placement": placement, "lang": lang}
        if options is not None:
            query["options"] = options if isinstance(options, str) else \
                json.dumps(options, ensure_ascii=False, separators=(",", ":"))
        return f"{self.url}/p/{p.domain}/shell?{urlencode(query)}"

    def authorize_url(self, p: Portal, client_id: str, state: str) -> str:
        return f"{self.url}/p/{p.domain}/oauth/authorize/?{urlencode({'client_id': client_id, 'state': state})}"

    # -- observing and steering ---------------------------------------------

    def expire_tokens(self, p: Portal) -> int:
        """Every current access token of the portal answers expired_token from now on."""
        with self.lock:
            return self.tokens.expire_portal(p.domain)

    def flush_events(self, timeout: float = 5.0) -> bool:
        return self.events.flush(timeout)

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.calls.clear()

    def describe(self) -> dict:
        with self.lock:
            return {
                "oauth_server": f"{self.url}/oauth/token/",
                "server_endpoint": f"{self.url}/rest/",
                "apps": sorted(self.apps),
                "portals": [{"domain": p.domain, "member_id": p.member_id, "client_endpoint": p.client_endpoint,
                             "plan": p.plan, "time_zone": p.time_zone, "users": len(p.users),
                             "tasks": len(p.tasks), "records": len(p.time),
                             "apps": {cid: {"installed": i.installed, "removed": i.removed}
                                      for cid, i in p.installs.items()}}
                            for p in self.portals.values()],
            }
