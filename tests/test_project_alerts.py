"""Stalled projects alert the manager (project chat) and the client
(e-mail) once per stage and kind, through the hour alerts' own job
(jobs/reports.check_alerts), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from jobs import reports as rj
from ledger.contracts import set_staged
from ledger.models import Account, Stage
from ledger.projects import accept_stage, record_payment
from tests.test_reports_jobs import H, MSK, client_portal, jobs, local, race, smtp  # noqa: F401  (fixtures)


def test_a_stalled_stage_alerts_once_per_stage_and_kind(jobs, emu, smtp):  # noqa: F811
    jobs.config["SMTP_URL"] = smtp.url
    c = client_portal(emu, jobs, now=local(MSK, date(2026, 10, 1), 12))
    c.recipient("director@romashka.test", "Директор", alerts=True)
    c.settings(chat_dialog="chat42", alert_days=5)
    with jobs.sessions() as s, s.begin():
        account = s.get(Account, c.account_id)
        contract = set_staged(s, account, stages=[("Аудит", 10 * H, 30_000_00), ("Настройка", 40 * H, 120_000_00)],
                              starts_on=date(2026, 10, 1), now=local(MSK, date(2026, 10, 1), 12))
        stages = [st.id for st in s.execute(select(Stage).where(Stage.contract_id == contract.id)
                                            .order_by(Stage.position)).scalars()]
        record_payment(s, account, stages[0], True, actor="test", now=local(MSK, date(2026, 10, 1), 12))
    c.log("a", c.funnel, c.oleg, 2 * H, date(2026, 10, 2), 12)

    def check(day: date) -> None:
        at = local(MSK, day, 12)
        c.sync(at)
        assert race(4, lambda: rj.check_alerts(at)) == []

    check(date(2026, 10, 8))  # six days: not yet
    assert c.alerts() == []
    check(date(2026, 10, 9))
    check(date(2026, 10, 10))
    assert [a.kind for a in c.alerts()] == ["stall:no_work"]
    with jobs.sessions() as s, s.begin():
        accept_stage(s, s.get(Account, c.account_id), stages[0], actor="test", now=local(MSK, date(2026, 10, 11), 9))
    check(date(2026, 10, 17))
    check(date(2026, 10, 18))
    check(date(2026, 10, 19))
    alerts = c.alerts()
    assert [a.kind for a in alerts] == ["stall:no_work", "stall:payment"]
    assert len({a.period_id for a in alerts}) == 2 and all(a.delivered_at for a in alerts)
    posted = [m["params"]["MESSAGE"] for m in c.chat()]
    assert len(posted) == 2
    assert "«Аудит»" in posted[0] and "7" in posted[0]
    assert "«Настройка»" in posted[1] and "7" in posted[1]
    assert len(smtp.messages()) == 2
