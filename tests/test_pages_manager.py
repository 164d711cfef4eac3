"""The manager's page: who gets it (administrators, the managers they name),
every action on an account and on the portal (a valid form is saved,
audited with the user's name, and shows in the widget; a refused form is
answered 400 with the message beside the field and writes nothing), and the
tariff calculator."""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ledger import calendar as cal
from ledger.access import add_recipient, create_cabinet_link
from ledger.balance import balance
from ledger.contracts import (
    Policies,
    add_account,
    add_cap,
    add_direction,
    add_team_member,
    set_retainer,
    set_staged,
    set_upfront,
)
from ledger.models import (
    Account,
    AccountBinding,
    Adjustment,
    AuditEvent,
    CabinetLink,
    Cap,
    Contract,
    ContractTerm,
    Direction,
    Manager,
    Period,
    Portal,
    ReportRecipient,
    Stage,
    TeamMember,
)
from ledger.plan import recommend
from tests.pages import (
    H,
    big_value,
    forget_portal_names,
    field_error,
    form_alert,
    form_html,
    frame_token,
    hours,
    page_text,
    world_fixture,
)

world = world_fixture("sqlite", "postgresql")

ADMIN = "Администратор Портала (#1)"
_numbers = itertools.count(1)

# ---------------------------------------------------------------- accounts made for one test


def today(w) -> date:
    from datetime import datetime, timezone

    return cal.local_date(datetime.now(timezone.utc), w.p.time_zone)


def make_account(w, kind: str = "retainer", policies: Policies | None = None) -> int:
    """A fresh client in portal A (bound to a workgroup of its own) with a
    contract begun last month: what the test changes is only its own."""
    n = next(_numbers)
    start = cal.add_months(cal.month_start(today(w)), -1)
    with w.session() as s, s.begin():
        portal = s.get(Portal, w.portal_a)
        account = add_account(s, portal, f"ООО «Тест {n}»", group_ids=(90_000 + n,), actor="test")
        if kind == "retainer":
            set_retainer(s, account, hours_s=40 * H, price_minor=100_000_00, starts_on=start, policies=policies,
                         title="Сопровождение", actor="test")
        elif kind == "staged":
            set_staged(s, account, stages=[("Аудит", 10 * H, 30_000_00), ("Настройка", 20 * H, 60_000_00),
                                           ("Запуск", 5 * H, 15_000_00)], starts_on=start, actor="test")
        elif kind == "upfront":
            set_upfront(s, account, budget_s=30 * H, price_minor=90_000_00, starts_on=start, actor="test")
        return account.id


def with_account(w, account_id: int, make: Callable[[Any, Account], Any]) -> int:
    with w.session() as s, s.begin():
        return make(s, s.get(Account, account_id)).id


def latest_audit(w, account_id: int | None, action: str, portal_id: int | None = None) -> AuditEvent | None:
    with w.session() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action)
        if account_id is not None:
            stmt = stmt.where(AuditEvent.account_id == account_id)
        if portal_id is not None:
            stmt = stmt.where(AuditEvent.portal_id == portal_id)
        return s.execute(stmt.order_by(AuditEvent.id.desc())).scalars().first()


def widget_of(w, account_id: int) -> str:
    response = w.get(f"/widget/{account_id}", w.token())
    assert response.status_code == 200
    return response.text


# ---------------------------------------------------------------- every account action


@dataclass
class Case:
    kind: str  # the contract of the account the valid form is posted to
    valid: Callable[[dict], dict]
    check: Callable[[Any, dict], None]  # (world, ctx): the change is stored, audited and shown
    invalid: Callable[[dict], dict]
    errors: dict[str, tuple]  # field → (message id, kwargs): shown beside the field
    audit: str | None  # the audit event the action writes (None: it only queues a job)
    prepare: Callable[[Any, int], dict] = lambda w, a: {}
    invalid_kind: str | None = None  # another contract for the refused form, when that is what refuses
    hidden: bool = False  # a form of hidden fields only
    alert: tuple | None = None  # a message for the whole form


def _prep_direction(w, a):
    return {"direction": with_account(w, a, lambda s, acc: add_direction(
        s, acc, "Обучение", planned_s=10 * H, match_kind="tag", match_value="обучение", actor="test"))}


def _prep_cap(w, a):
    ctx = _prep_direction(w, a)
    ctx["cap"] = with_account(w, a, lambda s, acc: add_cap(s, acc, scope="direction", ref_id=ctx["direction"],
                                                           limit_s=5 * H, actor="test"))
    return ctx


def _prep_link(w, a):
    other = make_account(w)
    return {"link": with_account(w, a, lambda s, acc: create_cabinet_link(s, acc, actor="test", label="Старая")),
            "foreign_link": with_account(w, other, lambda s, acc: create_cabinet_link(s, acc, actor="test"))}


def _prep_amocrm(w, a):
    """A connected amoCRM account, as the OAuth flow leaves it (tests/test_amocrm.py
    goes through the flow itself), and another client's."""
    from amocrm.models import AmoConnection

    other = make_account(w)

    def make(s, acc):
        conn = AmoConnection(account_id=acc.id, amo_account_id=31_500_000 + acc.id, subdomain=f"client{acc.id}",
                             base_url=f"https://client{acc.id}.amocrm.ru", company_id=40_000_000 + acc.id,
                             company_name="Интегратор", status="ok", refresh_count=0)
        s.add(conn)
        s.flush()
        return conn
    return {"connection": with_account(w, a, make), "foreign_connection": with_account(w, other, make)}


def _check_amocrm_disconnect(w, ctx):
    from amocrm.models import AmoConnection

    with w.session() as s:
        assert s.get(AmoConnection, ctx["connection"]).status == "disconnected"
        assert s.get(AmoConnection, ctx["foreign_connection"]).status == "ok"


def _prep_recipient(w, a):
    return {"recipient": with_account(w, a, lambda s, acc: add_recipient(s, acc, "old@test.example", "Старый",
                                                                          actor="test"))}


def _prep_member(w, a):
    def make(s, acc):
        return add_team_member(s, s.get(Portal, acc.portal_id), 777_002, name="Временный", account=acc,
                               actor="test")
    return {"member": with_account(w, a, make)}


def _prep_stages(w, a):
    with w.session() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == a)).scalars().first()
        return {"stages": [st.id for st in s.execute(select(Stage).where(Stage.contract_id == contract.id)
                                                     .order_by(Stage.position)).scalars()]}


def _check_adjust(w, ctx):
    a = ctx["account"]
    after = w.summary(a)
    assert after.left_s == ctx["before"].left_s + 5 * H  # exactly five hours more
    assert big_value(widget_of(w, a)) == hours(ctx["before"].left_s + 5 * H)
    with w.session() as s:
        adj = s.execute(select(Adjustment).where(Adjustment.account_id == a)).scalar_one()
        assert (adj.amount_s, adj.author, adj.reason) == (5 * H, ADMIN, "Доп. пакет по письму")


def _check_settings(w, ctx):
    with w.session() as s:
        account = s.get(Account, ctx["account"])
        assert (account.name, account.language) == ("ООО «Переименованное»", "en")
    assert "ООО «Переименованное»" in page_text(widget_of(w, ctx["account"]))


def _check_bind(w, ctx):
    with w.session() as s:
        kinds = {(b.kind, b.ref_id) for b in s.execute(select(AccountBinding).where(
            AccountBinding.account_id == ctx["account"])).scalars()}
    assert ("group", 95_000 + ctx["account"]) in kinds


def _check_team_add(w, ctx):
    with w.session() as s:
        member = s.execute(select(TeamMember).where(TeamMember.user_id == 777_001,
                                                    TeamMember.account_id == ctx["account"])).scalar_one()
        assert (member.name, member.role, member.active_from) == ("Внешний Подрядчик", "developer", today(w))


def _check_team_end(w, ctx):
    with w.session() as s:
        assert s.get(TeamMember, ctx["member"]).active_until == today(w)


def _check_plan_add(w, ctx):
    with w.session() as s:
        d = s.execute(select(Direction).where(Direction.account_id == ctx["account"])).scalar_one()
        assert (d.name, d.planned_s, d.match_kind, d.match_value) == ("Интеграции", 20 * H, "tag", "crm")
    text = page_text(widget_of(w, ctx["account"]))
    assert "Интеграции" in text and w.msg("%(spent)s of %(planned)s", spent="0:00", planned="20:00") in text


def _check_plan_update(w, ctx):
    with w.session() as s:
        d = s.get(Direction, ctx["direction"])
        assert (d.name, d.planned_s) == ("Обучение персонала", 12 * H + 30 * 60)
    text = page_text(widget_of(w, ctx["account"]))
    assert "Обучение персонала" in text and "0:00 из 12:30" in text


def _check_plan_remove(w, ctx):
    with w.session() as s:
        assert s.get(Direction, ctx["direction"]) is None
    assert "Обучение" not in page_text(widget_of(w, ctx["account"]))


def _check_cap_add(w, ctx):
    with w.session() as s:
        cap = s.execute(select(Cap).where(Cap.account_id == ctx["account"])).scalar_one()
        assert (cap.scope, cap.ref_id, cap.limit_s, cap.per) == ("direction", ctx["direction"], 8 * H, "period")


def _check_cap_remove(w, ctx):
    with w.session() as s:
        assert s.get(Cap, ctx["cap"]) is None


def _check_link_create(w, ctx):
    with w.session() as s:
        link = s.execute(select(CabinetLink).where(CabinetLink.account_id == ctx["account"])).scalar_one()
        assert link.label == "Бухгалтерия" and link.created_by == ADMIN
        assert round((link.expires_at - link.created_at) / timedelta(days=1)) == 90


def _check_link_rotate(w, ctx):
    with w.session() as s:
        links = list(s.execute(select(CabinetLink).where(CabinetLink.account_id == ctx["account"])
                               .order_by(CabinetLink.id)).scalars())
    assert [(link.id == ctx["link"], link.revoked_at is None, link.label) for link in links] == \
        [(True, False, "Старая"), (False, True, "Старая")]


def _check_link_revoke(w, ctx):
    with w.session() as s:
        assert s.get(CabinetLink, ctx["link"]).revoked_at is not None


def _check_recipient_add(w, ctx):
    with w.session() as s:
        r = s.execute(select(ReportRecipient).where(ReportRecipient.account_id == ctx["account"])).scalar_one()
        assert (r.email, r.name, r.alerts) == ("director@test.example", "Директор", True)


def _check_recipient_remove(w, ctx):
    with w.session() as s:
        assert s.get(ReportRecipient, ctx["recipient"]) is None


def _next_month(w) -> date:
    return cal.add_months(cal.month_start(today(w)), 1)


def _check_retainer(w, ctx):
    with w.session() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == ctx["account"])).scalar_one()
        terms = [(t.effective_on, t.hours_s, t.price_minor) for t in s.execute(
            select(ContractTerm).where(ContractTerm.contract_id == contract.id)
            .order_by(ContractTerm.effective_on)).scalars()]
    assert terms[-1] == (_next_month(w), 80 * H, 200_000_00)  # from the next month (rule 7)
    after = w.summary(ctx["account"])
    assert after.balance.terms.allocation_s == 40 * H and after.left_s == ctx["before"].left_s
    assert "Пакет 40 ч" in page_text(widget_of(w, ctx["account"]))


def _check_staged(w, ctx):
    s = w.summary(ctx["account"])
    assert s.contract_kind == "staged"
    assert [(st.name, st.budget_s, st.price_minor, st.state) for st in s.stages] == [
        ("Аудит", 10 * H, 30_000_00, "current"), ("Настройка", 20 * H + 30 * 60, 60_000_00, "next"),
        ("Запуск", 5 * H, 0, "next")]
    text = page_text(widget_of(w, ctx["account"]))
    assert w.msg("Implementation in stages") in text and "1. Аудит текущий" in text


def _check_upfront(w, ctx):
    s = w.summary(ctx["account"])
    assert (s.contract_kind, s.allocated_s, s.left_s) == ("upfront", 30 * H, 30 * H)
    with w.session() as session:
        contract = session.execute(select(Contract).where(Contract.account_id == ctx["account"],
                                                          Contract.kind == "upfront")).scalar_one()
        term = session.execute(select(ContractTerm).where(ContractTerm.contract_id == contract.id)).scalar_one()
        assert (term.hours_s, term.price_minor, contract.title) == (30 * H, 90_000_50, "Проект")
    markup = widget_of(w, ctx["account"])
    assert w.msg("Project, paid upfront") in page_text(markup) and big_value(markup) == "30 ч"


def _check_stage_paid(w, ctx):
    with w.session() as s:
        assert s.get(Stage, ctx["stages"][0]).paid is True
    row = re.search(r'<tr class="is-current">(.*?)</tr>', widget_of(w, ctx["account"]), re.S).group(1)
    assert "Аудит" in row and f'<span class="hb-badge is-ok">{w.msg("paid")}</span>' in row


def _check_advance(w, ctx):
    """Finished as of the first of this month (the manager was late): the
    stage ended then, and closed now."""
    s = w.summary(ctx["account"])
    assert [st.state for st in s.stages] == ["done", "current", "next"]
    with w.session() as session:
        contract = session.execute(select(Contract).where(Contract.account_id == ctx["account"])).scalar_one()
        done, current = session.execute(select(Period).join(Stage, Stage.id == Period.stage_id).where(
            Stage.contract_id == contract.id).order_by(Stage.position)).scalars().all()
        first = cal.local_midnight(cal.month_start(today(w)), w.p.time_zone)
        assert done.ends_at == current.starts_at == first and done.closed_at > first
    row = re.search(r'<tr class="is-current">(.*?)</tr>', widget_of(w, ctx["account"]), re.S).group(1)
    assert "Настройка" in row


def _check_finish(w, ctx):
    with w.session() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == ctx["account"])).scalar_one()
        assert contract.ends_on == today(w)
    summary = w.summary(ctx["account"])
    assert summary.balance.status == "closed"
    assert w.msg("The period is closed.") in page_text(widget_of(w, ctx["account"]))


def _last_week(w) -> str:
    year, week, _ = (today(w) - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def _queued(w) -> list[tuple]:
    return [(key, args) for key, _func, args in list(w.app.extensions["hourbook"].runner.queue.queue)]


def _check_report_settings(w, ctx):
    from reports.models import ReportSettings

    with w.session() as s:
        rs = s.get(ReportSettings, ctx["account"])
        assert (rs.weekly, rs.send_hour, rs.chat_dialog, rs.notify_user_ids, rs.alert_days, rs.client_alerts) == \
            (True, 10, "chat42", "1,7", 3, False)


def _check_report_send(w, ctx):
    week = _last_week(w)
    assert (f"report-manual-{ctx['account']}-{week}", (ctx["account"], week, ADMIN)) in _queued(w)


def _prep_sent_report(w, a):
    from datetime import datetime, timezone

    from reports.models import SentReport

    def make(s, acc):
        row = SentReport(key=f"manual:test-{acc.id}", account_id=acc.id, week=_last_week(w), data="{}",
                         digest="0" * 64, requested_by="test", status="sent", recipients="old@test.example",
                         sent_at=datetime.now(timezone.utc))
        s.add(row)
        s.flush()
        return row
    return {"report": with_account(w, a, make)}


def _check_report_resend(w, ctx):
    assert (f"report-resend-{ctx['report']}", (ctx["report"], ADMIN)) in _queued(w)


HOURS_MSG = ("Hours as 40, 1.5, 1:30 or 2h 15m.", {})
REQUIRED = ("Required.", {})
CHOOSE = ("Choose one of the options.", {})
NUMBER = ("A whole number.", {})
A_DATE = ("A date.", {})
SUM = ("A sum such as 120000 or 1500.50.", {})

CASES: dict[str, Case] = {
    "amocrm_disconnect": Case(
        "retainer", prepare=_prep_amocrm, valid=lambda c: {"connection_id": str(c["connection"])},
        check=_check_amocrm_disconnect, invalid=lambda c: {"connection_id": str(c["foreign_connection"])},
        errors={}, alert=("This client has no amoCRM account connected.", {}), hidden=True,
        audit="amocrm.disconnect"),
    "adjust": Case(
        "retainer", valid=lambda c: {"amount": "5", "reason": "Доп. пакет по письму"}, check=_check_adjust,
        invalid=lambda c: {"amount": "пять", "reason": ""}, errors={"amount": HOURS_MSG, "reason": REQUIRED},
        audit="adjustment.add"),
    "settings": Case(
        "retainer", valid=lambda c: {"name": "ООО «Переименованное»", "language": "en"}, check=_check_settings,
        invalid=lambda c: {"name": "", "language": "xx"}, errors={"name": REQUIRED, "language": CHOOSE},
        audit="account.update"),
    "settings_bind": Case(
        "retainer", valid=lambda c: {"kind": "group", "ref_id": str(95_000 + c["account"])}, check=_check_bind,
        invalid=lambda c: {"kind": "planet", "ref_id": "x1"}, errors={"kind": CHOOSE, "ref_id": NUMBER},
        audit="account.bind"),
    "team_add": Case(
        "retainer", valid=lambda c: {"user_id": "777001", "name": "Внешний Подрядчик", "role": "developer",
                                     "scope": "account", "active_from": c["today"]},
        check=_check_team_add,
        invalid=lambda c: {"user_id": "abc", "role": "boss", "scope": "account", "active_from": "2026-13-40"},
        errors={"user_id": NUMBER, "role": CHOOSE, "active_from": A_DATE}, audit="team.add"),
    "team_end": Case(
        "retainer", prepare=_prep_member, valid=lambda c: {"member_id": str(c["member"]), "until": c["today"]},
        check=_check_team_end, invalid=lambda c: {"member_id": str(c["member"]), "until": "2026-02-30"},
        errors={}, alert=A_DATE, hidden=True, audit="team.end"),
    "plan_add": Case(
        "retainer", valid=lambda c: {"name": "Интеграции", "planned": "20", "match_kind": "tag", "match_value": "crm"},
        check=_check_plan_add,
        invalid=lambda c: {"name": "", "planned": "-5", "match_kind": "regex", "match_value": ""},
        errors={"name": REQUIRED, "planned": ("Must not be negative.", {}), "match_kind": CHOOSE,
                "match_value": REQUIRED}, audit="direction.add"),
    "plan_update": Case(
        "retainer", prepare=_prep_direction,
        valid=lambda c: {"direction_id": str(c["direction"]), "name": "Обучение персонала", "planned": "12:30",
                         "match_kind": "tag", "match_value": "обучение"},
        check=_check_plan_update,
        invalid=lambda c: {"direction_id": str(c["direction"]), "name": "Обучение", "planned": "1e9",
                           "match_kind": "tag", "match_value": "обучение"},
        errors={"planned": HOURS_MSG}, audit="direction.update"),
    "plan_remove": Case(
        "retainer", prepare=_prep_direction, valid=lambda c: {"direction_id": str(c["direction"])},
        check=_check_plan_remove, invalid=lambda c: {"direction_id": "999999"}, errors={},
        alert=("No such direction.", {}), hidden=True, audit="direction.remove"),
    "plan_capadd": Case(
        "retainer", prepare=_prep_direction,
        valid=lambda c: {"scope": "direction", "direction_id": str(c["direction"]), "limit": "8", "per": "period"},
        check=_check_cap_add,
        invalid=lambda c: {"scope": "direction", "direction_id": "", "limit": "0", "per": "year"},
        errors={"direction_id": REQUIRED, "limit": ("Must not be zero.", {}), "per": CHOOSE},
        audit="cap.add"),
    "plan_capremove": Case(
        "retainer", prepare=_prep_cap, valid=lambda c: {"cap_id": str(c["cap"])}, check=_check_cap_remove,
        invalid=lambda c: {"cap_id": "abc"}, errors={}, alert=("No such cap.", {}), hidden=True, audit="cap.remove"),
    "access_create": Case(
        "retainer", valid=lambda c: {"label": "Бухгалтерия", "valid_days": "90"}, check=_check_link_create,
        invalid=lambda c: {"label": "x" * 300, "valid_days": "0"},
        errors={"label": ("At most %(n)d characters.", {"n": 255}),
                "valid_days": ("Between %(low)d and %(high)d.", {"low": 1, "high": 3660})},
        audit="cabinet.create"),
    "access_rotate": Case(
        "retainer", prepare=_prep_link, valid=lambda c: {"link_id": str(c["link"])}, check=_check_link_rotate,
        invalid=lambda c: {"link_id": "-1"}, errors={}, alert=("No such link.", {}), hidden=True,
        audit="cabinet.revoke"),
    "access_revoke": Case(
        "retainer", prepare=_prep_link, valid=lambda c: {"link_id": str(c["link"])}, check=_check_link_revoke,
        invalid=lambda c: {"link_id": str(c["foreign_link"])}, errors={}, alert=("No such link.", {}),
        hidden=True, audit="cabinet.revoke"),
    "access_recipientadd": Case(
        "retainer", valid=lambda c: {"email": "director@test.example", "name": "Директор", "alerts": "1"},
        check=_check_recipient_add, invalid=lambda c: {"email": "not-an-email", "name": "Кто-то"}, errors={},
        alert=("not an e-mail address", {}), audit="recipient.add"),
    "access_recipientremove": Case(
        "retainer", prepare=_prep_recipient, valid=lambda c: {"recipient_id": str(c["recipient"])},
        check=_check_recipient_remove, invalid=lambda c: {"recipient_id": "999999"}, errors={},
        alert=("No such recipient.", {}), hidden=True, audit="recipient.remove"),
    "contract_retainer": Case(
        "retainer", valid=lambda c: {"tariff": "80", "price": "200000"}, check=_check_retainer,
        invalid=lambda c: {"tariff": "custom", "hours": "abc", "price": "-1", "starts_on": "2026-13-40",
                           "expiry_policy": "rollover", "rollover_max_age": "0"},
        errors={"hours": HOURS_MSG, "price": SUM, "starts_on": A_DATE,
                "rollover_max_age": ("Between %(low)d and %(high)d.", {"low": 1, "high": 120})},
        audit="contract.update"),
    "contract_staged": Case(
        "retainer", valid=lambda c: {"stages": "Аудит; 10; 30000\nНастройка; 20:30; 60 000\nЗапуск; 5",
                                     "title": "Внедрение"},
        check=_check_staged, invalid=lambda c: {"stages": "Аудит; abc; 100"},
        errors={"stages": ("Line %(n)d: %(error)s", {"n": 1, "error": HOURS_MSG})}, audit="contract.create"),
    "contract_upfront": Case(
        "retainer", valid=lambda c: {"budget": "30", "price": "90 000,50", "title": "Проект"}, check=_check_upfront,
        invalid=lambda c: {"budget": "0", "price": "12.345"},
        errors={"budget": ("Must not be zero.", {}), "price": SUM}, audit="contract.create"),
    "contract_stagepaid": Case(
        "staged", prepare=_prep_stages, valid=lambda c: {"stage_id": str(c["stages"][0]), "paid": "1"},
        check=_check_stage_paid, invalid=lambda c: {"stage_id": "999999", "paid": "1"}, errors={},
        alert=("No such stage.", {}), hidden=True, audit="stage.paid"),
    "contract_advance": Case(
        "staged", valid=lambda c: {"next_from": c["today"][:8] + "01"}, check=_check_advance,
        invalid=lambda c: {"next_from": "2999-01-01"},
        errors={"next_from": ("a stage cannot end in the future", {})}, audit="stage.advance"),
    "contract_finish": Case(
        "upfront", valid=lambda c: {}, check=_check_finish, invalid=lambda c: {}, invalid_kind="retainer",
        errors={}, alert=("The account has no such contract running.", {}), hidden=True, audit="contract.finish"),
    "report_settings": Case(
        "retainer", valid=lambda c: {"weekly": "1", "send_hour": "10", "chat_dialog": "chat42",
                                     "notify_user_ids": "1, 7", "alert_days": "3"},
        check=_check_report_settings,
        invalid=lambda c: {"weekly": "1", "send_hour": "25", "chat_dialog": "общий чат", "notify_user_ids": "a,b",
                           "alert_days": "0"},
        errors={"send_hour": ("Between %(low)d and %(high)d.", {"low": 0, "high": 23}),
                "chat_dialog": ("A chat as chat42 (group chat) or a user number.", {}),
                "notify_user_ids": ("User numbers separated by commas.", {}),
                "alert_days": ("Between %(low)d and %(high)d.", {"low": 1, "high": 28})},
        audit="report.settings"),
    "report_send": Case(
        "retainer", valid=lambda c: {"week": c["last_week"]}, check=_check_report_send,
        invalid=lambda c: {"week": "2026-W60"}, errors={"week": ("A week as 2026-W47 or a month as 2026-11.", {})}, audit=None),
    "report_resend": Case(
        "retainer", prepare=_prep_sent_report, valid=lambda c: {"report_id": str(c["report"])},
        check=_check_report_resend, invalid=lambda c: {"report_id": "999999"}, errors={},
        alert=("No such report.", {}), hidden=True, audit=None),
}


# ---------------------------------------------------------------- the client steers (issue 15): the plan's tasks and the requests


def _prep_plan(w, a):
    """A direction with two tasks of the plan, a pause request on the first, and another client's task."""
    from ledger.client_requests import open_request
    from ledger.devplan import add_item

    ctx = _prep_direction(w, a)
    first = with_account(w, a, lambda s, acc: add_item(s, acc, direction_id=ctx["direction"], title="Воронка",
                                                       planned_s=10 * H, actor="test"))
    second = with_account(w, a, lambda s, acc: add_item(s, acc, direction_id=ctx["direction"], title="Роботы",
                                                        planned_s=5 * H, actor="test"))
    request = with_account(w, a, lambda s, acc: open_request(s, acc, "pause", item_id=first, author="Клиент",
                                                             source="cabinet"))
    other = make_account(w)
    other_dir = with_account(w, other, lambda s, acc: add_direction(s, acc, "Их", planned_s=0, match_kind="tag",
                                                                    match_value="x", actor="test"))
    foreign = with_account(w, other, lambda s, acc: add_item(s, acc, direction_id=other_dir, title="Их задача",
                                                             planned_s=H, actor="test"))
    return {**ctx, "items": [first, second], "request": request, "foreign_item": foreign}


def _plan_row(w, item_id: int):
    from ledger.models import PlanItem

    with w.session() as s:
        found = s.get(PlanItem, item_id)
        s.expunge_all()
        return found


def _plan_order(w, account_id: int) -> list[int]:
    from ledger.devplan import items

    with w.session() as s:
        return [i.id for i in items(s, account_id)]


def _check_item_add(w, ctx):
    added = _plan_row(w, _plan_order(w, ctx["account"])[-1])
    assert (added.title, added.planned_s, added.position) == ("Аудит прав", 4 * H + 30 * 60, 3)


def _check_request(state: str, item_state: str):
    def check(w, ctx):
        from ledger.models import ClientRequest

        with w.session() as s:
            assert s.get(ClientRequest, ctx["request"]).state == state
        assert _plan_row(w, ctx["items"][0]).state == item_state
    return check


NO_ITEM = ("No such plan item.", {})
CASES.update({
    "steer_itemadd": Case(
        "retainer", prepare=_prep_plan,
        valid=lambda c: {"direction_id": str(c["direction"]), "title": "Аудит прав", "planned": "4:30"},
        check=_check_item_add, invalid=lambda c: {"direction_id": str(c["direction"]), "title": "x", "planned": "абв"},
        errors={"planned": HOURS_MSG}, audit="plan.add"),
    "steer_itemupdate": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"item_id": str(c["items"][1]), "planned": "12"},
        check=lambda w, c: _plan_row(w, c["items"][1]).planned_s == 12 * H or pytest.fail("not saved"),
        invalid=lambda c: {"item_id": str(c["foreign_item"]), "planned": "5"}, errors={}, alert=NO_ITEM,
        hidden=True, audit="plan.update"),
    "steer_itemmove": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"item_id": str(c["items"][1]), "move": "up"},
        check=lambda w, c: _plan_order(w, c["account"]) == c["items"][::-1] or pytest.fail("not moved"),
        invalid=lambda c: {"item_id": "999999", "move": "up"}, errors={}, alert=NO_ITEM, hidden=True,
        audit="plan.reorder"),
    "steer_itemstate": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"item_id": str(c["items"][1]), "state": "done"},
        check=lambda w, c: _plan_row(w, c["items"][1]).state == "done" or pytest.fail("not saved"),
        invalid=lambda c: {"item_id": str(c["foreign_item"]), "state": "done"}, errors={}, alert=NO_ITEM,
        hidden=True, audit="plan.state"),
    "steer_itemremove": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"item_id": str(c["items"][1])},
        check=lambda w, c: _plan_order(w, c["account"]) == c["items"][:1] or pytest.fail("not removed"),
        invalid=lambda c: {"item_id": str(c["foreign_item"])}, errors={}, alert=NO_ITEM, hidden=True,
        audit="plan.remove"),
    "steer_accept": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"request_id": str(c["request"])},
        check=_check_request("accepted", "paused"), invalid=lambda c: {"request_id": "999999"}, errors={},
        alert=("No such request.", {}), hidden=True, audit="request.accept"),
    "steer_decline": Case(
        "retainer", prepare=_prep_plan, valid=lambda c: {"request_id": str(c["request"]), "reason": "Не сейчас"},
        check=_check_request("declined", "planned"), invalid=lambda c: {"request_id": str(c["request"])},
        errors={}, alert=("Required.", {}), hidden=True, audit="request.decline"),
})


def _message(w, spec: tuple) -> str:
    message, kwargs = spec
    kwargs = {k: _message(w, v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    return w.msg(message, **kwargs)


def test_every_account_action_has_a_case():
    from handlers.manager import ACCOUNT_ACTIONS

    assert set(CASES) == set(ACCOUNT_ACTIONS)


@pytest.mark.parametrize("action", sorted(CASES))
def test_a_valid_account_action_is_saved_audited_and_shown(world, action):
    case = CASES[action]
    account = make_account(world, case.kind)
    ctx = {"account": account, "today": today(world).isoformat(), "last_week": _last_week(world),
           **case.prepare(world, account)}
    ctx["before"] = world.summary(account)
    token = world.token()
    response = world.post(f"/app/account/{account}/{action}", token, case.valid(ctx))
    assert response.status_code == 303, page_text(response.text)[:500]
    location = response.headers["Location"]
    assert f"/app/account/{account}?" in location and f"done={action}" in location
    follow = world.get(location.replace(world.url, ""))
    assert follow.status_code == 200 and world.msg("Saved.") in page_text(follow.text)
    if case.audit is not None:
        event = latest_audit(world, account, case.audit)
        assert event is not None and event.actor == ADMIN  # the user who did it, by name and id
    case.check(world, ctx)


@pytest.mark.parametrize("action", sorted(CASES))
def test_a_refused_account_action_says_why_and_writes_nothing(world, action):
    case = CASES[action]
    account = make_account(world, case.invalid_kind or case.kind)
    ctx = {"account": account, "today": today(world).isoformat(), "last_week": _last_week(world),
           **case.prepare(world, account)}
    token = world.token()
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/{action}", token, case.invalid(ctx))
    assert response.status_code == 400, page_text(response.text)[:300]
    assert world.snapshot() == before
    assert world.msg("Nothing was saved: check the fields marked below.") in page_text(response.text)
    for name, spec in case.errors.items():
        assert field_error(response.text, name, f"/{action}") == _message(world, spec), name
    if case.alert and not case.hidden:
        assert form_alert(response.text, f"/{action}") == _message(world, case.alert)


@pytest.mark.parametrize("action", sorted(a for a, c in CASES.items() if c.hidden))
def test_a_refused_row_button_says_why(world, action):
    case = CASES[action]
    account = make_account(world, case.invalid_kind or case.kind)
    ctx = {"account": account, "today": today(world).isoformat(), "last_week": _last_week(world),
           **case.prepare(world, account)}
    response = world.post(f"/app/account/{account}/{action}", world.token(), case.invalid(ctx))
    assert response.status_code == 400
    assert _message(world, case.alert) in page_text(response.text)


@pytest.mark.parametrize("kind, form, where, message", [
    ("retainer", {}, None, "The account has no such contract running."),
    ("staged", {"next_from": "2000-01-01"}, "next_from", "a stage cannot end before it began"),
    ("staged", {"next_from": "2026-02-30"}, "next_from", "A date."),
])
def test_a_stage_is_not_finished_where_it_cannot_be(world, kind, form, where, message):
    account = make_account(world, kind)
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/contract_advance", world.token(), form)
    assert response.status_code == 400 and world.snapshot() == before
    if where is None:  # a retainer's page has no such form: the refusal is shown at the top
        assert world.msg(message) in page_text(response.text)
    else:
        assert field_error(response.text, where, "/contract_advance") == world.msg(message)


def test_a_refused_manager_removal_says_why(world):
    response = world.post("/app/portal/manager_remove", world.token(), {"manager_id": "999999"})
    assert response.status_code == 400
    assert world.msg("No such manager.") in page_text(response.text)


def test_a_ledger_refusal_is_shown_beside_its_form(world):
    """A form the fields accept but the ledger refuses (the company is
    another client's) is answered like any other mistake."""
    account = make_account(world)
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/settings_bind", world.token(),
                          {"kind": "company", "ref_id": str(world.companies["romashka"])})
    assert response.status_code == 400
    assert world.snapshot() == before
    assert form_alert(response.text, "/settings_bind")


def test_a_refused_form_answers_400_when_the_portal_names_are_not_cached(world, request):
    """The manager opened the page more than five minutes ago (or the app
    restarted): the users' names are asked from the portal again while the
    refused form is answered."""
    account = make_account(world)
    token = world.token()
    forget_portal_names()
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/adjust", token, {"amount": "пять", "reason": "x"})
    assert response.status_code == 400
    assert world.snapshot() == before
    assert field_error(response.text, "amount", "/adjust") == _message(world, HOURS_MSG)


# ---------------------------------------------------------------- who gets the page


def test_an_administrator_gets_the_manager_page(world):
    response = world.open(world.p, 1)
    assert response.status_code == 200
    text = page_text(response.text)
    assert "Клиенты" in text and "/app/portal/account_add" in response.text
    with world.session() as s:
        for key in ("romashka", "vector", "sokolova", "over"):
            account = s.get(Account, world.accounts[key])
            b = balance(s, account.id)
            row = re.search(rf'href="/app/account/{account.id}\?[^"]*">[^<]*</a></td>(.*?)</tr>', response.text, re.S)
            assert row, account.name
            expected = (world.msg("overage %(hours)s", hours=hours(b.terms.overage_s)) if b.terms.overage_s
                        else hours(b.terms.remaining_s))
            assert expected in page_text(row.group(1)) and hours(b.terms.consumption_s) in page_text(row.group(1))


def test_a_plain_user_gets_the_clients_view_or_a_refusal(world):
    client = world.open(world.pb, world.users["b_employee"])
    assert client.status_code == 200
    assert big_value(client.text) == hours(world.summary(world.accounts["client"]).left_s)
    refused = world.open(world.p, world.users["pm"])
    assert refused.status_code == 403
    assert "администратор" in page_text(refused.text).lower()
    staff_token = world.token(world.p, world.users["pm"], "CRM_COMPANY_DETAIL_TAB",
                              {"ID": str(world.companies["romashka"])})
    for path in ("/app/home", f"/app/account/{world.accounts['romashka']}", "/app/calculator"):
        assert world.get(path, staff_token).status_code == 403, path


def test_a_named_manager_manages_but_names_nobody(world):
    admin = world.token()
    pm = world.users["pm"]
    response = world.post("/app/portal/manager_add", admin, {"user_id": str(pm)})
    assert response.status_code == 303
    with world.session() as s:
        manager = s.execute(select(Manager).where(Manager.portal_id == world.portal_a,
                                                  Manager.user_id == pm)).scalar_one()
        assert manager.name == "Анна Орлова" and manager.added_by == ADMIN  # the portal's name for the user
    assert latest_audit(world, None, "manager.add", world.portal_a).actor == ADMIN
    page = world.open(world.p, pm)
    assert page.status_code == 200 and "/app/portal/account_add" in page.text
    pm_token = frame_token(page.text)
    account = make_account(world)
    before = world.summary(account)
    assert world.post(f"/app/account/{account}/adjust", pm_token, {"amount": "1:30", "reason": "созвон"}
                      ).status_code == 303
    assert world.summary(account).left_s == before.left_s + 5400
    assert latest_audit(world, account, "adjustment.add").actor == "Анна Орлова (#%d)" % pm
    snapshot = world.snapshot()
    for action, form in (("manager_add", {"user_id": str(world.users["support"])}),
                         ("manager_remove", {"manager_id": str(manager.id)})):
        refused = world.post(f"/app/portal/{action}", pm_token, form)
        assert refused.status_code == 403
        assert world.msg("Only portal administrators name managers.") in page_text(refused.text)
    assert world.snapshot() == snapshot
    assert world.post("/app/portal/manager_remove", admin, {"manager_id": str(manager.id)}).status_code == 303
    assert world.open(world.p, pm).status_code == 403
    assert latest_audit(world, None, "manager.remove", world.portal_a).actor == ADMIN


def test_a_removed_manager_cannot_change_anything_from_a_page_left_open(world):
    admin = world.token()
    support = world.users["support"]
    assert world.post("/app/portal/manager_add", admin, {"user_id": str(support)}).status_code == 303
    page = world.open(world.p, support)
    assert page.status_code == 200
    token = frame_token(page.text)
    with world.session() as s:
        manager = s.execute(select(Manager).where(Manager.portal_id == world.portal_a,
                                                  Manager.user_id == support)).scalar_one()
    assert world.post("/app/portal/manager_remove", admin, {"manager_id": str(manager.id)}).status_code == 303
    account = make_account(world)
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/adjust", token, {"amount": "100", "reason": "после снятия"})
    assert response.status_code == 403
    assert world.snapshot() == before


def test_a_company_taken_by_another_client_is_refused_in_russian(world):
    response = world.post("/app/portal/account_add", world.token(),
                          {"name": "Дубль", "company_id": str(world.companies["romashka"]), "language": "ru"})
    assert response.status_code == 400
    message = form_alert(response.text, "/account_add")
    assert message and re.search(r"[а-яё]", message, re.I), message


# ---------------------------------------------------------------- portal actions


def test_the_change_log_shows_hours_and_money_as_the_page_does(world):
    """A tariff change in the log: "hours: 40 ч → 80 ч", never seconds or kopecks."""
    account = make_account(world)
    token = world.token()
    response = world.post(f"/app/account/{account}/contract_retainer", token,
                          {"tariff": "80", "price": "190 000,50"})
    assert response.status_code == 303, page_text(response.text)[:300]
    markup = world.get(f"/app/account/{account}", token).text
    log = page_text(markup.split('id="audit"', 1)[1])
    assert "hours: 80 ч" in log and "price: 190 000,50 ₽" in log
    assert "hours_s" not in log and "288000" not in log and "19000050" not in log


def test_the_time_zone_is_shown_and_changed(world):
    token = world.token()
    page = world.get("/app/home", token)
    assert '<option value="Europe/Moscow" selected>' in page.text
    response = world.post("/app/portal/time_zone", token, {"time_zone": "Asia/Yekaterinburg"})
    assert response.status_code == 303
    with world.session() as s:
        assert s.get(Portal, world.portal_a).time_zone == "Asia/Yekaterinburg"
    event = latest_audit(world, None, "portal.time_zone", world.portal_a)
    assert event.actor == ADMIN and "Europe/Moscow" in event.before
    assert '<option value="Asia/Yekaterinburg" selected>' in world.get("/app/home", token).text
    assert world.post("/app/portal/time_zone", token, {"time_zone": "Europe/Moscow"}).status_code == 303


def test_a_new_client_is_added_and_its_card_shows_it(world):
    token = world.token()
    company = world.companies["nobody"]
    response = world.post("/app/portal/account_add", token,
                          {"name": "ООО «Новый клиент»", "company_id": str(company), "language": "ru"})
    assert response.status_code == 303
    with world.session() as s:
        account = s.execute(select(Account).where(Account.name == "ООО «Новый клиент»")).scalar_one()
        assert s.execute(select(AccountBinding).where(AccountBinding.account_id == account.id)).scalar_one().ref_id \
            == company
    assert f"/app/account/{account.id}?" in response.headers["Location"]
    assert latest_audit(world, account.id, "account.create").actor == ADMIN
    card = world.widget(world.p, 1, company)
    assert card.status_code == 200 and "ООО «Новый клиент»" in page_text(card.text)
    assert world.msg("Hours will appear here as soon as a contract is set up for this client.") in page_text(card.text)


@pytest.mark.parametrize("action, form, errors", [
    ("time_zone", {"time_zone": "Mars/Olympus"}, {"time_zone": ("Unknown time zone.", {})}),
    ("time_zone", {"time_zone": ""}, {"time_zone": REQUIRED}),
    ("mode", {"mode": "both"}, {"mode": CHOOSE}),
    ("manager_add", {"user_id": "abc"}, {"user_id": NUMBER}),
    ("manager_add", {"user_id": "0"}, {"user_id": ("Between %(low)d and %(high)d.", {"low": 1, "high": 10**12})}),
    ("account_add", {"name": "", "language": "ru"},
     {"name": REQUIRED, "company_id": ("Choose the client's CRM company or a workgroup.", {})}),
    ("account_add", {"name": "Дубль", "company_id": "__romashka__", "language": "ru"}, {}),
    ("account_add", {"name": "Клиент", "group_id": "12.5", "language": "de"}, {"group_id": NUMBER, "language": CHOOSE}),
    ("manager_remove", {"manager_id": "999999"}, {}),
])
def test_a_refused_portal_action_says_why_and_writes_nothing(world, action, form, errors):
    token = world.token()
    form = {k: str(world.companies["romashka"]) if v == "__romashka__" else v for k, v in form.items()}
    before = world.snapshot()
    response = world.post(f"/app/portal/{action}", token, form)
    assert response.status_code == 400
    assert world.snapshot() == before
    for name, spec in errors.items():
        assert field_error(response.text, name, f"/{action}") == _message(world, spec), name
    if not errors and action != "manager_remove":
        assert form_alert(response.text, f"/{action}")  # the ledger's refusal, shown on its form


# ---------------------------------------------------------------- the tariff calculator


def calculator_rows(markup: str) -> dict[int, tuple[int, str, str]]:
    rows = {}
    table = re.search(r'<section class="hb-card" id="result">.*?</table>', markup, re.S).group(0)
    for tr in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", table, re.S):
        cells = [page_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        package = int(cells[0].split()[0])
        rows[package] = (int(cells[1]), cells[2], cells[3])
    return rows


def test_the_calculator_splits_a_160_hour_plan(world):
    token = world.token()
    response = world.get("/app/calculator", token, params={"plan": "160", "price": "2500"})
    assert response.status_code == 200
    rows = calculator_rows(response.text)
    assert rows[20] == (8, "50 000 ₽", "400 000 ₽")
    assert rows[40] == (4, "100 000 ₽", "400 000 ₽")
    assert rows[80] == (2, "200 000 ₽", "400 000 ₽")
    expected = recommend(160 * H, 2500_00).recommended
    assert expected is not None
    recommended = re.search(r'<tr class="hb-recommended">\s*<td>(\d+) ', response.text)
    assert recommended and int(recommended.group(1)) == expected.tariff_h
    alert = re.search(r'<div class="ui-alert ui-alert-success"><span class="ui-alert-message">(.*?)</span></div>',
                      response.text, re.S)
    assert alert and page_text(alert.group(1)).startswith(world.msg("Recommended:"))
    urgent = world.get("/app/calculator", token, params={"plan": "160", "price": "2500", "months": "2",
                                                         "budget": "300000"})
    assert urgent.status_code == 200 and re.search(r'<tr class="hb-recommended">\s*<td>80 ', urgent.text)


def test_a_tariff_set_from_the_calculator_changes_the_terms_from_next_month_only(world):
    policies = Policies(expiry_policy="rollover", rollover_cap_s=10 * H, rollover_max_age_months=2,
                        overage_policy="deduct", rounding_mode="up", rounding_step_s=15 * 60)
    account = make_account(world, "retainer", policies)
    before = world.summary(account)
    token = world.token()
    page = world.get("/app/calculator", token, params={"plan": "160", "price": "2500", "account": str(account)})
    assert page.status_code == 200
    forms = re.findall(r'<form class="hb-inline" method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    chosen = [(action, body) for action, body in forms if 'name="tariff" value="80"' in body]
    assert len(chosen) == 1 and chosen[0][0] == f"/app/account/{account}/contract_retainer"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', chosen[0][1]))
    assert fields["tariff"] == "80" and fields["price"] == "200000.00"
    response = world.post(chosen[0][0], None, fields)
    assert response.status_code == 303
    with world.session() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == account)).scalar_one()
        assert (contract.expiry_policy, contract.rollover_cap_s, contract.rollover_max_age_months,
                contract.overage_policy, contract.rounding_mode, contract.rounding_step_s) == \
            ("rollover", 10 * H, 2, "deduct", "up", 15 * 60)  # the policies are kept
        terms = [(t.effective_on, t.hours_s, t.price_minor) for t in s.execute(
            select(ContractTerm).where(ContractTerm.contract_id == contract.id)
            .order_by(ContractTerm.effective_on)).scalars()]
    assert terms[-1] == (_next_month(world), 80 * H, 200_000_00)
    assert len(terms) == 2 and terms[0][1:] == (40 * H, 100_000_00)
    after = world.summary(account)
    assert (after.allocated_s, after.left_s) == (before.allocated_s, before.left_s)  # this month is as it was
    assert latest_audit(world, account, "contract.update").actor == ADMIN


@pytest.mark.parametrize("params, errors", [
    ({"plan": "сто", "price": "2500"}, {"plan": HOURS_MSG}),
    ({"plan": "160", "price": "-1"}, {"price": SUM}),
    ({"plan": "160", "price": ""}, {"price": REQUIRED}),
    ({"plan": "200000", "price": "2500"}, {"plan": ("At most %(n)d hours.", {"n": 100000})}),
    ({"plan": "160", "price": "2500", "months": "0"}, {"months": ("Between %(low)d and %(high)d.",
                                                                  {"low": 1, "high": 1200})}),
    ({"plan": "160", "price": "2500", "budget": "много"}, {"budget": SUM}),
    ({"plan": "160", "price": "2500", "meetings": "1.5"}, {"meetings": NUMBER}),
])
def test_the_calculator_refuses_what_it_cannot_read(world, params, errors):
    token = world.token()
    before = world.snapshot()
    response = world.get("/app/calculator", token, params=params)
    assert response.status_code == 400
    for name, spec in errors.items():
        assert field_error(response.text, name) == _message(world, spec), name
    assert 'id="result"' not in response.text
    assert world.snapshot() == before


def test_a_calculator_for_another_portals_account_is_not_found(world):
    assert world.get("/app/calculator", world.token(), params={"account": str(world.accounts["client"]),
                                                               "plan": "160", "price": "2500"}).status_code == 404


def test_the_forms_carry_the_token_and_no_other_credential(world):
    markup = world.get(f"/app/account/{world.accounts['romashka']}", world.token()).text
    adjust = form_html(markup, "/adjust")
    assert 'name="_t"' in adjust and "AUTH_ID" not in markup and world.p.member_id not in markup


def test_the_first_import_shows_its_progress_until_it_is_done(world):
    """While the first import runs the page says how far it is (records of
    the portal's total, time left) instead of leaving the numbers empty;
    once the first sync finished it is gone."""
    from b24.models import SyncState
    from ledger.db import utcnow

    with world.session() as s, s.begin():
        state = s.get(SyncState, world.portal_a) or SyncState(portal_id=world.portal_a, last_record_id=0, failures=0)
        s.add(state)
        before = (state.first_sync_at, state.import_total, state.import_done, state.import_started_at)
        state.first_sync_at, state.import_total, state.import_done = None, 120_000, 30_000
        # 110 s for a quarter: 330 s left, «about 6 min» (rounded up) for any
        # page answered within 10 s of this, on a loaded machine too.
        state.import_started_at = utcnow() - timedelta(seconds=110)
    try:
        text = page_text(world.get("/app/home", world.token()).text)
        assert "Первый импорт" in text and "30 000" in text and "120 000" in text and "25%" in text, text[:500]
        assert "Осталось около 6 мин" in text
    finally:
        with world.session() as s, s.begin():
            state = s.get(SyncState, world.portal_a)
            state.first_sync_at, state.import_total, state.import_done, state.import_started_at = before
            if state.first_sync_at is None:
                from ledger.db import utcnow as now_

                state.first_sync_at = now_()
    assert 'id="first_import"' not in world.get("/app/home", world.token()).text
