"""The monthly acts and the weekly call's notes on the pages (handlers/acts.py),
on SQLite and PostgreSQL: the demo's last month closes, its acts are made;
the manager's page lists them with PDF and XLSX links and takes the call's
notes; the client's cabinet link downloads its own acts and nothing else;
the next report carries the notes and the act (attached to its e-mail),
once. Bad input is refused with nothing written."""
from __future__ import annotations

import email
import re
import subprocess
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.access import add_recipient, create_cabinet_link
from ledger.contracts import close_due
from ledger.db import utcnow
from ledger.hours import format_hm
from ledger.models import Account
from reports import act as acts
from reports import act_render
from reports.models import CallNote, MonthlyAct, SentReport
from tests.fuzz_support import cabinet_token
from tests.pages import field_error, page_text, world_fixture

world = world_fixture("sqlite", "postgresql")


@pytest.fixture(scope="module")
def closed(world):
    """Last month closes (as the schedule's close job would), and its acts are made."""
    with world.session() as s, s.begin():
        close_due(s, utcnow())
        made = acts.make_missing(s)
        assert [(r.account_id, r.period) for r in made] == [
            (world.accounts["romashka"], r.period) for r in made]  # the demo's one retainer of last month
        assert len(made) == 1
        return made[0].id


@pytest.fixture(scope="module")
def links(world):
    """Cabinet tokens of «Ромашка» and of «Перерасход» (another account of the same portal)."""
    with world.session() as s, s.begin():
        mine = create_cabinet_link(s, s.get(Account, world.accounts["romashka"]), actor="test", label="acts")
        other = create_cabinet_link(s, s.get(Account, world.accounts["over"]), actor="test", label="acts")
        s.flush()
        found = {"mine": cabinet_token(mine.id, mine.nonce), "other": cabinet_token(other.id, other.nonce)}
    for token in found.values():  # opened once: a later view writes no "last opened" within the hour
        assert world.get(f"/cabinet/{token}").status_code == 200
    return found


def stored(world, act_id: int) -> acts.Act:
    with world.session() as s:
        return acts.stored(s.get(MonthlyAct, act_id))


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "act.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_managers_page_lists_the_act_and_downloads_it(world, closed, tmp_path):
    token = world.token()
    account = world.accounts["romashka"]
    act = stored(world, closed)
    page = world.get(f"/app/account/{account}", token)
    assert page.status_code == 200
    text = page_text(page.text)
    assert "Акты выполненных работ" in text and "Заметки с еженедельной встречи" in text
    links = re.findall(rf'href="(/app/act/{closed}\.(pdf|xlsx)\?t=[^"]+)"', page.text)
    assert [fmt for _, fmt in links] == ["pdf", "xlsx"]
    pdf = world.get(links[0][0].replace("&amp;", "&"))
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert f'filename="act-{act.number}.pdf"' in pdf.headers["Content-Disposition"]
    assert pdf.content == act_render.pdf(act) == world.get(links[0][0].replace("&amp;", "&")).content
    body = pdftotext(pdf.content, tmp_path)
    assert "ООО «Ромашка»" in body and f"№ {act.number}" in body
    assert act.used_s == act.tasks_s and act.tasks  # last month's work of the demo
    total = next(line for line in body.splitlines() if line.startswith("Всего"))
    assert total.split()[-1] == format_hm(act.tasks_s)
    xlsx = world.get(links[1][0].replace("&amp;", "&"))
    assert xlsx.status_code == 200 and xlsx.content == act_render.xlsx(act)


def test_another_portals_manager_gets_404_for_the_act(world, closed):
    before = world.snapshot()
    token_b = world.token(world.pb, 1)
    for fmt in ("pdf", "xlsx"):
        assert world.get(f"/app/act/{closed}.{fmt}", token_b).status_code == 404
    assert world.get(f"/app/act/{closed}.pdf").status_code in (401, 403)  # no frame token at all
    assert world.get(f"/app/act/{closed + 1000}.pdf", world.token()).status_code == 404
    assert world.get(f"/app/act/{closed}.doc", world.token()).status_code == 404
    assert world.snapshot() == before


def test_the_cabinet_lists_its_acts_and_downloads_only_its_own(world, closed, links):
    act = stored(world, closed)
    page = world.get(f"/cabinet/{links['mine']}")
    assert page.status_code == 200 and "Акты выполненных работ" in page_text(page.text)
    hrefs = re.findall(rf'href="(/cabinet/[^"]+/act/{closed}\.(?:pdf|xlsx))"', page.text)
    assert len(hrefs) == 2
    got = world.get(hrefs[0])
    assert got.status_code == 200 and got.content == act_render.pdf(act)
    assert world.get(hrefs[1]).content == act_render.xlsx(act)
    english = world.get(f"/cabinet/{links['mine']}", params={"lang": "en"})
    assert "Acts of work done" in page_text(english.text)

    before = world.snapshot()
    other = world.get(f"/cabinet/{links['other']}")
    assert other.status_code == 200 and f"/act/{closed}." not in other.text  # its account has no act
    assert world.get(f"/cabinet/{links['other']}/act/{closed}.pdf").status_code == 404
    assert world.get(f"/cabinet/{'A' * 40}/act/{closed}.pdf").status_code == 404  # a forged link
    assert world.get(f"/cabinet/{links['mine'][:-2]}xx/act/{closed}.pdf").status_code == 404  # tampered
    assert world.get(f"/cabinet/{links['mine']}/act/{2**31 - 1}.pdf").status_code == 404
    assert world.snapshot() == before


def test_a_call_note_is_kept_and_goes_into_the_next_report_once(world, closed):
    token = world.token()
    account = world.accounts["romashka"]
    response = world.post(f"/app/account/{account}/notes", token,
                          {"call_on": "", "text": "  Клиент просит сначала закончить интеграцию с 1С.  "})
    assert response.status_code == 303, response.text[:500]
    page = world.get(response.headers["Location"].replace(world.url, ""))
    assert "Клиент просит сначала закончить интеграцию с 1С." in page_text(page.text)
    with world.session() as s:
        (note,) = s.execute(select(CallNote).where(CallNote.account_id == account)).scalars()
        assert note.text == "Клиент просит сначала закончить интеграцию с 1С." and note.report_id is None
        assert note.author == "Администратор Портала (#1)"

    from jobs import reports as rj

    with world.session() as s, s.begin():
        add_recipient(s, s.get(Account, account), "director@romashka.example", "Директор", actor="test")
    first = rj.send_report(account, "2026-W01", "test")
    second = rj.send_report(account, "2026-W02", "test")
    with world.session() as s:
        rows = list(s.execute(select(SentReport).where(SentReport.account_id == account)
                              .order_by(SentReport.id)).scalars())
        one, two = (rj.Report.from_json(r.data) for r in rows[-2:])
        assert [n.text for n in one.notes] == [note.text] and two.notes == ()
        assert [a.act_id for a in one.acts] == [closed] and two.acts == ()
        assert s.get(CallNote, note.id).report_id == rows[-2].id
        assert s.get(MonthlyAct, closed).report_id == rows[-2].id
    assert first["report_id"] == rows[-2].id and second["report_id"] == rows[-1].id
    outbox = Path(world.app.config["INSTANCE_PATH"]) / "outbox"
    eml = outbox / (rows[-2].key.replace(":", "-") + ".eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    attached = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    act = stored(world, closed)
    assert attached[f"act-{act.number}.pdf"] == act_render.pdf(act)
    assert attached[f"act-{act.number}.xlsx"] == act_render.xlsx(act)
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    words = " ".join(plain.split())  # the plain-text part wraps at 78 columns
    assert "ПОВЕСТКА ЕЖЕНЕДЕЛЬНОЙ ВСТРЕЧИ" in words and note.text in words
    assert "Акт выполненных работ за" in words
    later = email.message_from_bytes((outbox / (rows[-1].key.replace(":", "-") + ".eml")).read_bytes(),
                                     policy=policy.default)
    assert [p.get_filename() for p in later.iter_attachments()] == [f"hourbook-{account}-2026-W02.xlsx"]


@pytest.mark.parametrize("form, field", [
    ({"call_on": "", "text": ""}, "text"),
    ({"call_on": "", "text": "x" * 2001}, "text"),
    ({"call_on": "2026-13-40", "text": "заметка"}, "call_on"),
    ({"call_on": "", "text": "нуль\x00"}, "text"),
])
def test_a_broken_note_is_refused_with_nothing_written(world, form, field):
    token = world.token()
    account = world.accounts["romashka"]
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/notes", token, form)
    assert response.status_code == 400
    assert field_error(response.text, field)
    assert world.snapshot() == before


def test_a_note_for_a_day_far_away_another_portals_account_or_no_token_is_refused(world):
    account = world.accounts["romashka"]
    before = world.snapshot()
    far = (utcnow() + timedelta(days=800)).date().isoformat()
    response = world.post(f"/app/account/{account}/notes", world.token(), {"call_on": far, "text": "заметка"})
    assert response.status_code == 400 and "не дальше года" in page_text(response.text)
    assert world.post(f"/app/account/{world.accounts['client']}/notes", world.token(),
                      {"text": "чужой клиент"}).status_code == 404
    assert world.post(f"/app/account/{account}/notes", world.token(world.pb, 1),
                      {"text": "чужой портал"}).status_code == 404
    assert world.post(f"/app/account/{account}/notes", None, {"text": "без токена"}).status_code in (401, 403)
    assert world.post(f"/app/account/{account}/acts/make", None).status_code in (401, 403)
    assert world.snapshot() == before


def test_making_missing_acts_on_demand_is_idempotent(world, closed):
    account = world.accounts["romashka"]
    before = world.snapshot()
    response = world.post(f"/app/account/{account}/acts/make", world.token())
    assert response.status_code == 303
    assert world.snapshot()["monthly_acts"] == before["monthly_acts"]
