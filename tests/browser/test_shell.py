"""The portal shell (emulators/bitrix24/shell.py) in a real browser, with a
throwaway frame app that uses the vendored slim b24jssdk build
(static/vendor/b24jssdk/b24jssdk.frame.min.js, built by tools/vendor-b24jssdk)
the way our frame.js will: initializeB24Frame, then keep the frame as tall as
its content.

What it shows: the shell POSTs the frame fields into the named iframe, the
SDK's handshake (getInitData) and resizeWindow reach the parent in the
format SHELL.md describes, the iframe takes the measured height — shrinking
and growing, by the ResizeObserver fit and by parent.resizeWindow(w, h) —
refreshAuth brings a new token from the shell's refresh endpoint, setTitle /
an unknown command are answered, placement info arrives, the SDK's logger
works on the luxon shim, and the parts the slim build leaves out (REST)
fail loudly.
"""
from __future__ import annotations

import json
import re
import threading
from html import escape
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulators.bitrix24.state import PlacementBinding

from .conftest import shot

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor" / "b24jssdk"
SDK = VENDOR / "b24jssdk.frame.min.js"
SDK_BUDGET = 60_000  # bytes, raw: the page budget is 150 KB in all
CLIENT_ID, CLIENT_SECRET = "app.shell.browser", "shell-secret"

# The part of frame.js this test stands for: start the SDK, then size the
# frame to the content node on every change (ResizeObserver). Width "100%"
# keeps the frame as wide as the portal's column (fitWindow sends the same);
# parent.resizeWindow() itself only takes numbers. `window.autoFit = false`
# lets the test drive parent.resizeWindow() by hand; refit() goes back.
FRAME_JS = """
(async () => {
  const node = document.getElementById('app');
  const $b24 = await B24Js.initializeB24Frame();
  window.$b24 = $b24;
  window.autoFit = true;
  let sent = 0;
  const fit = () => {
    if (!window.autoFit) return;
    const height = Math.ceil(node.getBoundingClientRect().height);
    if (height === sent) return;
    sent = height;
    $b24.parent.message.send('resizeWindow', { width: '100%', height, isSafely: true });
  };
  new ResizeObserver(() => requestAnimationFrame(fit)).observe(node);
  window.refit = () => { sent = 0; fit(); };
  fit();
  window.frameReady = true;
})().catch((err) => { window.frameError = String(err); throw err; });
"""

FRAME_HTML = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>frame</title>
<style>
  html, body {{ margin: 0; }}
  body {{ font: 14px/1.4 system-ui, sans-serif; color: #333; }}
  #app {{ padding: 16px 20px; }}
  #app h2 {{ margin: 0 0 8px; font-size: 18px; font-weight: 400; }}
  .row {{ height: 24px; border-bottom: 1px solid #edeef0; }}
  pre {{ margin: 8px 0 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; color: #525c69; }}
</style></head>
<body>
<div id="app">
  <h2>Hourbook frame</h2>
  <div id="rows"><div class="row">row 1</div></div>
  <pre id="fields">{fields}</pre>
</div>
<script src="/vendor/b24jssdk.frame.min.js"></script>
<script>{script}</script>
</body></html>
"""


class FrameApp:
    """The app's side: serves the frame page (POST, as a portal opens it) and the vendored SDK."""

    def __init__(self) -> None:
        self.posts: list[dict] = []

        class Quiet(WSGIRequestHandler):
            def log_request(self, *a, **k):
                pass

        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def wsgi(self, environ, start_response):
        req = Request(environ)
        if req.path == "/vendor/b24jssdk.frame.min.js":
            resp = Response(SDK.read_bytes(), content_type="text/javascript; charset=utf-8")
        elif req.path == "/frame":
            fields = req.form.to_dict()
            self.posts.append({"method": req.method, "args": req.args.to_dict(), "form": fields})
            text = json.dumps(fields, ensure_ascii=False, indent=1).replace("<", "\\u003c")
            resp = Response(FRAME_HTML.format(fields=escape(text), script=FRAME_JS),
                            content_type="text/html; charset=utf-8")
        else:
            resp = Response("not found", status=404)
        return resp(environ, start_response)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def frame_app():
    app = FrameApp()
    yield app
    app.stop()


@pytest.fixture
def portal(emu, frame_app):
    p = emu.add_portal("romashka.bitrix24.test")
    p.rate_limit = None
    emu.register_app(CLIENT_ID, CLIENT_SECRET, frame_app.url, app_path="/frame")
    emu.grant_tokens(p, CLIENT_ID)
    return p


def messages(page) -> list[dict]:
    return page.evaluate("window.__b24messages")


def frame_height(page) -> float:
    return page.evaluate("document.getElementById('app-frame').getBoundingClientRect().height")


def test_sdk_frame_in_the_shell(emu, portal, frame_app, page, js_errors):
    page.goto(emu.shell_url(portal, CLIENT_ID, 1, lang="ru"))
    frame = page.frame_locator("#app-frame")
    frame.locator("#fields").wait_for()
    app_frame = page.frames[1]
    app_frame.wait_for_function("window.frameReady === true || window.frameError")
    assert app_frame.evaluate("window.frameError || null") is None

    # The portal's POST reached the app, with the query string and the frame fields.
    [post] = frame_app.posts
    assert post["method"] == "POST"
    assert post["args"]["DOMAIN"] == portal.domain and post["args"]["PROTOCOL"] == "0"
    assert post["form"]["PLACEMENT"] == "DEFAULT" and post["form"]["member_id"] == portal.member_id
    assert emu.tokens.check(post["form"]["AUTH_ID"], portal.domain).user_id == 1
    # window.name is what the SDK parsed.
    assert app_frame.evaluate("window.name") == f"{emu.host}|0|{post['args']['APP_SID']}"

    # Handshake and resize arrived in the documented format.
    page.wait_for_function("window.__b24messages.some(m => m.command === 'resizeWindow')")
    log = messages(page)
    assert [m["command"] for m in log][:2] == ["getInitData", "resizeWindow"]
    init, resize = log[0], log[1]
    assert init["origin"] == frame_app.url and init["app_sid"] == post["args"]["APP_SID"]
    assert init["data"] == f"getInitData:{init['callback']}:{init['app_sid']}"
    assert resize["params"]["width"] == "100%" and resize["params"]["height"] > 0
    assert not any(m.get("rejected") or m.get("unknown") for m in log)
    # getInitData was answered with the frame's fields.
    assert init["answer"]["AUTH_ID"] == post["form"]["AUTH_ID"]
    assert init["answer"]["MEMBER_ID"] == portal.member_id

    # The SDK took the init data.
    auth = app_frame.evaluate("$b24.auth.getAuthData()")
    assert auth["access_token"] == post["form"]["AUTH_ID"] and auth["member_id"] == portal.member_id
    assert auth["refresh_token"] == post["form"]["REFRESH_ID"]
    assert auth["expires_in"] == int(post["form"]["AUTH_EXPIRES"])
    assert auth["domain"] == f"http://{emu.host}"
    assert app_frame.evaluate("[$b24.placement.placement, $b24.placement.isDefault, $b24.getLang()]") == \
        ["DEFAULT", True, "ru"]

    # The iframe is exactly as tall as the content: it shrank from the shell's 300 px…
    content = app_frame.evaluate("Math.ceil(document.getElementById('app').getBoundingClientRect().height)")
    page.wait_for_function(f"document.getElementById('app-frame').getBoundingClientRect().height === {content}")
    assert content < 300
    assert page.evaluate("getComputedStyle(document.getElementById('app-frame')).width") == \
        page.evaluate("getComputedStyle(document.querySelector('.b24-card')).width")
    # …and grows with it, without a scrollbar inside the frame.
    app_frame.evaluate("""() => { const rows = document.getElementById('rows');
        for (let i = 2; i <= 30; i++) { const d = document.createElement('div'); d.className = 'row';
        d.textContent = 'row ' + i; rows.appendChild(d); } }""")
    grown = app_frame.evaluate("Math.ceil(document.getElementById('app').getBoundingClientRect().height)")
    assert grown > content + 600
    page.wait_for_function(f"document.getElementById('app-frame').getBoundingClientRect().height === {grown}")
    assert app_frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight")

    # parent.resizeWindow(width, height) with numbers (px), up and down; it
    # refuses anything but numbers > 0 without asking the parent.
    app_frame.evaluate("window.autoFit = false")
    width = page.evaluate("Math.round(document.getElementById('app-frame').getBoundingClientRect().width)")
    for height in (grown + 150, 180):
        assert app_frame.evaluate(f"$b24.parent.resizeWindow({width}, {height})") == ""
        page.wait_for_function(f"document.getElementById('app-frame').getBoundingClientRect().height === {height}")
        assert messages(page)[-1]["params"] == {"width": width, "height": height}
    sent = len(messages(page))
    assert app_frame.evaluate("$b24.parent.resizeWindow(0, 100).then(() => 'resolved', (e) => e.message)") == \
        "Wrong width:number = 0 or height:number = 100"
    assert len(messages(page)) == sent
    app_frame.evaluate("window.autoFit = true; window.refit()")
    page.wait_for_function(f"document.getElementById('app-frame').getBoundingClientRect().height === {grown}")

    # refreshAuth: a fresh token pair from the shell's refresh endpoint, handed to the SDK.
    fresh = app_frame.evaluate("$b24.auth.refreshAuth()")
    assert fresh["access_token"] != post["form"]["AUTH_ID"]
    assert fresh["refresh_token"] != post["form"]["REFRESH_ID"]
    assert fresh["member_id"] == portal.member_id and fresh["expires_in"] == 3600
    token = emu.tokens.check(fresh["access_token"], portal.domain)
    assert (token.user_id, token.client_id) == (1, CLIENT_ID)
    assert emu.requests["shell/refresh"] == 1
    [refresh] = [m for m in messages(page) if m["command"] == "refreshAuth"]
    assert refresh["answer"]["AUTH_ID"] == fresh["access_token"]
    assert app_frame.evaluate("$b24.auth.getAuthData().access_token") == fresh["access_token"]

    # The SDK's own logger works in the slim build (its line formatter dates
    # every record through the luxon shim).
    logged: list[str] = []
    page.on("console", lambda msg: logged.append(msg.text))
    app_frame.evaluate("$b24.setLogger(B24Js.LoggerFactory.createForBrowser('hourbook', true))")

    # setTitle sets the portal's page title; an unknown command is recorded and answered.
    app_frame.evaluate("$b24.parent.setTitle('Часы по клиенту')")
    page.wait_for_function("document.title === 'Часы по клиенту'")
    assert page.locator("#pagetitle").text_content() == "Часы по клиенту"
    answer = app_frame.evaluate("$b24.parent.message.send('noSuchCommand', {a: 1})")
    assert answer == ""
    unknown = [m for m in messages(page) if m["command"] == "noSuchCommand"]
    assert len(unknown) == 1 and unknown[0]["unknown"] and unknown[0]["params"] == {"a": 1}
    assert any("[hourbook]: send to http://" + emu.host in t for t in logged), logged
    dates = app_frame.evaluate("[B24Js.Text.getDateForLog(), B24Js.Text.toB24Format(new Date(2026, 0, 2, 3, 4, 5))]")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", dates[0]), dates
    assert re.fullmatch(r"2026-01-02T03:04:05[+-]\d\d:\d\d", dates[1]), dates

    # What the slim build leaves out fails loudly, with one error code.
    left_out = app_frame.evaluate("""async () => {
        const code = (f) => { try { f(); return 'no error'; } catch (e) { return e.code || String(e); } };
        return {
            actions: code(() => $b24.actions.v2),
            tools: code(() => $b24.tools.ping),
            call: await $b24.getHttpClient('v2').call('app.info', {}).then(() => 'no error', (e) => e.code),
            restriction: await $b24.setRestrictionManagerParams({}).then(() => 'no error', (e) => e.code),
            parseDate: code(() => B24Js.Text.toDateTime('2026-01-02')),
        };
    }""")
    assert left_out == dict.fromkeys(left_out, "JSSDK_SLIM_BUILD_UNAVAILABLE") and len(left_out) == 5, left_out

    shot(page, "shell-sdk-frame")
    assert js_errors == []


def test_placement_info(emu, portal, frame_app, page, js_errors):
    """A widget: the SDK's placement manager has the placement and its options."""
    with emu.lock:
        portal.installs[CLIENT_ID].placements.append(
            PlacementBinding("CRM_COMPANY_DETAIL_TAB", frame_app.url + "/frame", "Hours"))
    page.goto(emu.shell_url(portal, CLIENT_ID, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "12"}))
    page.frame_locator("#app-frame").locator("#fields").wait_for()
    app_frame = page.frames[1]
    app_frame.wait_for_function("window.frameReady === true || window.frameError")
    assert app_frame.evaluate("window.frameError || null") is None
    info = app_frame.evaluate("""({placement: $b24.placement.placement, options: $b24.placement.options,
        isDefault: $b24.placement.isDefault, frozen: Object.isFrozen($b24.placement.options)})""")
    assert info == {"placement": "CRM_COMPANY_DETAIL_TAB", "options": {"ID": "12"}, "isDefault": False,
                    "frozen": True}
    assert app_frame.evaluate("$b24.auth.getAuthData().member_id") == portal.member_id
    assert js_errors == []


def test_vendored_sdk_is_the_slim_build():
    """Only the slim build is served: within budget, with its notice and licence."""
    raw = SDK.read_bytes()
    assert len(raw) < SDK_BUDGET, len(raw)
    head = raw[:600].decode()
    assert head.startswith("/*! @bitrix24/b24jssdk 2.2.0") and "MIT License" in head
    assert "tools/vendor-b24jssdk" in head
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
    assert sorted(p.name for p in VENDOR.iterdir()) == ["LICENSE", "b24jssdk.frame.min.js"]
    static = ROOT / "static"
    assert not [p for p in static.rglob("*.umd*.js")] and not list(static.rglob("*.py"))


def test_frame_errors_are_seen(emu, portal, frame_app, page, js_errors):
    """js_errors sees an uncaught exception and a console.error inside the frame."""
    page.goto(emu.shell_url(portal, CLIENT_ID, 1))
    page.frame_locator("#app-frame").locator("#fields").wait_for()
    app_frame = page.frames[1]
    app_frame.wait_for_function("window.frameReady === true")
    app_frame.evaluate("setTimeout(() => { throw new Error('boom in frame'); }, 0); console.error('said in frame')")
    for _ in range(50):
        if len(js_errors) >= 2:
            break
        page.wait_for_timeout(50)
    assert any("boom in frame" in e for e in js_errors), js_errors
    assert any("said in frame" in e for e in js_errors), js_errors


def test_handler_error_is_shown_in_the_frame(emu, portal, frame_app, page, js_errors):
    """A widget whose handler answers 404: the shell still shows what came back."""
    with emu.lock:
        portal.installs[CLIENT_ID].placements.append(
            PlacementBinding("CRM_COMPANY_DETAIL_TAB", frame_app.url + "/missing", "Hours"))
    page.goto(emu.shell_url(portal, CLIENT_ID, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "12"}))
    page.frame_locator("#app-frame").get_by_text("not found").wait_for()
    assert page.frames[1].locator("body").text_content() == "not found"
    assert page.locator("#pagetitle").text_content() == "CRM_COMPANY_DETAIL_TAB"
    # the browser reports the 404 of the frame document as a console error
    assert all("404" in e for e in js_errors), js_errors
