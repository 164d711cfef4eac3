"""`AmoEmulator`: amoCRM accounts, their consent page and the widget host, in-process.

    emu = AmoEmulator().start()            # or: with AmoEmulator() as emu: ...
    a = emu.add_account("klient", "ООО «Клиент»")   # its own port: a.url
    emu.register_integration("uuid", "secret", "http://hourbook/amocrm/oauth")
    emu.upload_widget("uuid", zip_bytes)   # the widget.zip Hourbook builds
    location = emu.authorize(a, "uuid", state)   # the admin allows: where the browser goes
    emu.card_url(a, "companies", company_id, user_id, "ru")

What Hourbook sees is what amoCRM sends (amocrm/FACTS.md): the redirect
with `code`, `referer`, `state`, `platform`; the token endpoint and API v4
at the account's own address; `X-Auth-Token` on widget calls; the
disconnect hook's GET with an HMAC signature.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
from urllib.parse import urlencode

import requests
from werkzeug.serving import make_server

from .server import AccountApp, QuietHandler, WwwApp
from .state import Account, State


class AmoEmulator:
    def __init__(self) -> None:
        self.state = State()
        self.calls: list[tuple[int, str, str]] = []  # API calls that passed the meter and auth
        self.hooks: list[dict] = []  # disconnect hooks sent: url, status
        self._servers: list = []
        self._apps: dict[int, AccountApp] = {}
        self.www = ""

    # -- servers

    def _serve(self, app, port: int = 0) -> str:
        server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"127.0.0.1:{server.server_port}"

    def start(self, www_port: int = 0) -> AmoEmulator:
        self.www = "http://" + self._serve(WwwApp(self), www_port)
        self.state.api_host = self.www.removeprefix("http://")
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> AmoEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def consent_url(self) -> str:
        return self.www + "/oauth"

    # -- content

    def add_account(self, subdomain: str, name: str, port: int = 0) -> Account:
        account = self.state.add_account(subdomain, name)
        self._open(account, port)
        return account

    def _open(self, account: Account, port: int = 0) -> None:
        app = AccountApp(self, account)
        account.host = self._serve(app, port)
        account.url = "http://" + account.host
        self._apps[account.id] = app

    def rename(self, account: Account, subdomain: str) -> None:
        """The account's subdomain changes (§1.5): it moves to a new address
        (here: a new port); the old one answers 404 from now on."""
        self._apps[account.id].moved = True
        account.subdomain = subdomain
        self._open(account)

    def register_integration(self, client_id: str, secret: str, redirect_uri: str, disconnect_hook: str = "") -> None:
        from .state import Integration

        self.state.integrations[client_id] = Integration(client_id, secret, redirect_uri, disconnect_hook)

    def upload_widget(self, client_id: str, archive: bytes) -> None:
        """The widget.zip uploaded in the integration's form (§4.1): files at its root."""
        import json
        import zipfile
        from io import BytesIO

        with zipfile.ZipFile(BytesIO(archive)) as z:
            manifest = json.loads(z.read("manifest.json").decode("utf-8"))
            for name in ("script.js", "i18n/ru.json", "i18n/en.json"):
                z.getinfo(name)  # KeyError: a broken archive is refused as amoCRM would
        if not isinstance(manifest.get("widget"), dict) or not manifest.get("locations"):
            raise ValueError("manifest.json has no widget or locations")
        self.state.integrations[client_id].widget_zip = archive

    # -- what an admin and amoCRM do

    def authorize(self, account: Account, client_id: str, state: str = "", allow: bool = True) -> str:
        """The admin allows (or refuses) on the consent page: the URL the
        browser is sent to (the integration's redirect URI)."""
        response = requests.post(self.www + "/oauth/decide", data={
            "client_id": client_id, "account_id": str(account.id), "state": state, "allow": "1" if allow else "0"},
            allow_redirects=False, timeout=10)
        return response.headers["Location"]

    def disconnect(self, account: Account, client_id: str) -> int | None:
        """The admin disconnects the integration: tokens revoked, and the hook
        called when the integration has one (§1.7); the hook's status."""
        integration = self.state.integrations[client_id]
        self.state.revoke(account, client_id)
        if not integration.disconnect_hook:
            return None
        signature = hmac.new(integration.secret.encode(), f"{client_id}|{account.id}".encode(),
                             hashlib.sha256).hexdigest()
        query = urlencode({"account_id": account.id, "client_uuid": client_id, "signature": signature})
        response = requests.get(f"{integration.disconnect_hook}?{query}", timeout=10)
        self.hooks.append({"account_id": account.id, "status": response.status_code})
        return response.status_code

    def card_url(self, account: Account, entity: str, entity_id: int, user_id: int, lang: str = "ru") -> str:
        return f"{account.url}/{entity}/detail/{entity_id}?{urlencode({'user': user_id, 'lang': lang})}"

    def notes(self, account: Account, company_id: int) -> list[dict]:
        return [n for n in account.notes if n["entity_id"] == company_id]
