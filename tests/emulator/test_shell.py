"""The portal shell page (emulators/bitrix24/shell.py), server side: the entry form
a browser would submit into the app frame, and the endpoints behind the
page's refreshAuth / installFinish. The browser side is tests/browser/."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import APP_ID


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.iframes: list[dict] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({**a, "fields": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "iframe":
            self.iframes.append(a)
        elif tag == "script":
            self._script = a.get("id", "")
            self.scripts[self._script] = ""

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def open_shell(url: str) -> tuple[requests.Response, Page]:
    r = requests.get(url, timeout=10)
    return r, Page(r.text)


def test_page_posts_the_frame_fields_into_the_named_iframe(emu, portal, app, tokens):
    url = emu.shell_url(portal, APP_ID, 1, lang="en")
    assert url.startswith(f"{emu.url}/p/{portal.domain}/shell?")
    r, page = open_shell(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert portal.domain in r.text

    [form], [iframe] = page.forms, page.iframes
    assert form["method"] == "post" and form["target"] == iframe["name"]
    action = urlsplit(form["action"])
    assert f"{action.scheme}://{action.netloc}{action.path}" == app.url(app.app_path)
    query = {k: v[0] for k, v in parse_qs(action.query).items()}
    assert query["DOMAIN"] == portal.domain and query["PROTOCOL"] == "0" and query["LANG"] == "en"
    # window.name is what B24Frame parses: host|protocol|APP_SID, the host being
    # where the shell is served (the browser checks postMessage origins against it).
    assert iframe["name"] == f"{emu.host}|0|{query['APP_SID']}"

    fields = form["fields"]
    assert set(fields) == {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN",
                           "APPLICATION_SCOPE", "member_id", "status", "PLACEMENT"}
    assert fields["PLACEMENT"] == "DEFAULT" and fields["member_id"] == portal.member_id
    assert fields["AUTH_EXPIRES"] == "3600"
    token = emu.tokens.check(fields["AUTH_ID"], portal.domain)
    assert (token.user_id, token.client_id) == (1, APP_ID)
    assert fields["APPLICATION_TOKEN"] == portal.installs[APP_ID].application_token

    config = json.loads(page.scripts["b24-shell-config"])
    init = config["init"]
    assert config["app_sid"] == query["APP_SID"]
    assert config["app_origin"] == f"{action.scheme}://{action.netloc}"
    assert (init["AUTH_ID"], init["REFRESH_ID"], init["MEMBER_ID"]) == \
        (fields["AUTH_ID"], fields["REFRESH_ID"], portal.member_id)
    assert init["IS_ADMIN"] is True and init["INSTALL"] is False and init["PLACEMENT"] == "DEFAULT"
    assert emu.shells[query["APP_SID"]] == {"domain": portal.domain, "client_id": APP_ID, "user_id": 1,
                                           "placement": "DEFAULT"}


def test_widget_placement_gets_its_handler_and_options(emu, portal, app, tokens, receiver):
    call = requests.post(f"{portal.client_endpoint}placement.bind", params={"auth": tokens["access_token"]},
                         json={"PLACEMENT": "CRM_COMPANY_DETAIL_TAB", "HANDLER": receiver.url + "/tab",
                               "TITLE": "Hours"}, timeout=10)
    assert call.status_code == 200, call.text
    r, page = open_shell(emu.shell_url(portal, APP_ID, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "12"}))
    assert r.status_code == 200
    [form] = page.forms
    assert form["action"].startswith(receiver.url + "/tab?")
    assert form["fields"]["PLACEMENT"] == "CRM_COMPANY_DETAIL_TAB"
    assert json.loads(form["fields"]["PLACEMENT_OPTIONS"]) == {"ID": "12"}
    init = json.loads(page.scripts["b24-shell-config"])["init"]
    assert init["PLACEMENT_OPTIONS"] == {"ID": "12"} and init["LANG"] == "ru"


def test_installer_is_shown_to_the_admin_until_install_finish(emu, portal, app):
    emu.install(portal, APP_ID)            # the receiver's installer page does not call installFinish
    staff = portal.add_user("Иван", "Петров")
    r, page = open_shell(emu.shell_url(portal, APP_ID, 1))
    assert r.status_code == 200
    assert page.forms[0]["action"].startswith(app.url(app.installer_path) + "?")
    config = json.loads(page.scripts["b24-shell-config"])
    assert config["init"]["INSTALL"] is True
    assert requests.get(emu.shell_url(portal, APP_ID, staff), timeout=10).status_code == 403

    base = f"{emu.url}/p/{portal.domain}/shell"
    done = requests.post(base + "/install-finish", json={"app_sid": config["app_sid"]}, timeout=10)
    assert done.status_code == 200 and portal.installs[APP_ID].installed
    r, page = open_shell(emu.shell_url(portal, APP_ID, staff))
    assert r.status_code == 200 and page.forms[0]["action"].startswith(app.url(app.app_path) + "?")
    assert json.loads(page.scripts["b24-shell-config"])["init"]["IS_ADMIN"] is False


def test_refresh_issues_a_new_token_for_the_same_user_and_app(emu, portal, app, tokens):
    user = portal.add_user("Иван", "Петров")
    _, page = open_shell(emu.shell_url(portal, APP_ID, user))
    sid = json.loads(page.scripts["b24-shell-config"])["app_sid"]
    old = page.forms[0]["fields"]["AUTH_ID"]
    r = requests.post(f"{emu.url}/p/{portal.domain}/shell/refresh", json={"app_sid": sid}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"AUTH_ID", "REFRESH_ID", "AUTH_EXPIRES"} and body["AUTH_EXPIRES"] == "3600"
    assert body["AUTH_ID"] != old
    token = emu.tokens.check(body["AUTH_ID"], portal.domain)
    assert (token.user_id, token.client_id) == (user, APP_ID)
    assert emu.requests["shell/refresh"] == 1

    bad = requests.post(f"{emu.url}/p/{portal.domain}/shell/refresh", json={"app_sid": "nope"}, timeout=10)
    assert bad.status_code == 403
    emu.uninstall(portal, APP_ID)
    gone = requests.post(f"{emu.url}/p/{portal.domain}/shell/refresh", json={"app_sid": sid}, timeout=10)
    assert gone.status_code == 403


@pytest.mark.parametrize("change, status", [
    ({"domain": "nowhere.bitrix24.test"}, 404),
    ({"client_id": "app.unknown"}, 404),
    ({"user_id": "99"}, 403),
    ({"user_id": "x"}, 400),
    ({"placement": "CRM_DEAL_DETAIL_TAB"}, 404),     # not bound
    ({"options": "{not json"}, 400),
    ({"lang": "de"}, 400),
])
def test_errors(emu, portal, app, tokens, change, status):
    query = {"client_id": APP_ID, "user_id": "1", "placement": "DEFAULT", "lang": "ru"}
    domain = change.pop("domain", portal.domain)
    query.update(change)
    r = requests.get(f"{emu.url}/p/{domain}/shell", params=query, timeout=10)
    assert r.status_code == status, r.text
    assert "<form" not in r.text


def test_not_installed_and_removed_apps_are_404(emu, portal, app):
    r = requests.get(emu.shell_url(portal, APP_ID, 1), timeout=10)
    assert r.status_code == 404
    emu.grant_tokens(portal, APP_ID)
    emu.uninstall(portal, APP_ID)
    assert requests.get(emu.shell_url(portal, APP_ID, 1), timeout=10).status_code == 404
