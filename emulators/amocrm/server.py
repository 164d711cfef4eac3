"""The HTTP face of the emulated amoCRM: werkzeug servers on their own ports.

amoCRM gives every account its own host (`<subdomain>.amocrm.ru`); without
DNS, each emulated account gets its own port, and the account is the port
the request came to. One more port plays `www.amocrm.ru`, the consent page.

Account routes:
    POST /oauth2/access_token               authorization_code and refresh_token grants (JSON or form)
    GET  /api/v4/account                    the account (with=datetime_settings)
    GET  /api/v4/companies[/<id>]           list (page, limit ≤ 250, query) and one company
    GET  /api/v4/leads/<id>                 a lead, its company in _embedded.companies
    GET|POST /api/v4/companies/<id>/notes   notes of a company card
    GET  /companies/detail/<id>, /leads/detail/<id>   the card page, with the installed widget
    GET  /widgets/<code>/<file>             files of the uploaded widget.zip
    POST /emulator/disposable-token         what $authorizedAjax asks amoCRM for
www routes (also the `api_domain` of access tokens):
    GET  /oauth?client_id&state&mode        the consent page; POST /oauth/decide answers it
    GET  /oauth2/account/current/subdomain  where a refresh token's account lives now (X-Refresh-Token)
"""
from __future__ import annotations

import json
import mimetypes
import zipfile
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from . import card
from .state import ACCESS_TTL_S, Account

if TYPE_CHECKING:
    from .emulator import AmoEmulator

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
MAX_LIMIT = 250
BLOCKED_PAGE = ("<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center>"
                "<hr><center>nginx</center></body></html>")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def _json(body: Any, status: int = 200, content_type: str = HAL) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=f"{content_type}; charset=utf-8")


def problem(status: int, title: str, detail: str = "", **more: Any) -> Response:
    return _json({"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail,
                  **more}, status, PROBLEM)


def oauth_problem(status: int, hint: str) -> Response:
    # The shape seen for a spent refresh token (§1.5, examples/oauth2.access_token.error.401.token-revoked.json).
    return _json({"hint": hint, "title": "Некорректный запрос",
                  "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson", "status": status,
                  "detail": "В запросе отсутствует ряд параметров или параметры невалидны"}, status, PROBLEM)


UNAUTHORIZED = ("Unauthorized", "Неверный логин или пароль")  # examples/error.401.api.json

ACCOUNT_RULES = Map([
    Rule("/oauth2/access_token", endpoint="token", methods=["POST"]),
    Rule("/api/v4/account", endpoint="account", methods=["GET"]),
    Rule("/api/v4/companies", endpoint="companies", methods=["GET"]),
    Rule("/api/v4/companies/<int:company_id>", endpoint="company", methods=["GET"]),
    Rule("/api/v4/leads/<int:lead_id>", endpoint="lead", methods=["GET"]),
    Rule("/api/v4/companies/<int:company_id>/notes", endpoint="notes", methods=["GET", "POST"]),
    Rule("/companies/detail/<int:entity_id>", endpoint="card_company", methods=["GET"]),
    Rule("/leads/detail/<int:entity_id>", endpoint="card_lead", methods=["GET"]),
    Rule("/widgets/<code>/<path:name>", endpoint="widget_file", methods=["GET"]),
    Rule("/emulator/amo.js", endpoint="shell_js", methods=["GET"]),
    Rule("/emulator/disposable-token", endpoint="disposable", methods=["POST"]),
])


class AccountApp:
    """One emulated account's host."""

    def __init__(self, emu: AmoEmulator, account: Account) -> None:
        self.emu, self.account = emu, account
        self.state = emu.state

    moved = False  # the account's subdomain changed: this address knows it no more (§1.5)

    def __call__(self, environ, start_response):
        req = Request(environ)
        if self.moved:
            return problem(404, "Not Found", "Аккаунт не найден")(environ, start_response)
        adapter = ACCOUNT_RULES.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception:  # noqa: BLE001  (werkzeug's NotFound / MethodNotAllowed)
            return problem(404, "Not Found")(environ, start_response)
        if endpoint.startswith("card") or endpoint in ("widget_file", "shell_js", "disposable", "token"):
            response = getattr(self, endpoint)(req, **args)
        else:
            response = self.api(req, endpoint, args)
        return response(environ, start_response)

    # -- OAuth token endpoint (§1.3)

    def token(self, req: Request) -> Response:
        if req.mimetype == "application/json":
            try:
                body = json.loads(req.get_data(as_text=True) or "{}")
            except ValueError:
                body = None
        else:
            body = req.form.to_dict()
        if not isinstance(body, dict):
            return oauth_problem(400, "Invalid request body")
        integration = self.state.integrations.get(str(body.get("client_id") or ""))
        if integration is None or body.get("client_secret") != integration.secret:
            return oauth_problem(401, "Client authentication failed")
        if body.get("redirect_uri") != integration.redirect_uri:
            return oauth_problem(400, "Redirect URI is not valid")
        grant_type = body.get("grant_type")
        with self.state.lock:
            if grant_type == "authorization_code":
                found = self.state.codes.pop(str(body.get("code") or ""), None)
                if found is None or found[0] != self.account.id or found[1] != integration.client_id \
                        or found[2] < self.state.clock():
                    return oauth_problem(400, "Authorization code has expired or was used")
                grant = self.state.grant(self.account, integration.client_id)
            elif grant_type == "refresh_token":
                old = self.state.by_refresh(str(body.get("refresh_token") or ""))
                if old is None or old.account_id != self.account.id or old.client_id != integration.client_id:
                    return oauth_problem(400, "Cannot decrypt the refresh token")
                if not old.alive:
                    return oauth_problem(401, "Token has been revoked")
                grant = self.state.rotate(old)
            else:
                return oauth_problem(400, "The authorization grant type is not supported")
        return _json({"token_type": "Bearer", "expires_in": ACCESS_TTL_S, "server_time": int(self.state.clock()),
                      "access_token": grant.access, "refresh_token": grant.refresh}, 200, "application/json")

    # -- API v4

    def api(self, req: Request, endpoint: str, args: dict[str, Any]) -> Response:
        verdict = self.state.meter(self.account)
        if verdict == 403:
            return Response(BLOCKED_PAGE, 403, content_type="text/html")
        if verdict == 429:
            return problem(429, "Too Many Requests", "Превышено допустимое количество запросов в секунду")
        header = req.headers.get("Authorization", "")
        grant = self.state.by_access(header[7:]) if header.startswith("Bearer ") else None
        if grant is None or grant.account_id != self.account.id:
            return problem(401, *UNAUTHORIZED)
        if not self.account.paid:
            return problem(402, "Payment Required", "Аккаунт не оплачен")
        self.emu.calls.append((self.account.id, req.method, req.path))
        return getattr(self, "api_" + endpoint)(req, **args)

    def _self(self, path: str) -> dict[str, Any]:
        return {"self": {"href": self.account.url + path}}

    def api_account(self, req: Request) -> Response:
        a = self.account
        body: dict[str, Any] = {
            "id": a.id, "name": a.name, "subdomain": a.subdomain, "current_user_id": next(iter(a.users), 0),
            "country": "RU", "customers_mode": "disabled", "is_unsorted_on": True, "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False, "is_technical_account": False, "contact_name_display_order": 1,
            "_links": self._self("/api/v4/account")}
        if "datetime_settings" in req.args.get("with", "").split(","):
            body["_embedded"] = {"datetime_settings": {
                "date_pattern": "d.m.Y H:i", "short_date_pattern": "d.m.Y", "short_time_pattern": "H:i",
                "date_format": "d.m.Y", "time_format": "H:i:s", "timezone": a.time_zone,
                "timezone_offset": "+03:00"}}
        return _json(body)

    def _company(self, company: dict[str, Any]) -> dict[str, Any]:
        return {**company, "_links": self._self(f"/api/v4/companies/{company['id']}"),
                "_embedded": {"tags": []}}

    def _paging(self, req: Request) -> tuple[int, int] | Response:
        try:
            page = int(req.args.get("page", "1"))
            limit = int(req.args.get("limit", "50"))
        except ValueError:
            return problem(400, "Bad Request", "page and limit must be numbers")
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            return problem(400, "Bad Request", f"limit must be 1..{MAX_LIMIT}")
        return page, limit

    def _list(self, req: Request, path: str, key: str, items: list[dict[str, Any]]) -> Response:
        paging = self._paging(req)
        if isinstance(paging, Response):
            return paging
        page, limit = paging
        chunk = items[(page - 1) * limit: page * limit]
        if not chunk:
            return Response(status=204)  # nothing found is 204 with no body (§2.1)
        query = {k: v for k, v in req.args.items() if k not in ("page", "limit")}
        links = {"self": {"href": f"{self.account.url}{path}?{urlencode({**query, 'page': page, 'limit': limit})}"}}
        if page * limit < len(items):
            links["next"] = {"href": f"{self.account.url}{path}?{urlencode({**query, 'page': page + 1, 'limit': limit})}"}
        return _json({"_page": page, "_links": links, "_embedded": {key: chunk}})

    def api_companies(self, req: Request) -> Response:
        query = req.args.get("query", "").casefold()
        items = [self._company(c) for c in self.account.companies.values()
                 if not c["is_deleted"] and (not query or query in c["name"].casefold())]
        return self._list(req, "/api/v4/companies", "companies", items)

    def api_company(self, req: Request, company_id: int) -> Response:
        company = self.account.companies.get(company_id)
        if company is None:
            return Response(status=204)  # §2.3: 204 when there is no such id
        return _json(self._company(company))

    def api_lead(self, req: Request, lead_id: int) -> Response:
        lead = self.account.leads.get(lead_id)
        if lead is None:
            return Response(status=204)
        companies = ([{"id": lead["company_id"], "_links": self._self(f"/api/v4/companies/{lead['company_id']}")}]
                     if lead["company_id"] else [])
        body = {k: v for k, v in lead.items() if k != "company_id"}
        return _json({**body, "_links": self._self(f"/api/v4/leads/{lead_id}"),
                      "_embedded": {"tags": [], "companies": companies}})

    def api_notes(self, req: Request, company_id: int) -> Response:
        path = f"/api/v4/companies/{company_id}/notes"
        if company_id not in self.account.companies:
            return Response(status=204) if req.method == "GET" else problem(
                400, "Bad Request", "Request validation failed", **{"validation-errors": [
                    {"request_id": "0", "errors": [{"code": "NotFound", "path": "entity_id",
                                                    "detail": "Entity not found"}]}]})
        if req.method == "GET":
            kind = req.args.get("filter[note_type]")
            items = [self._note(n) for n in self.account.notes
                     if n["entity_id"] == company_id and (not kind or n["note_type"] == kind)]
            if req.args.get("order[id]") == "desc":
                items.reverse()
            return self._list(req, path, "notes", items)
        try:
            body = json.loads(req.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        if not isinstance(body, list) or not body:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        errors, made = [], []
        for index, item in enumerate(body):
            request_id = str(item.get("request_id", index)) if isinstance(item, dict) else str(index)
            text = ((item.get("params") or {}).get("text") if isinstance(item, dict) else None)
            if not isinstance(item, dict) or item.get("note_type") not in ("common", "service_message",
                                                                             "extended_service_message") \
                    or not isinstance(text, str) or not text:
                errors.append({"request_id": request_id, "errors": [
                    {"code": "NotSupportedChoice", "path": "note_type", "detail": "params.text is required"}]})
            made.append((request_id, item))
        if errors:
            return problem(400, "Bad Request", "Request validation failed", **{"validation-errors": errors})
        out = []
        now = int(self.state.clock())
        for request_id, item in made:
            note = {"id": self.state.next_id("note"), "entity_id": company_id, "created_by": 0, "updated_by": 0,
                    "created_at": now, "updated_at": now, "responsible_user_id": 0, "group_id": 0,
                    "note_type": item["note_type"], "params": dict(item["params"]), "account_id": self.account.id}
            self.account.notes.append(note)
            out.append({"id": note["id"], "entity_id": company_id, "request_id": request_id,
                        "_links": self._self(f"{path}/{note['id']}")})
        return _json({"_links": self._self(path), "_embedded": {"notes": out}})

    def _note(self, note: dict[str, Any]) -> dict[str, Any]:
        return {**note, "_links": self._self(f"/api/v4/companies/{note['entity_id']}/notes/{note['id']}")}

    # -- the card page and its widget (§4)

    def card_company(self, req: Request, entity_id: int) -> Response:
        return card.page(self.emu, self.account, "companies", entity_id, req)

    def card_lead(self, req: Request, entity_id: int) -> Response:
        return card.page(self.emu, self.account, "leads", entity_id, req)

    def shell_js(self, req: Request) -> Response:
        return Response(card.SHELL_JS, content_type="application/javascript; charset=utf-8")

    def widget_file(self, req: Request, code: str, name: str) -> Response:
        integration = next((i for i in self.state.integrations.values()
                            if i.code == code and i.widget_zip and i.client_id in self.account.installed), None)
        if integration is None:
            return Response("not found", 404)
        with zipfile.ZipFile(BytesIO(integration.widget_zip)) as archive:
            try:
                data = archive.read(name)
            except KeyError:
                return Response("not found", 404)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(data, content_type=kind + ("; charset=utf-8" if kind.startswith(("text", "application/j"))
                                                   else ""))

    def disposable(self, req: Request) -> Response:
        """What amoCRM does inside $authorizedAjax: a fresh token for the
        user of the page, for the widget's integration."""
        try:
            user_id = int(req.form.get("user_id", "0"))
        except ValueError:
            user_id = 0
        integration = next((i for i in self.state.integrations.values()
                            if i.code == req.form.get("code") and i.client_id in self.account.installed), None)
        if integration is None or user_id not in self.account.users:
            return problem(403, "Forbidden", "the widget is not installed")
        return _json({"token": self.state.disposable(self.account, integration.client_id, user_id)}, 200,
                     "application/json")


class WwwApp:
    """www.amocrm.ru: the consent page (§1.2)."""

    def __init__(self, emu: AmoEmulator) -> None:
        self.emu = emu

    def __call__(self, environ, start_response):
        req = Request(environ)
        if req.path == "/oauth" and req.method == "GET":
            response = card.consent(self.emu, req)
        elif req.path == "/oauth/decide" and req.method == "POST":
            response = self.decide(req)
        elif req.path == "/oauth2/account/current/subdomain" and req.method == "GET":
            response = self.current_subdomain(req)
        else:
            response = Response("not found", 404)
        return response(environ, start_response)

    def current_subdomain(self, req: Request) -> Response:
        """Where the account of a refresh token lives now (§1.5,
        examples/oauth2.account.current.subdomain.json)."""
        grant = self.emu.state.by_refresh(req.headers.get("X-Refresh-Token", ""))
        if grant is None or not grant.alive:
            return oauth_problem(401, "Token has been revoked")
        account = self.emu.state.accounts[grant.account_id]
        return _json({"id": account.id, "subdomain": account.subdomain, "domain": account.host,
                      "top_level_domain": "ru"}, 200, "application/json")

    def decide(self, req: Request) -> Response:
        integration = self.emu.state.integrations.get(req.form.get("client_id", ""))
        try:
            account = self.emu.state.accounts[int(req.form.get("account_id", "0"))]
        except (KeyError, ValueError):
            account = None
        if integration is None or account is None:
            return Response("unknown integration or account", 400)
        state = req.form.get("state", "")
        if req.form.get("allow") != "1":
            query = {"error": "access_denied", **({"state": state} if state else {})}
        else:
            query = {"code": self.emu.state.issue_code(account, integration.client_id), "referer": account.host,
                     **({"state": state} if state else {}), "platform": "1"}
        return Response(status=302, headers={"Location": f"{integration.redirect_uri}?{urlencode(query)}"})
