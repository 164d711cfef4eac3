"""The monthly act end to end (SQLite and PostgreSQL): a portal in the
emulator synced into the ledger, the schedule's close job closes October and
makes its act, the first weekly report after it carries the act to a real
SMTP server (aiosmtpd) as a PDF and an XLSX, the next report does not;
`python app.py act` writes the same files."""
from __future__ import annotations

import email
import json
from datetime import timedelta
from email import policy

from sqlalchemy import select

from jobs import reports as rj
from jobs.tasks import close_periods
from reports import act as acts
from reports import act_render
from reports.mail import message
from reports.models import MonthlyAct
from tests.test_reports_jobs import NOW, WEEK, client_portal, cli, jobs, log_week, smtp, stored  # noqa: F401

H, M = 3600, 60


def october_act(c) -> MonthlyAct:
    with c.ctx.sessions() as s:
        return s.execute(select(MonthlyAct).where(MonthlyAct.account_id == c.account_id,
                                                  MonthlyAct.period == "2026-10")).scalar_one()


def test_the_close_job_makes_the_act_and_the_next_report_carries_it_once(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = smtp.url
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")

    done = close_periods(NOW)
    assert "2026-10" in done["closed"] and "2026-10" in done["acts"]
    assert close_periods(NOW)["acts"] == []  # once
    row = october_act(c)
    act = acts.stored(row)
    with c.ctx.sessions() as s:
        from ledger.models import TimeEntry

        october = sum(e.counted_s for e in s.execute(select(TimeEntry).where(
            TimeEntry.account_id == c.account_id, TimeEntry.deleted.is_(False))).scalars()
            if e.work_at < NOW - timedelta(days=3, hours=7))
    assert act.used_s == act.tasks_s == october == (30 + 20 + 150 + 60) * M
    assert act.burned_s == act.package_s - act.used_s

    rj.send_weekly(c.account_id, WEEK)
    msg = smtp.messages()[0]
    names = [p.get_filename() for p in msg.iter_attachments()]
    with c.ctx.sessions() as s:  # the contract began in August: every closed month has its act, all go now
        made = [r.period for r in acts.acts_of(s, c.account_id)][::-1]
    assert made[-1] == "2026-10" and len(made) == len(done["acts"])
    assert names == [f"hourbook-{c.account_id}-{WEEK}.xlsx"] + [
        f"act-{c.account_id}-{period}.{ext}" for period in made for ext in ("pdf", "xlsx")]
    parts = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert parts[f"act-{act.number}.pdf"] == act_render.pdf(act)
    assert parts[f"act-{act.number}.xlsx"] == act_render.xlsx(act)
    (sent,) = c.sent()
    report = stored(sent)
    assert [a.period for a in report.acts] == made and report.acts[-1].act_id == row.id
    assert october_act(c).report_id == sent.id
    # The message is the stored report's, byte for byte, acts included.
    to = [("Директор", "director@romashka.test")]
    with c.ctx.sessions() as s:
        carried = rj.attached_acts(s, report)
    assert carried[-1] == act
    again = message(report, sent.key, to, jobs.config["MAIL_FROM"], carried)
    assert bytes(again) == bytes(message(report, sent.key, to, jobs.config["MAIL_FROM"], carried))
    assert email.message_from_bytes(bytes(again), policy=policy.default).get_body(
        preferencelist=("plain",)).get_content() == msg.get_body(preferencelist=("plain",)).get_content()

    rj.send_weekly(c.account_id, "2026-W45")
    later = smtp.messages()[1]
    assert [p.get_filename() for p in later.iter_attachments()] == [f"hourbook-{c.account_id}-2026-W45.xlsx"]


def test_act_command_writes_the_stored_act(jobs, emu, cli, tmp_path):
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    out = tmp_path / "acts"

    refused = cli("act", "--account", str(c.account_id), "--period", "2026-10", "--out", str(out))
    assert refused.exit_code != 0 and "not closed yet" in refused.output and not out.exists()

    close_periods(NOW)
    result = cli("act", "--account", str(c.account_id), "--period", "2026-10", "--out", str(out))
    assert result.exit_code == 0, result.output
    act = acts.stored(october_act(c))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"act-{act.number}.{ext}" for ext in ("json", "pdf", "xlsx"))
    assert (out / f"act-{act.number}.pdf").read_bytes() == act_render.pdf(act)
    assert (out / f"act-{act.number}.xlsx").read_bytes() == act_render.xlsx(act)
    assert acts.Act.from_json((out / f"act-{act.number}.json").read_text()) == act
    again = cli("act", "--account", str(c.account_id), "--period", "2026-10", "--out", str(tmp_path / "again"))
    assert again.exit_code == 0
    assert (tmp_path / "again" / f"act-{act.number}.pdf").read_bytes() == act_render.pdf(act)


def test_act_command_refuses_bad_input_with_nothing_written(jobs, emu, cli, tmp_path):
    c = client_portal(emu, jobs)
    out = tmp_path / "acts"
    for argv, says in ((("--account", "999", "--period", "2026-10"), "no account 999"),
                       (("--account", str(c.account_id), "--period", "2026-13"), "not a month"),
                       (("--account", str(c.account_id), "--period", "октябрь"), "not a month"),
                       (("--account", str(c.account_id), "--period", "2019-01"), "has no month 2019-01")):
        result = cli("act", *argv, "--out", str(out))
        assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output, result.output
    assert not out.exists()
    with c.ctx.sessions() as s:
        assert s.execute(select(MonthlyAct)).first() is None


def test_the_handover_package_carries_the_months_acts_as_kept(jobs, emu, cli, tmp_path):
    """Leaving with the work (issue 16) includes the monthly acts (issue 15):
    each act's kept JSON in the package, its PDF and XLSX beside it, the
    same bytes the cabinet serves."""
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    close_periods(NOW)
    with c.ctx.sessions() as s:
        kept = [acts.stored(row) for row in reversed(acts.acts_of(s, c.account_id))]
    assert len(kept) >= 2 and kept[-1] == acts.stored(october_act(c))
    out = tmp_path / "handover"

    result = cli("--now", NOW.isoformat(), "export", "--account", str(c.account_id), "--out", str(out))

    assert result.exit_code == 0, result.output
    stem = f"handover-{c.account_id}"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stem}.json", f"{stem}.xlsx"] + [f"act-{a.number}.{ext}" for a in kept for ext in ("pdf", "xlsx")])
    for a in kept:
        assert (out / f"act-{a.number}.pdf").read_bytes() == act_render.pdf(a)
    data = json.loads((out / f"{stem}.json").read_text())
    assert [acts.Act.from_json(json.dumps(a)) for a in data["acts"]] == kept  # oldest month first
