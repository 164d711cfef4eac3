"""Implementation projects outside the pages, on SQLite and PostgreSQL:
stalled projects alert the manager (project chat) and the client (e-mail)
once per stage and kind, through the hour alerts' own job
(jobs/reports.check_alerts); `python app.py export` writes the handover
package of one account and nothing of another, and no token."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import openpyxl
from sqlalchemy import select

from jobs import reports as rj
from ledger.contracts import set_staged
from ledger.models import Account, Stage
from b24.models import PortalAuth
from ledger.projects import accept_stage, add_item, record_payment
from tests.test_reports_jobs import H, MSK, NOW, cli, client_portal, jobs, local, race, smtp  # noqa: F401  (fixtures)


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


def test_export_writes_one_accounts_handover_package_and_nothing_else(jobs, emu, cli, tmp_path):  # noqa: F811
    mine = client_portal(emu, jobs)
    theirs = client_portal(emu, jobs, domain="other.bitrix24.test")
    with jobs.sessions() as s, s.begin():
        s.get(Account, theirs.account_id).name = "Чужой клиент"
        account = s.get(Account, mine.account_id)
        contract = set_staged(s, account, stages=[("Аудит", 10 * H, 30_000_00), ("Настройка", 40 * H, 120_000_00)],
                              starts_on=date(2026, 10, 1), now=local(MSK, date(2026, 10, 1), 12))
        first = s.execute(select(Stage).where(Stage.contract_id == contract.id, Stage.position == 1)).scalar_one()
        add_item(s, account, kind="setting", title="Воронка продаж", planned_s=6 * H, stage_id=first.id,
                 task_ids=(mine.funnel,), actor="test", now=local(MSK, date(2026, 10, 1), 12))
        record_payment(s, account, first.id, True, actor="test", now=local(MSK, date(2026, 10, 2), 12))
    mine.log("a", mine.funnel, mine.oleg, 2 * H, date(2026, 10, 20), 12, comment="Стадии воронки")
    mine.log("b", mine.exchange, mine.anna, H, date(2026, 10, 21), 12, comment="Справочники 1С")
    theirs.log("x", theirs.funnel, theirs.oleg, 3 * H, date(2026, 10, 20), 12, comment="СЕКРЕТНЫЙ КОММЕНТАРИЙ")
    mine.sync()
    theirs.sync()
    out = tmp_path / "handover"

    result = cli("--now", NOW.isoformat(), "export", "--account", str(mine.account_id), "--out", str(out))

    assert result.exit_code == 0, result.output
    stem = f"handover-{mine.account_id}"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.json", f"{stem}.xlsx"]
    data = json.loads((out / f"{stem}.json").read_text())
    assert data["account"]["name"] == "Клиент" and data["totals"]["counted_s"] == 3 * H
    assert [(e["comment"], e["role"], e["counted_s"]) for e in data["work_log"]] == [
        ("Стадии воронки", "developer", 2 * H), ("Справочники 1С", "project_manager", H)]
    assert {t["id"] for t in data["tasks"]} == {mine.funnel, mine.exchange}
    assert all(t["url"].startswith("https://romashka.bitrix24.test/") for t in data["tasks"])
    (item,) = data["scope"]
    assert item["title"] == "Воронка продаж" and item["spent_s"] == 2 * H and item["stage"] == "Аудит"
    assert [(p["stage"], p["paid"]) for p in data["payments"]] == [("Аудит", True), ("Настройка", False)]
    assert {r["role"]: r["counted_s"] for r in data["roles"]} == {"developer": 2 * H, "project_manager": H}
    book = openpyxl.load_workbook(io.BytesIO((out / f"{stem}.xlsx").read_bytes()))
    assert "Воронка продаж" in [c.value for row in book.worksheets[1].iter_rows() for c in row]
    # Nothing of the other account, no token of any kind, in any file (the XLSX unzipped).
    texts = [(out / f"{stem}.json").read_text()]
    with zipfile.ZipFile(out / f"{stem}.xlsx") as z:
        texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    secrets = ["Чужой клиент", "СЕКРЕТНЫЙ", "other.bitrix24.test", *emu.tokens.access, *emu.tokens.refresh]
    with jobs.sessions() as s:
        for auth in s.execute(select(PortalAuth)).scalars():
            secrets += [v for v in (auth.access_token, auth.refresh_token, auth.application_token) if v]
    assert len(secrets) > 5
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_export_refuses_an_unknown_account(jobs, emu, cli, tmp_path):  # noqa: F811
    client_portal(emu, jobs)
    result = cli("export", "--account", "999", "--out", str(tmp_path / "x"))
    assert result.exit_code != 0 and "no account 999" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
