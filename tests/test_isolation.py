"""Isolation between portals (issue 7): a request authenticated for one
portal can neither read nor change another's data — widget, manager pages
and forms, reports, cabinet links, JSON — and a row of another account is
answered as if it did not exist. Two portals: A (an integrator's, several
accounts) and B (a client's), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.cabinet import link_token
from ledger.access import create_cabinet_link
from ledger.contracts import add_cap, add_direction
from ledger.models import Account, CabinetLink, Cap, Direction
from reports.models import SentReport
from tests.pages import world_fixture

world = world_fixture("sqlite", "postgresql")
H = 3600


@pytest.fixture(scope="module")
def b_rows(world):
    """Rows of portal B's account that portal A's manager must never reach."""
    with world.session() as s, s.begin():
        account = s.get(Account, world.accounts["client"])
        direction = add_direction(s, account, "Воронки", planned_s=10 * H, match_kind="tag", match_value="crm",
                                  actor="test")
        cap = add_cap(s, account, scope="direction", ref_id=direction.id, limit_s=5 * H, actor="test")
        link = create_cabinet_link(s, account, actor="test", label="B")
        report = SentReport(key="manual:isolation", account_id=account.id, week="2026-W47", data="{}",
                            digest="0" * 64, requested_by="test", status="sent")
        s.add(report)
        s.flush()
        return {"direction": direction.id, "cap": cap.id, "link": link.id, "report": report.id,
                "account": account.id}


READS = ("/widget/{b}", "/widget/{b}/part", "/app/account/{b}", "/app/report/{r}", "/app/report/{r}.xlsx",
         "/app/calculator?plan=10&price=1000&account={b}")


@pytest.mark.parametrize("path", READS)
def test_portal_a_cannot_read_portal_b(world, b_rows, path):
    token = world.token(world.p, 1)  # portal A's administrator
    before = world.snapshot()
    url = path.format(b=b_rows["account"], r=b_rows["report"])
    response = world.get(url, token)
    assert response.status_code == 404, (url, response.status_code)
    assert "ООО «Клиент»" not in response.text
    assert world.snapshot() == before


ACTIONS = {
    "adjust": {"amount": "5", "reason": "чужой"},
    "settings": {"name": "Взлом", "language": "ru"},
    "contract_retainer": {"tariff": "40", "price": "1"},
    "team_add": {"user_id": "1", "role": "support", "scope": "account"},
    "plan_add": {"name": "x", "planned": "1", "match_kind": "tag", "match_value": "x"},
    "access_create": {"label": "x"},
    "access_recipientadd": {"email": "x@example.com"},
    "report_send": {"week": "2026-W47"},
    "report_settings": {"send_hour": "9", "alert_days": "5"},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_portal_a_cannot_change_portal_b(world, b_rows, action):
    token = world.token(world.p, 1)
    before = world.snapshot()
    response = world.post(f"/app/account/{b_rows['account']}/{action}", token, ACTIONS[action])
    assert response.status_code == 404
    assert world.snapshot() == before


ROW_FORMS = {
    "plan_remove": ("direction_id", "direction"), "plan_update": ("direction_id", "direction"),
    "plan_capremove": ("cap_id", "cap"), "access_revoke": ("link_id", "link"),
    "access_rotate": ("link_id", "link"), "report_resend": ("report_id", "report"),
}


@pytest.mark.parametrize("action", sorted(ROW_FORMS))
def test_portal_b_rows_named_through_an_own_account_are_not_found(world, b_rows, action):
    """Portal A's manager on their own account, naming portal B's row ids."""
    token = world.token(world.p, 1)
    field, row = ROW_FORMS[action]
    data = {field: str(b_rows[row]), "name": "x", "planned": "1", "match_kind": "tag", "match_value": "x"}
    before = world.snapshot()
    response = world.post(f"/app/account/{world.accounts['calm']}/{action}", token, data)
    assert response.status_code == 400
    assert world.snapshot() == before
    with world.session() as s:
        assert s.get(Direction, b_rows["direction"]) is not None and s.get(Cap, b_rows["cap"]) is not None
        assert s.get(CabinetLink, b_rows["link"]).revoked_at is None


def test_a_client_user_of_portal_b_sees_only_portal_b(world, b_rows):
    response = world.open(world.pb, world.users["b_employee"], "DEFAULT")
    assert response.status_code == 200
    assert "ООО «Клиент»" in response.text
    for name in ("ООО «Ромашка»", "АО «Вектор»", "ИП Соколова"):
        assert name not in response.text


def test_a_token_of_portal_b_does_not_open_portal_a(world, b_rows):
    token = world.token(world.pb, world.users["b_admin"])
    for path in (f"/widget/{world.accounts['romashka']}", f"/app/account/{world.accounts['romashka']}",
                 f"/widget/{world.accounts['romashka']}/part"):
        assert world.get(path, token).status_code == 404


def test_a_cabinet_link_shows_its_own_account_only(world, b_rows):
    with world.session() as s:
        link = s.get(CabinetLink, b_rows["link"])
        with world.app.app_context():
            token = link_token(link)
    page = world.get(f"/cabinet/{token}")
    data = world.get(f"/cabinet/{token}.json").json()
    assert page.status_code == 200 and "ООО «Клиент»" in page.text and "Ромашка" not in page.text
    assert data["account"]["id"] == b_rows["account"]
    # the same nonce under another link's id is nobody's link
    with world.session() as s:
        other = s.execute(select(CabinetLink).where(CabinetLink.id != link.id)).scalars().first()
    if other is not None:
        with world.app.app_context():
            from itsdangerous import URLSafeSerializer

            forged = URLSafeSerializer(world.app.config["SECRET_KEY"], salt="hourbook.cabinet").dumps(
                [other.id, link.nonce])
        assert world.get(f"/cabinet/{forged}").status_code == 404


def test_tokens_never_reach_logs_or_error_pages(world, caplog):
    """A refused frame, a refused event and a bad token: the answer and the
    log name no token or secret."""
    import logging

    caplog.set_level(logging.DEBUG)
    secret = "forged-access-token-0123456789"
    refused = world.open(world.p, 1, "DEFAULT", AUTH_ID=secret)
    assert refused.status_code == 403 and secret not in refused.text
    bad = world.get(f"/app/account/{world.accounts['calm']}", "not-a-token-" + secret)
    assert bad.status_code == 403 and secret not in bad.text
    event = world.post("/events", None, {"event": "ONTASKUPDATE", "data[FIELDS_AFTER][ID]": "1",
                                        "auth[application_token]": secret, "auth[member_id]": world.p.member_id})
    assert event.status_code in (401, 403) and secret not in event.text
    port = world.url.rsplit(":", 1)[1]
    ours = [r.getMessage() for r in caplog.records
            if r.name != "werkzeug"  # the test server's own request log (`serve` logs paths only)
            and not (r.name.startswith("urllib3") and f":{port} " in r.getMessage())]  # this test's requests
    assert not [line for line in ours if secret in line]
    for response in (refused, bad, event):
        headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert secret not in headers
    # frame pages: framed by the portal only, nothing loaded from elsewhere
    page = world.open(world.p, 1, "DEFAULT")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors https://" + world.p.domain in csp and "default-src 'self'" in csp
    assert page.headers.get("X-Frame-Options") is None and page.headers["X-Content-Type-Options"] == "nosniff"
