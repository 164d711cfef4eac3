"""What bad input gets on every frame route (PRODUCT.md, "What bad input
gets"): a clear 4xx, never a 500, and not one row of any table changed.

The entry POSTs (/widget, /app, /frame/renew) are checked against what the
portal sends (the emulator's own frame POST, then broken one field at a
time); the pages behind them against missing, tampered, expired and
foreign frame tokens, other portals' accounts, users who may not manage,
unknown actions and fields of the wrong type."""
from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from handlers.manager import ACCOUNT_ACTIONS, PORTAL_ACTIONS
from tests.live import CLIENT_ID
from tests.pages import SECRET_KEY, page_text, world_fixture

world = world_fixture("sqlite", "postgresql")

# ---------------------------------------------------------------- bugs found, fixed, kept as regression cases
# Each case once failed as its reason says; `bug()` marked it strict xfail
# until the fix. The reasons stay as the record of what each case guards.

UNICODE_DIGITS = ("str.isdigit() accepts Unicode digits such as '²' that int() refuses: ValueError → 500 "
                  "(handlers/fields.py Form.integer, handlers/manager.py _with_user_name, handlers/frames.py "
                  "entity_id)")
DEEP_JSON = ("handlers/frames.py entity_id: json.loads of a deeply nested PLACEMENT_OPTIONS raises RecursionError, "
             "which is not a ValueError → 500")
UNICODE_DIGITS_STORED = ("handlers/manager.py _report_settings checks notify_user_ids and chat_dialog with str.isdigit(), "
                         "which accepts '²': the setting is saved (303) and the report job cannot use it")
NUL_PG = ("PostgreSQL: a NUL character in a form field reaches the database ('PostgreSQL text fields cannot contain "
          "NUL (0x00) bytes', psycopg DataError) → 500")
NUL_TEXT = ("a NUL character in a text field is accepted: stored as is on SQLite (303), DataError → 500 on "
            "PostgreSQL; fields.Form.text does not refuse control characters")
NON_UTF8 = ("a text field that is not UTF-8 is decoded with U+FFFD replacement characters (werkzeug) and saved: "
            "the broken adjustment reason is written (303) instead of refused")
BIG_ID_PG = ("PostgreSQL: primary keys are INTEGER (int4) but Form.integer allows ids up to 10**12 and the URL's "
             "<int:…> is unbounded; session.get(Model, id > 2**31-1) raises 'integer out of range' → 500")
HUGE_URL_ID = ("an account id in the URL beyond the database's integer (werkzeug's int converter is unbounded): "
               "SQLite OverflowError, PostgreSQL 'integer out of range' → 500")


def bug(request, world, reasons: dict[str, str]) -> None:
    """Fixed: the case must pass on every database now."""


def both(reason: str) -> dict[str, str]:
    return {"sqlite": reason, "postgresql": reason}


def refused(world, response, status: int | tuple[int, ...], before) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, page_text(response.text)[:300])
    assert "Traceback" not in response.text
    assert world.snapshot() == before


# ---------------------------------------------------------------- tokens made here


def _frame_data(token: str) -> dict:
    return URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame").loads(token)


def expired_token(token: str, age_s: int = 3601) -> str:
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame", signer=Past).dumps(_frame_data(token))


def forged_tokens(token: str) -> dict[str, str]:
    data = _frame_data(token)
    promoted = {**data, "admin": True, "manager": True}
    payload, stamp, signature = token.rsplit(".", 2)
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    return {
        "none": "",
        "garbage": "not-a-token",
        "tampered payload": f"{flipped}.{stamp}.{signature}",
        "tampered signature": f"{payload}.{stamp}.{signature[:-2]}xx",
        "another key": URLSafeTimedSerializer("someone else's key", salt="hourbook.frame").dumps(promoted),
        "another salt": URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.cabinet").dumps(data),
        "expired": expired_token(token),
        "overlong": token + "x" * 2100,
    }


# ---------------------------------------------------------------- the entry POSTs


ENTRY_ROUTES = {
    "widget": ("/widget", "CRM_COMPANY_DETAIL_TAB"),
    "app": ("/app", "DEFAULT"),
}


def entry_case(world, case: str) -> tuple[dict, dict]:
    """(form changes, extra request options) for a broken entry POST."""
    other_portal_auth = world.emu.open_frame(world.pb, CLIENT_ID, 1, "DEFAULT")[1]["AUTH_ID"]
    cases = {
        "no member_id": {"member_id": None},
        "no AUTH_ID": {"AUTH_ID": None},
        "empty member_id": {"member_id": ""},
        "unknown member_id": {"member_id": "0" * 32},
        "overlong member_id": {"member_id": "a" * 65},
        "overlong PLACEMENT": {"PLACEMENT": "CRM_" + "X" * 100},
        "forged AUTH_ID": {"AUTH_ID": "f" * 32},
        "overlong AUTH_ID": {"AUTH_ID": "f" * 600},
        "another app's AUTH_ID": {"AUTH_ID": world.other_app_token},
        "another portal's AUTH_ID": {"AUTH_ID": other_portal_auth},
        "this AUTH_ID, another portal's member_id": {"member_id": world.pb.member_id},
        "options not JSON": {"PLACEMENT_OPTIONS": "{ID: 11"},
        "options ID letters": {"PLACEMENT_OPTIONS": '{"ID":"abc"}'},
        "options ID negative": {"PLACEMENT_OPTIONS": '{"ID":"-11"}'},
        "options ID huge": {"PLACEMENT_OPTIONS": '{"ID":"' + "9" * 30 + '"}'},
        "options ID object": {"PLACEMENT_OPTIONS": '{"ID":{"$gt":0}}'},
        "options ID unicode digit": {"PLACEMENT_OPTIONS": '{"ID":"²"}'},
        "options deeply nested": {"PLACEMENT_OPTIONS": "[" * 100_000 + "]" * 100_000},
        "member_id with NUL": {"member_id": world.p.member_id[:10] + "\x00"},
        "member_id not UTF-8": {"member_id": b"\xff\xfe" + world.p.member_id.encode()},
    }
    return cases[case]


ENTRY_EXPECTED = {
    "no member_id": 400, "no AUTH_ID": 400, "empty member_id": 400, "unknown member_id": 403,
    "overlong member_id": 400, "overlong PLACEMENT": 400, "forged AUTH_ID": 403, "overlong AUTH_ID": 403,
    "another app's AUTH_ID": 403, "another portal's AUTH_ID": 403, "this AUTH_ID, another portal's member_id": 403,
    "options not JSON": 400, "options ID letters": 400, "options ID negative": 400, "options ID huge": 400,
    "options ID object": 400, "options ID unicode digit": 400, "options deeply nested": 400,
    "member_id with NUL": (400, 403), "member_id not UTF-8": (400, 403),
}
ENTRY_BUGS = {
    "options ID unicode digit": both(UNICODE_DIGITS),
    "options deeply nested": both(DEEP_JSON),
    "member_id with NUL": {"postgresql": NUL_PG},
}


@pytest.mark.parametrize("route", sorted(ENTRY_ROUTES))
@pytest.mark.parametrize("case", list(ENTRY_EXPECTED))
def test_a_broken_entry_post_is_refused(world, route, case, request):
    bug(request, world, ENTRY_BUGS.get(case, {}))
    path, placement = ENTRY_ROUTES[route]
    before = world.snapshot()
    changes = entry_case(world, case)
    response = world.open(world.p, 1, placement, {"ID": str(world.companies["romashka"])}, path=path, **changes)
    refused(world, response, ENTRY_EXPECTED[case], before)
    assert "hb-token" not in response.text  # no frame token for a request the portal did not vouch for
    assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")


@pytest.mark.parametrize("case", ["no member_id", "unknown member_id", "forged AUTH_ID", "another app's AUTH_ID",
                                  "another portal's AUTH_ID", "options not JSON"])
def test_a_broken_renewal_is_refused(world, case):
    token = world.token()
    before = world.snapshot()
    _, form = world.emu.open_frame(world.p, CLIENT_ID, 1, "DEFAULT")
    for key, value in entry_case(world, case).items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    response = world.post("/frame/renew", None, form, headers={"X-Hourbook-Token": token})
    refused(world, response, ENTRY_EXPECTED[case], before)
    assert "token" not in response.json()


@pytest.mark.parametrize("route", sorted(ENTRY_ROUTES))
@pytest.mark.parametrize("how", ["json", "text", "oversized", "get"])
def test_an_entry_request_of_the_wrong_shape_is_refused(world, route, how):
    import requests

    path, placement = ENTRY_ROUTES[route]
    url, form = world.emu.open_frame(world.p, CLIENT_ID, 1, placement, {"ID": str(world.companies["romashka"])})
    url = world.url + path + url[url.index("?"):]
    before = world.snapshot()
    if how == "json":
        response, expected = requests.post(url, json=form, timeout=30), 400
    elif how == "text":
        body = "&".join(f"{k}={v}" for k, v in form.items())
        response, expected = requests.post(url, data=body.encode(), headers={"Content-Type": "text/plain"},
                                           timeout=30), 400
    elif how == "oversized":
        response, expected = requests.post(url, data={**form, "pad": "x" * (1024 * 1024 + 1)}, timeout=30), 413
    else:
        response, expected = requests.get(url, params=form, timeout=30), 405
    refused(world, response, expected, before)


# ---------------------------------------------------------------- the frame token


def token_routes(world) -> list[tuple[str, str, dict | None]]:
    a = world.accounts["romashka"]
    return [
        ("GET", f"/widget/{a}", None),
        ("GET", f"/widget/{a}/part", None),
        ("GET", "/app/home", None),
        ("GET", f"/app/account/{a}", None),
        ("GET", "/app/calculator", None),
        ("POST", "/app/portal/time_zone", {"time_zone": "UTC"}),
        ("POST", f"/app/account/{a}/adjust", {"amount": "100", "reason": "подделка"}),
        ("POST", f"/app/account/{a}/access_create", {"label": "подделка"}),
        ("POST", "/frame/renew", None),
    ]


@pytest.mark.parametrize("kind", ["none", "garbage", "tampered payload", "tampered signature", "another key",
                                  "another salt", "expired", "overlong"])
def test_pages_refuse_a_missing_or_bad_frame_token(world, kind):
    token = forged_tokens(world.token())[kind]
    before = world.snapshot()
    for method, path, form in token_routes(world):
        for where in ("query", "header", "form") if method == "POST" else ("query", "header"):
            headers = {"X-Hourbook-Token": token} if where == "header" and token else {}
            if method == "GET":
                response = world.get(path, token if where == "query" and token else None, headers=headers)
            else:
                data = dict(form or {})
                if where == "form" and token:
                    data["_t"] = token
                params = {"t": token} if where == "query" and token else {}
                response = world.post(path, None, data, headers=headers, params=params)
            assert response.status_code == 403, (method, path, where, response.status_code)
            if kind == "expired" and where == "query":
                assert world.msg("This page has been open too long. Reopen it from your portal.") in \
                    page_text(response.text)
    assert world.snapshot() == before


def test_a_token_just_under_an_hour_old_still_works(world):
    token = expired_token(world.token(), age_s=3500)
    assert world.get(f"/widget/{world.accounts['romashka']}/part", token).status_code == 200


@pytest.mark.parametrize("direction", ["A on B", "B on A"])
def test_a_portals_token_opens_no_other_portals_account(world, direction):
    if direction == "A on B":
        token, account = world.token(world.p, 1), world.accounts["client"]
    else:
        token, account = world.token(world.pb, 1), world.accounts["romashka"]
    before = world.snapshot()
    for method, path in (("GET", f"/widget/{account}"), ("GET", f"/widget/{account}/part"),
                         ("GET", f"/app/account/{account}")):
        assert world.get(path, token).status_code == 404, path
    assert world.get("/app/calculator", token, params={"account": str(account)}).status_code == 404
    for action in sorted(ACCOUNT_ACTIONS):
        response = world.post(f"/app/account/{account}/{action}", token, {"amount": "5", "reason": "чужой"})
        assert response.status_code == 404, action
    refused(world, world.get("/widget/999999", token), 404, before)


def _plain_users(world):
    pm = world.token(world.p, world.users["pm"], "CRM_COMPANY_DETAIL_TAB", {"ID": str(world.companies["romashka"])})
    employee = world.token(world.pb, world.users["b_employee"])
    return {"integrator's staff": (pm, world.accounts["romashka"]),
            "client's employee": (employee, world.accounts["client"])}


@pytest.mark.parametrize("who", ["integrator's staff", "client's employee"])
def test_a_user_who_may_not_manage_changes_nothing(world, who):
    token, account = _plain_users(world)[who]
    before = world.snapshot()
    for action in sorted(ACCOUNT_ACTIONS):
        response = world.post(f"/app/account/{account}/{action}", token,
                              {"amount": "100", "reason": "сам себе", "name": "Взлом", "user_id": "5",
                               "tariff": "120", "price": "1", "label": "x", "email": "a@b.test"})
        assert response.status_code == 403, action
    for action in sorted(PORTAL_ACTIONS):
        response = world.post(f"/app/portal/{action}", token,
                              {"mode": "client", "time_zone": "UTC", "user_id": "5", "name": "Взлом",
                               "company_id": "999", "manager_id": "1"})
        assert response.status_code == 403, action
    for path in ("/app/home", f"/app/account/{account}", "/app/calculator"):
        assert world.get(path, token).status_code == 403, path
    assert world.snapshot() == before


def test_unknown_actions_and_accounts_are_not_found(world):
    token = world.token()
    a = world.accounts["romashka"]
    before = world.snapshot()
    for path in (f"/app/account/{a}/drop", f"/app/account/{a}/__class__", f"/app/account/{a}/ADJUST",
                 "/app/portal/drop", "/app/portal/manager_addd", "/app/account/999999/adjust",
                 "/app/account/0/adjust"):
        response = world.post(path, token, {"amount": "5", "reason": "x"})
        assert response.status_code == 404, path
    for path in ("/widget/999999", "/widget/999999/part", "/app/account/999999"):
        assert world.get(path, token).status_code == 404, path
    for path in (f"/app/account/{a}/adjust/more", "/app/account/-1/adjust", "/app/account/abc"):
        assert world.post(path, token, {}).status_code in (404, 405), path
    assert world.snapshot() == before


@pytest.mark.parametrize("path, bugs", [
    ("/widget/2147483648", {"postgresql": BIG_ID_PG}),
    ("/widget/2147483648/part", {"postgresql": BIG_ID_PG}),
    ("/app/account/2147483648", {"postgresql": BIG_ID_PG}),
    ("/widget/" + "9" * 25, both(HUGE_URL_ID)),
    ("/app/account/" + "9" * 25, both(HUGE_URL_ID)),
])
def test_an_account_id_beyond_any_account_is_not_found(world, path, bugs, request):
    bug(request, world, bugs)
    token = world.token()
    before = world.snapshot()
    refused(world, world.get(path, token), 404, before)


@pytest.mark.parametrize("bugs", [both(HUGE_URL_ID)])
def test_an_action_on_an_account_id_beyond_any_account_is_not_found(world, bugs, request):
    bug(request, world, bugs)
    token = world.token()
    before = world.snapshot()
    refused(world, world.post("/app/account/" + "9" * 25 + "/adjust", token, {"amount": "5", "reason": "x"}), 404,
            before)


# ---------------------------------------------------------------- fields of the wrong type


BIG = "Я" * 300
FIELD_CASES = [
    # (id, action, form, bugs by database)
    ("letters in hours", "adjust", {"amount": "пять", "reason": "x"}, {}),
    ("1e9 hours", "adjust", {"amount": "1e9", "reason": "x"}, {}),
    ("a billion hours", "adjust", {"amount": "1000000000", "reason": "x"}, {}),
    ("hours past the limit", "adjust", {"amount": "999999999", "reason": "x"}, {}),
    ("fraction of a second", "adjust", {"amount": "0.0001", "reason": "x"}, {}),
    ("hours as an expression", "adjust", {"amount": "5+5", "reason": "x"}, {}),
    ("zero hours", "adjust", {"amount": "0", "reason": "x"}, {}),
    ("no reason", "adjust", {"amount": "5", "reason": "   "}, {}),
    ("reason too long", "adjust", {"amount": "5", "reason": "x" * 1001}, {}),
    ("a 900 KB reason", "adjust", {"amount": "5", "reason": "x" * 900_000}, {}),
    ("negative plan", "plan_add", {"name": "X", "planned": "-5", "match_kind": "tag", "match_value": "crm"}, {}),
    ("negative cap", "plan_capadd", {"scope": "task", "task_id": "101", "limit": "-1", "per": "period"}, {}),
    ("cap on nothing", "plan_capadd", {"scope": "everything", "limit": "5", "per": "period"}, {}),
    ("negative tariff", "contract_retainer", {"tariff": "custom", "hours": "-40", "price": "1000"}, {}),
    ("tariff not offered", "contract_retainer", {"tariff": "abc", "price": "1000"}, {}),
    ("negative budget", "contract_upfront", {"budget": "-1", "price": "1000"}, {}),
    ("price with letters", "contract_upfront", {"budget": "10", "price": "сто"}, {}),
    ("price NaN", "contract_upfront", {"budget": "10", "price": "NaN"}, {}),
    ("price Infinity", "contract_upfront", {"budget": "10", "price": "Infinity"}, {}),
    ("price too large", "contract_upfront", {"budget": "10", "price": "1e20"}, {}),
    ("month 13", "team_add", {"user_id": "777100", "role": "support", "scope": "account",
                              "active_from": "2026-13-40"}, {}),
    ("30 February", "contract_retainer", {"tariff": "40", "price": "1", "starts_on": "2026-02-30"}, {}),
    ("date in another format", "contract_retainer", {"tariff": "40", "price": "1", "starts_on": "01.12.2026"}, {}),
    ("letters in a number", "settings_bind", {"kind": "group", "ref_id": "12abc"}, {}),
    ("negative number", "settings_bind", {"kind": "group", "ref_id": "-12"}, {}),
    ("number too long", "settings_bind", {"kind": "group", "ref_id": "1" * 20}, {}),
    ("unicode digit in a number", "settings_bind", {"kind": "group", "ref_id": "²"}, both(UNICODE_DIGITS)),
    ("unicode digit in a user", "team_add", {"user_id": "²", "role": "support", "scope": "account"},
     both(UNICODE_DIGITS)),
    ("unicode digit in notified users", "report_settings",
     {"weekly": "1", "send_hour": "9", "alert_days": "5", "notify_user_ids": "1,²"}, both(UNICODE_DIGITS_STORED)),
    ("unicode digit in a chat", "report_settings",
     {"weekly": "1", "send_hour": "9", "alert_days": "5", "chat_dialog": "chat²"}, both(UNICODE_DIGITS_STORED)),
    ("unicode digit in an hour", "report_settings", {"weekly": "1", "send_hour": "²", "alert_days": "5"},
     both(UNICODE_DIGITS)),
    ("hour 24", "report_settings", {"weekly": "1", "send_hour": "24", "alert_days": "5"}, {}),
    ("week 60", "report_send", {"week": "2026-W60"}, {}),
    ("week as a date", "report_send", {"week": "2026-11-16"}, {}),
    ("name too long", "settings", {"name": BIG, "language": "ru"}, {}),
    ("email too long", "access_recipientadd", {"email": "a" * 300 + "@test.example"}, {}),
    ("email with a newline", "access_recipientadd", {"email": "a@test.example\nBcc: x@evil.test"}, {}),
    ("stages too long", "contract_staged", {"stages": ("Этап; 1; 1\n" * 600)}, {}),
    ("too many stages", "contract_staged", {"stages": "\n".join(f"Этап {i}; 1; 1" for i in range(51))}, {}),
    ("link for 10 years and more", "access_create", {"valid_days": "3661"}, {}),
    ("hours not UTF-8", "adjust", b"amount=%FF%FE&reason=x", {}),
    ("reason not UTF-8", "adjust", b"amount=5&reason=%FF%FE%FD", both(NON_UTF8)),
    ("NUL in a name", "settings", {"name": "ООО\x00", "language": "ru"}, both(NUL_TEXT)),
    ("stage id beyond int4", "contract_stagepaid", {"stage_id": "99999999999", "paid": "1"},
     {"postgresql": BIG_ID_PG}),
    ("link id beyond int4", "access_revoke", {"link_id": "99999999999"}, {"postgresql": BIG_ID_PG}),
]


@pytest.mark.parametrize("action, form, bugs", [pytest.param(a, f, b, id=i) for i, a, f, b in FIELD_CASES])
def test_a_field_of_the_wrong_type_is_refused(world, action, form, bugs, request):
    bug(request, world, bugs)
    account = world.accounts["calm"]
    token = world.token()
    before = world.snapshot()
    if isinstance(form, bytes):
        response = world.post(f"/app/account/{account}/{action}", None, form + b"&_t=" + token.encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = world.post(f"/app/account/{account}/{action}", token, form)
    refused(world, response, 400, before)


@pytest.mark.parametrize("action, form, bugs", [
    pytest.param("time_zone", {"time_zone": "Europe/" + "x" * 5000}, {}, id="zone too long"),
    pytest.param("time_zone", {"time_zone": "../../etc/passwd"}, {}, id="zone path"),
    pytest.param("mode", {"mode": "1"}, {}, id="mode number"),
    pytest.param("account_add", {"name": BIG, "group_id": "5"}, {}, id="name too long"),
    pytest.param("account_add", {"name": "X", "company_id": "-3"}, {}, id="negative company"),
    pytest.param("account_add", {"name": "X", "company_id": "٣x"}, {}, id="mixed digits"),
    pytest.param("account_add", {"name": "X", "company_id": "²"}, both(UNICODE_DIGITS), id="unicode digit"),
    pytest.param("manager_add", {"user_id": "1.5"}, {}, id="fractional user"),
    pytest.param("manager_add", {"user_id": "²"}, both(UNICODE_DIGITS), id="unicode digit user"),
    pytest.param("manager_remove", {"manager_id": "99999999999"}, {"postgresql": BIG_ID_PG}, id="manager id beyond int4"),
])
def test_a_portal_field_of_the_wrong_type_is_refused(world, action, form, bugs, request):
    bug(request, world, bugs)
    token = world.token()
    before = world.snapshot()
    refused(world, world.post(f"/app/portal/{action}", token, form), 400, before)


@pytest.mark.parametrize("params, bugs", [
    pytest.param({"plan": "1e9", "price": "2500"}, {}, id="1e9 hours"),
    pytest.param({"plan": "160", "price": "2500", "months": "-1"}, {}, id="negative months"),
    pytest.param({"plan": "160", "price": "9" * 40}, {}, id="price too large"),
    pytest.param({"plan": "160", "price": "2500", "account": "x"}, {}, id="account letters"),
    pytest.param({"plan": "160", "price": "2500", "account": "²"}, both(UNICODE_DIGITS), id="account unicode digit"),
    pytest.param({"plan": "160", "price": "2500", "account": "99999999999"}, {"postgresql": BIG_ID_PG},
                 id="account beyond int4"),
])
def test_the_calculator_refuses_fields_of_the_wrong_type(world, params, bugs, request):
    bug(request, world, bugs)
    token = world.token()
    before = world.snapshot()
    response = world.get("/app/calculator", token, params=params)
    refused(world, response, (400, 404), before)


def test_a_form_that_is_not_a_form_is_refused(world):
    import requests

    account = world.accounts["calm"]
    token = world.token()
    before = world.snapshot()
    url = f"{world.url}/app/account/{account}/adjust"
    as_json = requests.post(url, params={"t": token}, json={"amount": "5", "reason": "json"}, timeout=30)
    refused(world, as_json, 400, before)
    huge = requests.post(url, data={"_t": token, "amount": "5", "reason": "x", "pad": "y" * (1024 * 1024 + 1)},
                         timeout=30)
    refused(world, huge, 413, before)
