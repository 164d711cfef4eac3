"""The emulated amoCRM pages: a company or lead card with the widget column,
and the consent page.

The card loads the uploaded archive's `script.js` the way amoCRM does
(§4.2): the file is an AMD module, `define([...], factory)`; the factory
returns the widget's constructor, which amoCRM builds on top of its own
widget object (here: a prototype holding `system()`, `i18n()`, `langs`,
`params`, `get_settings()`, `render_template()` and `$authorizedAjax()`),
then calls `callbacks.render()`, and `init()` and `bind_actions()` only
when render answered true. `APP` carries the card (`APP.data.current_card`,
`APP.getBaseEntity()`, `APP.lang_id`, §4.2). `$authorizedAjax` asks the
account for a fresh disposable token and sends it as `X-Auth-Token`, no
cookies (§5).
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from .emulator import AmoEmulator
    from .state import Account

TEXT = {
    "ru": {"companies": "Компании", "leads": "Сделки", "company": "Компания", "lead": "Сделка",
           "responsible": "Ответственный", "feed": "Примечания", "no_notes": "Примечаний пока нет",
           "widgets": "Виджеты", "none": "Карточка не найдена", "budget": "Бюджет", "search": "Поиск"},
    "en": {"companies": "Companies", "leads": "Leads", "company": "Company", "lead": "Lead",
           "responsible": "Responsible", "feed": "Notes", "no_notes": "No notes yet",
           "widgets": "Widgets", "none": "Card not found", "budget": "Budget", "search": "Search"},
}

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 "PT Sans",Arial,sans-serif;color:#313942;background:#eef1f4}
.amo-nav{flex:none;width:64px;background:#1d2a3a;display:flex;flex-direction:column;
align-items:center;padding-top:14px;gap:18px}.amo-nav i{display:block;width:26px;height:26px;border-radius:6px;
background:#3d5068}.amo-nav i.on{background:#4c8bf7}
.amo-main{display:flex;min-height:100vh}
.amo-left{width:300px;background:#fff;border-right:1px solid #dbdedf;padding:0 0 20px}
.amo-head{background:#2e3640;color:#fff;padding:18px 20px}.amo-head small{display:block;color:#9ea7b1;
text-transform:uppercase;font-size:11px;letter-spacing:.06em}.amo-head h1{margin:4px 0 0;font-size:20px;font-weight:normal}
.amo-field{display:flex;padding:9px 20px;border-bottom:1px solid #f0f2f3}.amo-field span{flex:none;width:120px;color:#92989b}
.amo-feed{flex:1;padding:20px;min-width:0}.amo-feed h2{font-size:13px;text-transform:uppercase;color:#92989b;
margin:0 0 12px;font-weight:normal}.amo-note{background:#fff;border:1px solid #e1e4e6;border-radius:3px;
padding:12px 14px;margin-bottom:10px;white-space:pre-wrap}.amo-note time{display:block;color:#92989b;font-size:12px;
margin-bottom:4px}
.amo-widgets{width:360px;background:#f5f5f5;border-left:1px solid #dbdedf;padding:12px}
.amo-widgets>h2{font-size:12px;text-transform:uppercase;color:#92989b;margin:4px 4px 10px;font-weight:normal}
.card-widgets__widget{background:#fff;border:1px solid #dbdedf;border-radius:3px;margin-bottom:10px}
.card-widgets__widget__caption{display:flex;align-items:center;gap:8px;padding:8px 10px;border-bottom:1px solid #eceeef;
font-weight:bold;font-size:13px}.card-widgets__widget__caption img{width:24px;height:24px;border-radius:4px}
.card-widgets__widget__body{padding:0}
@media (max-width:900px){.amo-nav{display:none}.amo-main{flex-direction:column}
.amo-left,.amo-widgets{width:auto;border:0}.amo-feed{order:3}}
"""

SHELL_JS = r"""
(function () {
  "use strict";
  var cfg = window.AMO_CARD;
  var base = "/widgets/" + cfg.code;
  window.define = function (deps, factory) {
    if (typeof deps === "function") { factory = deps; deps = []; }
    window.__amoWidgetModule = { deps: deps, factory: factory };
  };
  window.define.amd = { jQuery: true };
  window.APP = {
    lang_id: cfg.lang,
    data: { current_card: cfg.id ? { id: cfg.id, model: { id: cfg.id } } : undefined },
    getBaseEntity: function () { return cfg.entity; },
    isCard: function () { return true; },
    getWidgetsArea: function () { return cfg.entity === "leads" ? "leads_card" : "companies_card"; }
  };
  window.AMOCRM = window.APP;

  function deferred() {
    var done = [], fail = [], state = null, value;
    var d = {
      done: function (fn) { if (state === "ok") fn(value); else if (!state) done.push(fn); return d; },
      fail: function (fn) { if (state === "err") fn(value); else if (!state) fail.push(fn); return d; },
      then: function (a, b) { if (a) d.done(a); if (b) d.fail(b); return d; },
      resolve: function (v) { if (state) return; state = "ok"; value = v; done.forEach(function (f) { f(v); }); },
      reject: function (v) { if (state) return; state = "err"; value = v; fail.forEach(function (f) { f(v); }); }
    };
    return d;
  }

  var widgetBase = {
    params: { path: base, widget_code: cfg.code },
    system: function () {
      return { area: APP.getWidgetsArea(), amouser_id: cfg.user, amouser: cfg.email, amohash: "",
               subdomain: cfg.subdomain, domain: location.host };
    },
    get_settings: function () { return { widget_code: cfg.code, path: base, images_path: base + "/images", status: "installed" }; },
    get_install_status: function () { return "installed"; },
    get_version: function () { return cfg.version; },
    i18n: function (key) { return this.langs[key]; },
    render_template: function (options, data) {
      var markup = (options.render || options.body || "").replace(/\{\{\s*(\w+)\s*\}\}/g, function (_, k) {
        return data && data[k] != null ? String(data[k]) : "";
      });
      var column = document.getElementById("widgets_block");
      var box = column.querySelector('[data-widget="' + cfg.code + '"]');
      if (!box) {
        box = document.createElement("div");
        box.className = "card-widgets__widget";
        box.setAttribute("data-widget", cfg.code);
        box.innerHTML = '<div class="card-widgets__widget__caption ' + ((options.caption || {}).class_name || "") +
          '"><img alt="" src="' + base + '/images/logo_min.png"><span></span></div><div class="card-widgets__widget__body"></div>';
        box.querySelector(".card-widgets__widget__caption span").textContent = (this.langs.widget || {}).name || cfg.code;
        column.appendChild(box);
      }
      box.querySelector(".card-widgets__widget__body").innerHTML = markup;
      return box;
    },
    $authorizedAjax: function (options) {
      var d = deferred();
      var form = new URLSearchParams({ user_id: String(cfg.user), code: cfg.code });
      fetch("/emulator/disposable-token", { method: "POST", body: form, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (t) {
          var type = String(options.type || options.method || "GET").toUpperCase();
          var url = options.url, headers = { "X-Auth-Token": t.token }, body;
          if (options.data) {
            var params = new URLSearchParams(options.data);
            if (type === "GET") url += (url.indexOf("?") < 0 ? "?" : "&") + params;
            else { body = params; headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"; }
          }
          return fetch(url, { method: type, headers: headers, body: body, credentials: "omit", mode: "cors" });
        })
        .then(function (r) {
          return r.text().then(function (text) {
            var json = null;
            try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
            if (r.ok) d.resolve(json !== null ? json : text);
            else d.reject({ status: r.status, responseText: text, responseJSON: json });
          });
        })
        .catch(function (err) { d.reject({ status: 0, responseText: String(err) }); });
      return d;
    }
  };

  function start(langs) {
    var module = window.__amoWidgetModule;
    if (!module) { document.body.setAttribute("data-widget-state", "no-module"); return; }
    var Widget = module.factory.apply(null, module.deps.map(function () { return undefined; }));
    widgetBase.langs = langs;
    Widget.prototype = widgetBase;
    var widget = new Widget();
    window.__amoWidget = widget;
    var ok = widget.callbacks.render() === true;
    if (ok) ok = widget.callbacks.init() === true && widget.callbacks.bind_actions() === true;
    document.body.setAttribute("data-widget-state", ok ? "ready" : "render-false");
  }

  fetch(base + "/i18n/" + cfg.lang + ".json").then(function (r) { return r.json(); }).then(function (langs) {
    var script = document.createElement("script");
    script.src = base + "/script.js?v=" + encodeURIComponent(cfg.version);
    script.onload = function () { start(langs); };
    script.onerror = function () { document.body.setAttribute("data-widget-state", "no-script"); };
    document.head.appendChild(script);
  });
})();
"""


def _when(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%d.%m.%Y %H:%M")


def page(emu: AmoEmulator, account: Account, entity: str, entity_id: int, req: Request) -> Response:
    lang = "en" if req.args.get("lang") == "en" else "ru"
    t = TEXT[lang]
    try:
        user_id = int(req.args.get("user", "0"))
    except ValueError:
        user_id = 0
    if user_id not in account.users:
        user_id = next(iter(account.users), 0)
    item = (account.companies if entity == "companies" else account.leads).get(entity_id)
    if item is None:
        return Response(f"<h1>{t['none']}</h1>", 404, content_type="text/html; charset=utf-8")
    integration = next((i for i in emu.state.integrations.values()
                        if i.widget_zip and i.client_id in account.installed), None)
    fields = [(t["responsible"], account.users.get(item.get("responsible_user_id") or 0, {}).get("name", "—"))]
    company_id = entity_id
    if entity == "leads":
        fields.insert(0, (t["budget"], f"{item.get('price', 0):,} ₽".replace(",", " ")))
        company_id = item.get("company_id") or 0
        if company_id in account.companies:
            fields.insert(0, (t["company"], account.companies[company_id]["name"]))
    notes = [n for n in account.notes if n["entity_id"] == company_id]
    feed = "".join(f'<div class="amo-note"><time>{_when(n["created_at"])}</time>{html.escape(n["params"].get("text", ""))}</div>'
                   for n in reversed(notes)) or f'<p class="amo-muted">{t["no_notes"]}</p>'
    config = {"code": integration.code if integration else "", "user": user_id, "lang": lang, "entity": entity,
              "id": entity_id, "subdomain": account.subdomain, "email": f"user{user_id}@{account.subdomain}.test",
              "version": "1"}
    scripts = (f'<script>window.AMO_CARD = {json.dumps(config)};</script><script src="/emulator/amo.js"></script>'
               if integration else "")
    body = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>{html.escape(item["name"])} — amoCRM</title>
<style>{CSS}</style></head><body>
<div class="amo-main">
<nav class="amo-nav"><i></i><i class="on"></i><i></i><i></i></nav>
<section class="amo-left"><header class="amo-head"><small>{t['company' if entity == 'companies' else 'lead']}</small>
<h1>{html.escape(item['name'])}</h1></header>
{''.join(f'<div class="amo-field"><span>{html.escape(k)}</span>{html.escape(str(v))}</div>' for k, v in fields)}
</section>
<section class="amo-feed"><h2>{t['feed']}</h2>{feed}</section>
<aside class="amo-widgets" id="widgets_block"><h2>{t['widgets']}</h2></aside>
</div>{scripts}</body></html>"""
    return Response(body, content_type="text/html; charset=utf-8")


def consent(emu: AmoEmulator, req: Request) -> Response:
    """The consent page (§1.2): the admin picks one of their accounts."""
    integration = emu.state.integrations.get(req.args.get("client_id", ""))
    if integration is None:
        return Response("unknown integration", 400)
    state = html.escape(req.args.get("state", ""))
    rows = "".join(
        f'<form method="post" action="/oauth/decide"><input type="hidden" name="client_id" value="{html.escape(integration.client_id)}">'
        f'<input type="hidden" name="state" value="{state}"><input type="hidden" name="account_id" value="{a.id}">'
        f'<button name="allow" value="1">Разрешить: {html.escape(a.name)} ({a.subdomain})</button></form>'
        for a in emu.state.accounts.values())
    body = (f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>amoCRM</title></head><body>'
            f'<h1>Предоставить доступ интеграции</h1>{rows}</body></html>')
    return Response(body, content_type="text/html; charset=utf-8")
