"""The monthly act (reports.act, reports.act_render) from a ledger whose
clock the test holds, on SQLite and PostgreSQL: made at a month's close
from that month's postings, its PDF read back with pdftotext and its XLSX
with openpyxl against the ledger's numbers, the same bytes every time,
and a later change to a closed month shown in the next month's act as a
correction (PRODUCT.md rule 5), never in the act already made."""
from __future__ import annotations

import io
import subprocess
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from ledger.contracts import Policies, add_account, add_team_member, set_retainer
from ledger.hours import format_hm
from ledger.models import Period, Posting
from ledger.tasks import upsert_task
from reports import act as acts
from reports import act_render
from reports.models import MonthlyAct
from tests.helpers import STAFF, Book

H, M = 3600, 60
FUNNEL, EXCHANGE, CHAT = 11, 12, 13


def retainer(book: Book, language: str = "ru", **policy):
    account = add_account(book.s, book.portal, "ООО «Ромашка»", language=language, now=book.now)
    set_retainer(book.s, account, hours_s=20 * H, price_minor=4_800_000, starts_on=date(2026, 1, 1),
                 title="Сопровождение 20", policies=Policies(**policy), now=book.now)
    add_team_member(book.s, book.portal, STAFF, account=account, now=book.now)
    for task_id, title in ((FUNNEL, "Настройка воронки «Продажи»"), (EXCHANGE, "Интеграция с 1С: обмен счетами"),
                           (CHAT, "Вопросы в чате")):
        upsert_task(book.s, book.portal.id, task_id, title=title, now=book.now)
    return account


def january(book: Book) -> None:
    """Work in January, rounded up to 15 minutes by the contract:
    10 min → 15, 1 h 20 → 1 h 30, 2 h → 2 h, 5 min → 15."""
    book.log(1, 10 * M, date(2026, 1, 12), task=CHAT)
    book.log(2, 80 * M, date(2026, 1, 13), task=FUNNEL)
    book.log(3, 2 * H, date(2026, 1, 20), task=EXCHANGE)
    book.log(4, 5 * M, date(2026, 1, 30), task=FUNNEL)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "act.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def xlsx_rows(data: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), data_only=True).worksheets[0]
    return [row for row in sheet.iter_rows(values_only=True)]


def seconds(value) -> int:  # openpyxl reads an "[h]:mm" cell as a timedelta (or a number of days)
    return round(value.total_seconds() if isinstance(value, timedelta) else value * 86400)


def test_the_act_of_a_closed_month_says_what_the_ledger_says(session, tmp_path):
    book = Book(session)
    account = retainer(book, rounding_mode="up", rounding_step_s=15 * M)
    january(book)
    book.next_month(date(2026, 2, 1))
    (row,) = acts.make_missing(session)
    act = acts.stored(row)

    period = book.period(account, "2026-01")
    terms = book.bal(account, "2026-01")
    consumed = -sum(p.amount_s for p in book.postings(period_id=period.id, kind="consumption"))
    assert consumed == (15 + 90 + 120 + 15) * M  # each entry rounded up, as the contract says
    assert [(t.task_id, t.counted_s) for t in act.tasks] == [(EXCHANGE, 2 * H), (FUNNEL, 105 * M), (CHAT, 15 * M)]
    assert act.tasks_s == act.used_s == consumed and act.corrections == ()
    assert act.package_s == 20 * H and act.burned_s == 20 * H - consumed == terms.expiry_s
    assert act.carried_s == 0 and act.overage_s == 0 and act.price_minor == 4_800_000
    assert (act.period, act.first_day, act.last_day) == ("2026-01", date(2026, 1, 1), date(2026, 1, 31))
    assert act.number == f"{account.id}-2026-01" and act.contract == "Сопровождение 20"
    assert act.closed_at == period.closed_at.replace(microsecond=0)

    text = pdf_text(act_render.pdf(act), tmp_path)
    assert f"Акт выполненных работ № {account.id}-2026-01" in text
    assert "за январь 2026" in text and "ООО «Ромашка»" in text and "Сопровождение 20" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()[:1].isdigit()}
    assert "Интеграция с 1С: обмен счетами" in lines["1"] and lines["1"].rstrip().endswith(format_hm(2 * H))
    assert "Настройка воронки «Продажи»" in lines["2"] and lines["2"].rstrip().endswith("1:45")
    assert "Вопросы в чате" in lines["3"] and lines["3"].rstrip().endswith("0:15")
    total = next(line for line in text.splitlines() if line.startswith("Всего"))
    assert total.split()[-1] == format_hm(consumed) == "4:00"
    assert "−16:00" in text  # burned: 20 h package − 4 h used
    assert "48 000 ₽" in text.replace("\u00a0", " ")
    assert "округлена вверх до 0:15" in text

    rows = xlsx_rows(act_render.xlsx(act))
    tasks = [r for r in rows if isinstance(r[2], int)]
    assert [(r[2], seconds(r[3])) for r in tasks] == [(t.task_id, t.counted_s) for t in act.tasks]
    totals = [r for r in rows if r[0] == "Всего"]
    assert seconds(totals[0][3]) == consumed
    burned = next(r for r in rows if r[0] == "Сгорело в конце месяца")
    assert seconds(burned[3]) == -act.burned_s


def test_an_act_is_the_same_bytes_and_a_later_correction_goes_into_the_next_months_act(session, tmp_path):
    book = Book(session)
    account = retainer(book)
    january(book)
    book.next_month(date(2026, 2, 1))
    (row,) = acts.make_missing(session)
    pdf, xlsx, data = act_render.pdf(acts.stored(row)), act_render.xlsx(acts.stored(row)), row.data
    assert act_render.pdf(acts.stored(row)) == pdf and act_render.xlsx(acts.stored(row)) == xlsx

    # The portal's record 2 (January) grows by 40 minutes and record 4 is
    # deleted, in February: January is frozen, February counts the change.
    book.now = book.at(date(2026, 2, 10))
    book.log(2, 120 * M, date(2026, 1, 13), task=FUNNEL)
    book.delete(4)
    book.log(5, 30 * M, date(2026, 2, 11), task=CHAT)
    assert acts.make_act(session, row.period_id).id == row.id
    again = session.get(MonthlyAct, row.id)
    assert again.data == data and again.digest == row.digest
    assert act_render.pdf(acts.stored(again)) == pdf and act_render.xlsx(acts.stored(again)) == xlsx
    assert acts.build_act(session, row.period_id).digest == row.digest  # made again: still the same

    book.next_month(date(2026, 3, 1))
    (feb_row,) = acts.make_missing(session)
    feb = acts.stored(feb_row)
    assert feb.period == "2026-02"
    assert [(t.task_id, t.counted_s) for t in feb.tasks] == [(CHAT, 30 * M)]
    assert sorted((c.origin, c.task_id, c.counted_s) for c in feb.corrections) == [
        ("2026-01", FUNNEL, 40 * M - 5 * M)]
    period = book.period(account, "2026-02")
    consumed = -sum(p.amount_s for p in book.postings(period_id=period.id, kind="consumption"))
    assert feb.used_s == consumed == 30 * M + 35 * M == feb.tasks_s + feb.corrections_s
    text = pdf_text(act_render.pdf(feb), tmp_path)
    assert "Исправления за прошлые месяцы" in text
    line = next(x for x in text.splitlines() if "Январь 2026" in x)
    assert "Настройка воронки «Продажи»" in line and line.rstrip().endswith("+0:35")


def test_acts_are_made_once_and_only_for_closed_months(session):
    book = Book(session)
    account = retainer(book, language="en")
    january(book)
    open_month = book.period(account, "2026-01")
    with pytest.raises(acts.NotClosed):
        acts.make_act(session, open_month.id)
    assert acts.missing(session) == []
    book.next_month(date(2026, 3, 1))  # January and February close
    made = acts.make_missing(session, made_by="backfill")
    assert [r.period for r in made] == ["2026-01", "2026-02"]
    assert acts.make_missing(session) == []
    assert acts.make_act(session, made[0].period_id).id == made[0].id
    assert session.execute(select(func.count()).select_from(MonthlyAct)).scalar_one() == 2
    assert [r.period for r in acts.acts_of(session, account.id)] == ["2026-02", "2026-01"]
    feb = acts.stored(made[1])
    assert feb.language == "en" and feb.tasks == () and feb.burned_s == 20 * H
    assert session.execute(select(func.count()).select_from(Posting).where(
        Posting.period_id == session.execute(select(Period.id).where(Period.label == "2026-02")).scalar_one(),
        Posting.kind == "consumption")).scalar_one() == 0


def test_the_english_act(tmp_path, session):
    book = Book(session)
    account = retainer(book, language="en")
    january(book)
    book.next_month(date(2026, 2, 1))
    (row,) = acts.make_missing(session)
    text = pdf_text(act_render.pdf(acts.stored(row)), tmp_path)
    assert f"Act of work done No. {account.id}-2026-01" in text and "for January 2026" in text
    assert "Hours as logged" in text and "Total" in text
    rows = xlsx_rows(act_render.xlsx(acts.stored(row)))
    assert rows[0][0] == f"Act of work done No. {account.id}-2026-01"


def test_carried_hours_and_a_billed_overage_are_in_the_acts(session, tmp_path):
    book = Book(session)
    account = retainer(book, expiry_policy="rollover")
    book.log(1, 5 * H, date(2026, 1, 12), task=FUNNEL)
    book.next_month(date(2026, 2, 1))
    book.log(2, 40 * H, date(2026, 2, 10), task=EXCHANGE)  # 20 h + 15 h carried: 5 h over
    book.next_month(date(2026, 3, 1))
    jan, feb = (acts.stored(r) for r in acts.make_missing(session))
    assert (jan.used_s, jan.carried_s, jan.burned_s) == (5 * H, 15 * H, 0)
    assert (feb.rollover_in_s, feb.used_s, feb.overage_s, feb.overage_billed) == (15 * H, 40 * H, 5 * H, True)
    assert feb.burned_s == feb.carried_s == 0
    terms = book.bal(account, "2026-02")
    assert feb.overage_s == terms.overage_billed_s and feb.rollover_in_s == terms.rollover_in_s
    text = pdf_text(act_render.pdf(feb), tmp_path)
    lines = {line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in text.splitlines() if line.strip()}
    assert lines["Перенесено с прошлых месяцев"] == "+15:00"
    assert lines["Перерасход, к оплате"] == "+5:00"
    assert lines["Выполненные работы (задачи выше)"] == "−40:00"
    assert "Использовано часов: 40 ч из 35 ч." in " ".join(text.split())
    assert lines["Перенесено на следующий месяц"] == "0:00"
    jan_text = pdf_text(act_render.pdf(jan), tmp_path)
    assert "−15:00" in next(x for x in jan_text.splitlines() if "Перенесено на следующий месяц" in x)
