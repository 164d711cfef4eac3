"""Installation, OAuth code exchange, refresh rotation, uninstall (facts §1, §2)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from emulators.bitrix24 import Faults, clock
from emulators.bitrix24.php import parse_pairs

from .conftest import APP_ID, APP_SECRET, assert_shape, assert_wire_shape, call, example

FRAME_QUERY = {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
FRAME_FORM = {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN", "APPLICATION_SCOPE",
              "member_id", "status", "PLACEMENT"}


def token_url(emu, **params):
    return requests.get(f"{emu.url}/oauth/token/", params=params, timeout=5)


@pytest.fixture
def installer(emu, portal, receiver, app):
    """An app whose installer binds its events through the REST API it finds
    via SERVER_ENDPOINT app.info, then calls installFinish."""
    seen = {}

    def page(req):
        form = req.form
        info = requests.get(form["SERVER_ENDPOINT"] + "app.info/", params={"auth": form["AUTH_ID"]}, timeout=5)
        endpoint = info.json()["result"]["install"]["client_endpoint"]
        for event in ("ONAPPINSTALL", "ONAPPUNINSTALL", "ONTASKUPDATE"):
            r = requests.post(endpoint + "event.bind", json={"event": event, "handler": receiver.url + "/events",
                                                             "auth": form["AUTH_ID"]}, timeout=5)
            assert r.json()["result"] is True
        seen["app_info"] = requests.post(endpoint + "app.info", data={"auth": form["AUTH_ID"]}, timeout=5).json()
        # Changed during installation: not delivered, the app is not installed yet (facts §1.2).
        portal.update_task(seen["task"], title="Переименована при установке")
        return "<html><script>BX24.init(function(){ BX24.installFinish(); });</script></html>"

    seen["task"] = portal.add_task("Задача", 1)
    receiver.on("/install", page)
    return seen


def test_install_posts_the_frame_binds_and_delivers_onappinstall(emu, portal, receiver, installer):
    response = emu.install(portal, APP_ID)
    assert response.status_code == 200
    hit = receiver.at("/install")[0]
    assert set(hit["args"]) == FRAME_QUERY and hit["args"]["DOMAIN"] == portal.domain
    assert {k for k, _ in hit["form"]} == FRAME_FORM and dict(hit["form"])["PLACEMENT"] == "DEFAULT"
    assert installer["app_info"]["result"]["INSTALLED"] is False     # before installFinish
    assert portal.installs[APP_ID].installed
    assert emu.flush_events()
    events = receiver.at("/events")
    assert [h["content_type"] for h in events] == ["application/x-www-form-urlencoded"]
    payload = parse_pairs(events[0]["form"])
    documented = example("ONAPPINSTALL.json")
    assert_wire_shape(payload, documented | {"event_handler_id": "1"})
    assert payload["auth"]["application_token"] == dict(hit["form"])["APPLICATION_TOKEN"]
    assert payload["auth"]["client_endpoint"] == portal.client_endpoint
    # Now installed: task changes reach the handler.
    portal.update_task(installer["task"], status=3)
    emu.flush_events()
    assert [parse_pairs(h["form"])["event"] for h in receiver.at("/events")] == ["ONAPPINSTALL", "ONTASKUPDATE"]


def test_installer_without_install_finish_leaves_the_app_not_installed(emu, portal, receiver, app):
    receiver.on("/install", lambda req: "<html>Ошибка настройки</html>")
    emu.install(portal, APP_ID)
    assert not portal.installs[APP_ID].installed
    with pytest.raises(PermissionError):
        emu.open_frame(portal, APP_ID, portal.add_user("Пётр"))
    url, _ = emu.open_frame(portal, APP_ID, 1)   # the admin keeps getting the installer
    assert urlparse(url).path == "/install"


def test_code_exchange_and_refresh_rotation(emu, portal, receiver, tokens):
    r = requests.get(emu.authorize_url(portal, APP_ID, "st4te"), allow_redirects=False, timeout=5)
    assert r.status_code == 302
    back = urlparse(r.headers["Location"])
    q = {k: v[0] for k, v in parse_qs(back.query).items()}
    assert back.path == "/oauth/callback"
    assert set(q) == {"code", "state", "domain", "member_id", "scope", "server_domain"} and q["state"] == "st4te"
    got = token_url(emu, grant_type="authorization_code", client_id=APP_ID, client_secret=APP_SECRET, code=q["code"])
    assert set(got.json()) == set(example("oauth.token.authorization_code.json"))
    assert got.json()["client_endpoint"] == portal.client_endpoint and got.json()["domain"] == emu.host
    again = token_url(emu, grant_type="authorization_code", client_id=APP_ID, client_secret=APP_SECRET,
                      code=q["code"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")   # single use

    first = got.json()
    new = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret=APP_SECRET,
                    refresh_token=first["refresh_token"]).json()
    assert_shape(new, example("oauth.token.refresh_token.json"))
    assert new["refresh_token"] != first["refresh_token"] and new["user_id"] == 1
    reuse = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret=APP_SECRET,
                      refresh_token=first["refresh_token"])
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    assert call(portal.client_endpoint, "profile", auth=first["access_token"]).json()["error"] == "expired_token"
    assert call(portal.client_endpoint, "profile", auth=new["access_token"]).status_code == 200


def test_code_is_valid_30_seconds(emu, portal, tokens, monkeypatch):
    r = requests.get(emu.authorize_url(portal, APP_ID, "s"), allow_redirects=False, timeout=5)
    code = parse_qs(urlparse(r.headers["Location"]).query)["code"][0]
    monkeypatch.setattr(clock, "offset_s", 31)
    late = token_url(emu, grant_type="authorization_code", client_id=APP_ID, client_secret=APP_SECRET, code=code)
    assert late.json()["error"] == "invalid_grant"


def test_access_token_expires_after_its_ttl(emu, portal, app, monkeypatch):
    emu.faults = Faults(token_ttl_s=60)   # expires early; the answer still says 3600
    tok = emu.grant_tokens(portal, APP_ID)
    assert tok["expires_in"] == 3600
    monkeypatch.setattr(clock, "offset_s", 61)
    r = call(portal.client_endpoint, "profile", auth=tok["access_token"])
    assert (r.status_code, r.json()["error"]) == (401, "expired_token")


def test_wrong_client_and_payment_required(emu, portal, tokens):
    bad = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret="nope",
                    refresh_token=tokens["refresh_token"])
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")
    portal.payment_expired = True
    r = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret=APP_SECRET,
                  refresh_token=tokens["refresh_token"])
    assert (r.status_code, r.json()) == (401, example("oauth.token.error.PAYMENT_REQUIRED.json"))
    portal.payment_expired = False   # the refused refresh did not spend the token
    ok = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret=APP_SECRET,
                   refresh_token=tokens["refresh_token"])
    assert ok.status_code == 200


def test_uninstall_sends_no_tokens_and_revokes_everything(emu, portal, receiver, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    call(ep, "event.bind", {"event": "ONAPPUNINSTALL", "handler": receiver.url + "/events"}, auth=tok)
    emu.uninstall(portal, APP_ID, clean=True)
    emu.flush_events()
    payload = parse_pairs(receiver.at("/events")[0]["form"])
    assert payload["data"] == {"LANGUAGE_ID": "ru", "CLEAN": "1"}
    assert set(payload["auth"]) == {"domain", "server_endpoint", "client_endpoint", "member_id", "application_token"}
    assert payload["auth"]["application_token"] == tokens["application_token"]
    r = call(ep, "profile", auth=tok)
    assert (r.status_code, r.json()["error"]) == (401, "NO_AUTH_FOUND")
    refused = token_url(emu, grant_type="refresh_token", client_id=APP_ID, client_secret=APP_SECRET,
                        refresh_token=tokens["refresh_token"])
    assert refused.json()["error"] == "invalid_client"


def test_update_sends_onappupdate_with_a_new_application_token(emu, portal, receiver, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    call(ep, "event.bind", {"event": "ONAPPUPDATE", "handler": receiver.url + "/events"}, auth=tok)
    emu.update_app(portal, APP_ID)
    emu.flush_events()
    payload = parse_pairs(receiver.at("/events")[0]["form"])
    assert_wire_shape(payload, example("ONAPPUPDATE.json") | {"event_handler_id": "1"})
    assert payload["data"]["VERSION"] == "2" and payload["data"]["PREVIOUS_VERSION"] == "1"
    assert payload["auth"]["application_token"] not in ("", tokens["application_token"])
    url, form = emu.open_frame(portal, APP_ID, 1)
    assert urlparse(url).path == "/app" and form["APPLICATION_TOKEN"] == payload["auth"]["application_token"]
