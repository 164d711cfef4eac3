"""The portal shell: a (very simplified) Bitrix24 page around an app frame,
for browser tests (SHELL.md beside this file says what it does and why).

    GET  /p/<domain>/shell?client_id=…&user_id=…[&placement=…][&options=<json>][&lang=ru|en]
    POST /p/<domain>/shell/refresh          {"app_sid": …}  → fresh AUTH_ID/REFRESH_ID
    POST /p/<domain>/shell/install-finish   {"app_sid": …}  → BX24.installFinish()

The page POSTs the frame fields of `Emulator.open_frame` (itself built by
`_frame`) into an <iframe> named `host|0|APP_SID`, exactly as a portal
posts to an app frame, and plays the parent side of the b24jssdk
postMessage protocol in inline JavaScript. Every message it receives is
kept in `window.__b24messages`.
"""
from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from .emulator import Emulator


class ShellError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(err: ShellError, lang: str = "en") -> Response:
    title = {403: "Access denied", 404: "Not found", 400: "Bad request"}.get(err.status, "Error")
    body = (f"<!doctype html><html lang=\"{html.escape(lang)}\"><meta charset=\"utf-8\"><title>{title}</title>"
            f"<body><h1>{title}</h1><p>{html.escape(err.message)}</p></body></html>")
    return Response(body, status=err.status, content_type="text/html; charset=utf-8")


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def _script_json(value) -> str:
    """JSON that is safe inside <script type="application/json">."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def _open(emu: Emulator, domain: str, args) -> dict:
    """Check the request and open the frame (issues a token); what the page needs."""
    portal = emu.portals.get(domain)
    if portal is None:
        raise ShellError(404, f"No portal {domain}")
    client_id = args.get("client_id", "")
    try:
        user_id = int(args.get("user_id", ""))
    except ValueError:
        raise ShellError(400, "user_id must be a number") from None
    placement = args.get("placement") or "DEFAULT"
    lang = args.get("lang") or "ru"
    if lang not in ("ru", "en"):
        raise ShellError(400, "lang must be ru or en")
    options = None
    if args.get("options"):
        try:
            options = json.loads(args["options"])
        except ValueError:
            raise ShellError(400, "options is not JSON") from None
        if not isinstance(options, dict):
            raise ShellError(400, "options must be a JSON object")
    with emu.lock:
        user = portal.users.get(user_id)
        if user is None or not user.active:
            raise ShellError(403, f"No active user {user_id} on {domain}")
        install = portal.installs.get(client_id)
        if client_id not in emu.apps or install is None or install.removed:
            raise ShellError(404, f"{client_id or 'client_id'} is not installed on {domain}")
        try:
            url, form = emu.open_frame(portal, client_id, user_id, placement, options, lang)
        except PermissionError as err:
            raise ShellError(403, str(err)) from None
        except LookupError as err:
            raise ShellError(404, str(err)) from None
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        app_sid = query["APP_SID"]
        emu.shells[app_sid] = {"domain": domain, "client_id": client_id, "user_id": user_id,
                               "placement": placement}
        return {"portal": portal, "user": user, "install": install, "url": url, "form": form,
                "query": query, "app_sid": app_sid, "lang": lang, "placement": placement, "options": options}


def page(emu: Emulator, req: Request, domain: str) -> Response:
    emu.requests["shell"] += 1
    try:
        opened = _open(emu, domain, req.args)
    except ShellError as err:
        return _error(err, req.args.get("lang") or "en")
    portal, user, install, form, query = (opened[k] for k in ("portal", "user", "install", "form", "query"))
    parts = urlsplit(opened["url"])
    app_origin = f"{parts.scheme}://{parts.netloc}"
    # The SDK reads DOMAIN|PROTOCOL|APP_SID from window.name and posts to, and
    # only listens to, that origin: it must be where this page is served from
    # (the emulator), not the portal's DNS name, which does not resolve here.
    frame_name = f"{emu.host}|0|{opened['app_sid']}"
    init = {
        "DOMAIN": query["DOMAIN"], "PROTOCOL": query["PROTOCOL"], "LANG": opened["lang"], "PATH": "/rest/",
        "AUTH_ID": form["AUTH_ID"], "AUTH_EXPIRES": form["AUTH_EXPIRES"], "REFRESH_ID": form["REFRESH_ID"],
        "MEMBER_ID": form["member_id"], "IS_ADMIN": bool(user.admin),
        "APP_OPTIONS": {}, "USER_OPTIONS": {},
        "PLACEMENT": opened["placement"], "PLACEMENT_OPTIONS": opened["options"] or {},
        "INSTALL": not install.installed, "FIRST_RUN": False,
    }
    base = f"/p/{domain}/shell"
    config = {"app_sid": opened["app_sid"], "app_origin": app_origin, "init": init,
              "refresh_url": base + "/refresh", "install_finish_url": base + "/install-finish"}
    ru = opened["lang"] == "ru"
    title = ("Приложение" if ru else "Application") if opened["placement"] == "DEFAULT" else opened["placement"]
    fields = "\n".join(f'    <input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                       for k, v in form.items())
    e = html.escape
    body = SHELL_HTML.format(
        lang=e(opened["lang"]), title=e(title), portal=e(domain), user=e(user.full_name),
        frame_name=e(frame_name), action=e(opened["url"]), fields=fields,
        config=_script_json(config), script=SHELL_JS,
        placement=e(opened["placement"]),
    )
    return Response(body, content_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def _session(emu: Emulator, req: Request, domain: str) -> tuple:
    if emu.portals.get(domain) is None:
        raise ShellError(404, f"No portal {domain}")
    data = req.get_json(silent=True) if req.mimetype == "application/json" else req.form.to_dict()
    shell = emu.shells.get(str((data or {}).get("app_sid") or ""))
    if shell is None or shell["domain"] != domain:
        raise ShellError(403, "unknown app_sid")
    portal = emu.portals[domain]
    install = portal.installs.get(shell["client_id"])
    if install is None or install.removed:
        raise ShellError(403, f"{shell['client_id']} is not installed on {domain}")
    return portal, install, shell


def refresh(emu: Emulator, req: Request, domain: str) -> Response:
    """What the portal's page does for BX24.refreshAuth(): a new access token
    for the same user and app (the page's own session stands for the login)."""
    emu.requests["shell/refresh"] += 1
    try:
        with emu.lock:
            _portal, install, shell = _session(emu, req, domain)
            access, refresh_token = emu.tokens.issue(domain, shell["client_id"], shell["user_id"],
                                                     install.app.scope, emu.faults.token_ttl_s)
    except ShellError as err:
        return _json({"error": "ACCESS_DENIED" if err.status == 403 else "NOT_FOUND",
                      "error_description": err.message}, err.status)
    return _json({"AUTH_ID": access.token, "REFRESH_ID": refresh_token.token, "AUTH_EXPIRES": "3600"})


def install_finish(emu: Emulator, req: Request, domain: str) -> Response:
    """BX24.installFinish() from the installer frame."""
    emu.requests["shell/install-finish"] += 1
    try:
        with emu.lock:
            portal, _install, shell = _session(emu, req, domain)
            if not portal.users[shell["user_id"]].admin:
                raise ShellError(403, "only an admin installs apps")
    except ShellError as err:
        return _json({"error": "ACCESS_DENIED" if err.status == 403 else "NOT_FOUND",
                      "error_description": err.message}, err.status)
    emu.finish_install(portal, shell["client_id"], shell["user_id"])
    return _json({"result": True})


SHELL_HTML = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>{title} — {portal}</title>
<style>
  html, body {{ margin: 0; }}
  body {{ background: #eef2f4; color: #333; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto,
         Ubuntu, "Helvetica Neue", Arial, sans-serif; }}
  .b24-top {{ display: flex; align-items: center; gap: 16px; height: 56px; padding: 0 24px; background: #fff;
              box-shadow: 0 1px 2px rgba(0,0,0,.06); }}
  .b24-logo {{ font-size: 20px; font-weight: 700; color: #333; }}
  .b24-logo span {{ color: #0075ff; }}
  .b24-portal {{ color: #828b95; }}
  .b24-user {{ margin-left: auto; color: #525c69; }}
  .b24-main {{ padding: 16px 24px 24px; }}
  #pagetitle {{ margin: 0 0 12px; font-size: 22px; font-weight: 400; }}
  .b24-card {{ background: #fff; border-radius: 12px; padding: 0; overflow: hidden; }}
  #app-frame {{ display: block; width: 100%; height: 300px; border: 0; }}
  .b24-entry {{ display: none; }}
</style>
</head>
<body>
<header class="b24-top">
  <div class="b24-logo">Битрикс<span>24</span></div>
  <div class="b24-portal">{portal}</div>
  <div class="b24-user">{user}</div>
</header>
<main class="b24-main">
  <h1 id="pagetitle">{title}</h1>
  <div class="b24-card" data-placement="{placement}">
    <iframe id="app-frame" name="{frame_name}" title="{title}"></iframe>
  </div>
  <form id="app-entry" class="b24-entry" method="post" action="{action}" target="{frame_name}">
{fields}
  </form>
</main>
<script type="application/json" id="b24-shell-config">{config}</script>
<script>{script}</script>
</body>
</html>
"""

# The parent side of the protocol (SHELL.md). Plain ES5-ish, no dependencies.
SHELL_JS = r"""
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("b24-shell-config").textContent);
  var frame = document.getElementById("app-frame");
  var log = window.__b24messages = [];

  function parse(data) {
    if (typeof data === "string") {
      var parts = data.split(":");
      var m = {command: parts.shift(), params: null, callback: "", app_sid: ""};
      if (parts.length >= 2) { m.app_sid = parts.pop(); }
      if (parts.length >= 1) { m.callback = parts.pop(); }
      var raw = parts.join(":");
      if (raw) {
        try { m.params = JSON.parse(raw); } catch (e) { m.params = raw; }
      }
      return m;
    }
    if (data && typeof data === "object" && typeof data.method === "string") {
      return {command: data.method, params: data.params, callback: String(data.callback || ""),
              app_sid: String(data.appSid || "")};
    }
    return {command: null, params: null, callback: "", app_sid: ""};
  }

  function answer(entry, result) {
    entry.answer = result === undefined ? null : result;
    if (!entry.callback) { return; }
    frame.contentWindow.postMessage(
      entry.callback + ":" + (result === undefined ? "" : JSON.stringify(result)), C.app_origin);
  }

  function post(url) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                       body: JSON.stringify({app_sid: C.app_sid})})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(r.status + " " + (body.error_description || body.error)); }
          return body;
        });
      });
  }

  function size(value) {
    if (typeof value === "number" || /^\d+(\.\d+)?$/.test(String(value))) { return value + "px"; }
    return String(value);
  }

  var handlers = {
    getInitData: function (e) { answer(e, C.init); },
    resizeWindow: function (e) {
      var p = e.params || {};
      if (p.height !== undefined && p.height !== "") { frame.style.height = size(p.height); }
      if (p.width !== undefined && p.width !== "") { frame.style.width = size(p.width); }
      answer(e);
    },
    setTitle: function (e) {
      var title = String((e.params && e.params.title) || "");
      document.title = title;
      document.getElementById("pagetitle").textContent = title;
      answer(e);
    },
    setScroll: function (e) {
      window.scrollTo(0, Number((e.params && e.params.scroll) || 0));
      answer(e);
    },
    refreshAuth: function (e) {
      post(C.refresh_url).then(function (auth) {
        C.init.AUTH_ID = auth.AUTH_ID;
        C.init.REFRESH_ID = auth.REFRESH_ID;
        C.init.AUTH_EXPIRES = auth.AUTH_EXPIRES;
        answer(e, {AUTH_ID: auth.AUTH_ID, REFRESH_ID: auth.REFRESH_ID, AUTH_EXPIRES: auth.AUTH_EXPIRES});
      }, function (err) { e.error = String(err); });   // no answer: the SDK times out, as with a dead parent
    },
    setInstallFinish: function (e) {
      post(C.install_finish_url).then(function () {
        answer(e);
        window.setTimeout(function () { window.location.reload(); }, 50);   // the portal reloads the app
      }, function (err) { e.error = String(err); answer(e); });
    },
    setInstall: function (e) { answer(e); },
    reloadWindow: function (e) { answer(e); window.location.reload(); },
    closeApplication: function (e) { answer(e); }
  };

  window.addEventListener("message", function (event) {
    var entry = parse(event.data);
    entry.origin = event.origin;
    entry.data = event.data;
    entry.at = Date.now();
    log.push(entry);
    if (event.source !== frame.contentWindow || event.origin !== C.app_origin) {
      entry.rejected = "origin";
      return;
    }
    if (entry.command === null) { entry.rejected = "format"; return; }
    if (entry.app_sid && entry.app_sid !== C.app_sid) { entry.rejected = "app_sid"; return; }
    var handler = Object.prototype.hasOwnProperty.call(handlers, entry.command) && handlers[entry.command];
    if (!handler) {
      entry.unknown = true;
      answer(entry);
      return;
    }
    handler(entry);
  });

  document.getElementById("app-entry").submit();
})();
"""


def messenger(emu: Emulator, req: Request, domain: str) -> Response:
    """GET /p/<domain>/im: what apps posted to the portal's chats and
    notifications (im.message.add, im.notify.*), newest first: the demo's
    way to show the weekly summary and the alerts arriving."""
    portal = emu.portals.get(domain)
    if portal is None:
        return _error(ShellError(404, f"no portal {domain}"))
    rows = []
    for m in reversed([m for m in emu.messages if m.get("domain") == domain]):
        params = m.get("params") or {}
        to = params.get("DIALOG_ID") or params.get("USER_ID") or params.get("TO") or ""
        text = html.escape(str(params.get("MESSAGE") or params.get("message") or ""))
        for tag in ("B", "I", "U"):
            text = text.replace(f"[{tag}]", f"<{tag.lower()}>").replace(f"[/{tag}]", f"</{tag.lower()}>")
        text = text.replace("[/URL]", "").replace("\n", "<br>")
        text = re.sub(r"\[URL=([^\]]*)\]", "", text)
        rows.append(f"<div class=m><div class=h>{html.escape(m['method'])} → {html.escape(str(to))}</div>"
                    f"<div>{text}</div></div>")
    body = ("<!doctype html><html lang=ru><meta charset=utf-8><title>Чаты и уведомления</title>"
            "<style>body{font:14px system-ui,sans-serif;background:#eef2f4;margin:0;padding:24px}"
            ".m{background:#fff;border-radius:12px;padding:12px 16px;margin:0 0 10px;max-width:720px}"
            ".h{color:#828b95;font-size:12px;margin-bottom:6px}</style>"
            f"<h1>{html.escape(domain)}: чаты и уведомления</h1>"
            + ("".join(rows) or "<p>Сообщений пока нет.</p>") + "</html>")
    return Response(body, content_type="text/html; charset=utf-8")
