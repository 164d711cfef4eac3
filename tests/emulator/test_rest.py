"""The REST front door: request formats, auth, errors, shapes of the small methods."""
from __future__ import annotations

import requests

from .conftest import APP_ID, TIME_KEYS, assert_shape, call, example


def test_every_answer_has_the_documented_time_block(portal, hook):
    body = call(hook, "server.time").json()
    assert set(body["time"]) == TIME_KEYS
    assert_shape(body, example("server.time.json") | {"time": example("time-object.json")["time"]})
    assert body["result"].endswith("+03:00")   # server time with the portal's offset (facts §9)


def test_json_form_get_and_dot_json_all_reach_the_method(portal, hook):
    for http in ("json", "form", "get"):
        body = call(hook, "user.get", {"filter": {"ID": 1}}, http=http).json()
        assert [u["ID"] for u in body["result"]] == ["1"], http
    assert requests.get(hook + "profile.json", timeout=5).json()["result"]["ID"] == "1"


def test_unknown_method_is_404_method_not_found(portal, hook):
    r = call(hook, "crm.deal.fly")
    assert r.status_code == 404
    assert r.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def test_bad_token_and_bad_webhook_secret_are_401_no_auth_found(emu, portal, tokens):
    r = call(portal.client_endpoint, "profile", auth="nonsense")
    assert (r.status_code, r.json()["error"]) == (401, "NO_AUTH_FOUND")
    r = requests.post(f"{portal.client_endpoint}1/wrongsecret/profile", timeout=5)
    assert (r.status_code, r.json()["error"]) == (401, "NO_AUTH_FOUND")


def test_expire_tokens_gives_expired_token(emu, portal, tokens):
    assert call(portal.client_endpoint, "profile", auth=tokens["access_token"]).status_code == 200
    emu.expire_tokens(portal)
    r = call(portal.client_endpoint, "profile", auth=tokens["access_token"])
    assert r.status_code == 401
    assert r.json() == {"error": "expired_token", "error_description": "The access token provided has expired."}


def test_app_context_methods_refuse_webhooks(portal, hook):
    wrong = example("placement.error.WRONG_AUTH_TYPE.json")
    for method, params in (("placement.bind", {"PLACEMENT": "CRM_COMPANY_DETAIL_TAB", "HANDLER": "https://a.b/"}),
                           ("event.bind", {"event": "ONTASKADD", "handler": "https://a.b/"}),
                           ("event.offline.get", {})):
        r = call(hook, method, params)
        assert (r.status_code, r.json()) == (403, wrong), method
    # im.notify.* explicitly allows webhooks (im-notify-system-add.md).
    assert call(hook, "im.notify.system.add", {"USER_ID": 1, "MESSAGE": "hi"}).status_code == 200


def test_missing_scope_is_403_insufficient_scope(emu, portal, receiver):
    emu.register_app("app.taskonly", "s", receiver.url, scope="task")
    token = emu.grant_tokens(portal, "app.taskonly")["access_token"]
    r = call(portal.client_endpoint, "crm.company.list", auth=token)
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    assert call(portal.client_endpoint, "task.elapseditem.getlist", [], auth=token).status_code == 200


def test_profile_app_info_and_users_have_the_documented_shapes(portal, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    assert_shape(call(ep, "profile", auth=tok).json()["result"], example("profile.json")["result"])
    info = call(ep, "app.info", auth=tok).json()["result"]
    assert_shape(info, example("app.info.json")["result"])
    assert info["INSTALLED"] is True and info["LICENSE_FAMILY"] == "basic"
    portal.add_user("Анна", "Орлова")
    documented = example("user.get.json")
    full = call(portal.webhook(1), "user.get").json()   # a webhook has every user scope
    assert_shape({k: full[k] for k in ("result", "total")}, {k: documented[k] for k in ("result", "total")})
    brief = call(ep, "user.get", auth=tok).json()["result"][0]   # the app asked for user_brief only
    assert set(brief) == set(documented["result"][0]) - {"EMAIL"}
    current = call(ep, "user.current", auth=tok).json()["result"]
    assert set(example("user.current.json")["result"]) - {"EMAIL"} <= set(current)


def test_user_get_filters_and_pages(portal, hook):
    for i in range(60):
        portal.add_user(f"Сотрудник{i}", user_type="extranet" if i % 10 == 0 else "employee")
    first = call(hook, "user.get").json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, 61, 50)
    second = call(hook, "user.get", {"start": 50}).json()
    assert len(second["result"]) == 11 and "next" not in second
    nocount = call(hook, "user.get", {"start": -1}).json()
    assert "total" not in nocount and len(nocount["result"]) == 50
    extranet = call(hook, "user.get", {"filter": {"USER_TYPE": "extranet"}}).json()
    assert extranet["total"] == 6
    old_style = call(hook, "user.get", {"ID": 2}).json()
    assert [u["ID"] for u in old_style["result"]] == ["2"]


def test_crm_companies_and_groups(portal, hook):
    a = portal.add_company("ООО «Ромашка»")
    portal.add_company("АО «Вектор»")
    g = portal.add_group("Ромашка — сопровождение", members=[1])
    body = call(hook, "crm.company.list", {"filter": {"%TITLE": "Ромашка"}, "select": ["ID", "TITLE"]}).json()
    assert body["result"] == [{"ID": str(a), "TITLE": "ООО «Ромашка»"}] and body["total"] == 1
    assert call(hook, "crm.company.get", {"id": a}).json()["result"]["TITLE"] == "ООО «Ромашка»"
    missing = call(hook, "crm.company.get", {"id": 999})
    assert (missing.status_code, missing.json()) == (400, {"error": "", "error_description": "Not found"})
    groups = call(hook, "sonet_group.get", {"FILTER": {"ID": g}}).json()
    assert groups["result"][0]["NAME"] == "Ромашка — сопровождение" and groups["total"] == 1


def test_messages_are_recorded_and_empty_message_refused(emu, portal, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    r = call(ep, "im.message.add", {"DIALOG_ID": "sg5", "MESSAGE": "Отчёт за неделю"}, auth=tok)
    assert_shape(r.json(), example("im.message.add.json"))
    assert_shape(call(ep, "im.notify.personal.add", {"USER_ID": 1, "MESSAGE": "80 %"}, auth=tok).json(),
                 example("im.notify.personal.add.json"))
    empty = call(ep, "im.message.add", {"DIALOG_ID": "1", "MESSAGE": " "}, auth=tok)
    assert (empty.status_code, empty.json()) == (400, example("im.message.add.error.MESSAGE_EMPTY.json"))
    assert [m["method"] for m in emu.messages] == ["im.message.add", "im.notify.personal.add"]
    assert emu.messages[0]["params"]["MESSAGE"] == "Отчёт за неделю"


def test_placements(emu, portal, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    bind = {"PLACEMENT": "CRM_COMPANY_DETAIL_TAB", "HANDLER": "https://hourbook.example/widget", "TITLE": "Часы"}
    assert_shape(call(ep, "placement.bind", bind, auth=tok).json(), example("placement.bind.json"))
    again = call(ep, "placement.bind", bind, auth=tok)
    assert again.status_code == 400 and again.json()["error"] == "ERROR_CORE"
    missing = call(ep, "placement.bind", {"HANDLER": "https://hourbook.example/w"}, auth=tok)
    assert missing.json() == example("placement.bind.error.ERROR_ARGUMENT.json")
    got, documented = call(ep, "placement.get", auth=tok).json(), example("placement.get.json")
    # langAll is keyed by language: compare the entry, not the key.
    assert_shape(got["result"][0]["langAll"].pop("ru"), documented["result"][0]["langAll"].pop("de"))
    assert_shape(got, documented)
    assert "CRM_COMPANY_DETAIL_TAB" in call(ep, "placement.list", auth=tok).json()["result"]
    url, form = emu.open_frame(portal, APP_ID, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "11"})
    assert url.startswith("https://hourbook.example/widget?DOMAIN=romashka.bitrix24.test&PROTOCOL=0")
    assert form["PLACEMENT_OPTIONS"] == '{"ID":"11"}'
    assert_shape(call(ep, "placement.unbind", {"PLACEMENT": "CRM_COMPANY_DETAIL_TAB"}, auth=tok).json(),
                 example("placement.unbind.json"))


def test_non_admin_gets_access_denied_for_admin_methods(emu, portal, app):
    user = portal.add_user("Дмитрий", "Кузнецов")
    tok = emu.grant_tokens(portal, APP_ID, user)["access_token"]
    r = call(portal.client_endpoint, "event.offline.get", auth=tok)
    assert (r.status_code, r.json()) == (403, example("event.offline.error.ACCESS_DENIED.json"))


def test_concurrent_requests_are_all_served(emu, portal, hook):
    import concurrent.futures

    task = portal.add_task("Параллельно", 1)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: call(hook, "task.elapseditem.add",
                                             [task, {"SECONDS": 60, "COMMENT_TEXT": str(i)}]).status_code,
                              range(40)))
    assert codes == [200] * 40
    assert len(portal.records()) == 40 and emu.requests["task.elapseditem.add"] == 40
