"""The weekly call's agenda in the weekly report (reports.agenda, reports.build),
on SQLite and PostgreSQL: the client's open requests, plan items over
their planned hours, what will burn, the plan's next items, a paused
task's time after the pause (flagged on its lines too) and the call's
notes; rendered in the e-mail and its text part, Russian and English; and
kept with the report, so it renders the same after the requests are
decided and the notes carried."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from b24.links import task_url
from ledger.client_requests import accept, open_request
from ledger.contracts import LedgerError
from ledger.devplan import set_item_state
from reports import agenda, render
from reports.build import build_report
from reports.model import Report
from reports.models import CallNote, SentReport
from tests.helpers import H, Book
from tests.test_steering import setup_plan

M = 60
MONDAY = date(2026, 1, 12)  # 2026-W03


def report(book: Book, account, lang: str = "ru") -> Report:
    rep = build_report(book.s, account.id, MONDAY, task_url, now=book.now)
    return replace(rep, language=lang)


def test_the_agenda_says_what_the_call_has_to_decide(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.now = book.at(date(2026, 1, 19), 10)  # the Monday after the week
    book.log(1, 11 * H, date(2026, 1, 12), task=1)  # task 1: 11 h of its 10 planned
    book.log(2, 2 * H, date(2026, 1, 13), task=2)
    set_item_state(book.s, b, "paused", actor="mgr", now=book.at(date(2026, 1, 14), 9))
    book.log(3, 45 * M, date(2026, 1, 15), task=3)  # a subtask of the paused task 2, after the pause
    book.log(4, 30 * M, date(2026, 1, 16), task=4)
    ask = open_request(book.s, acc, "first", author="Директор", source="cabinet", task_id=4, now=book.now)
    open_request(book.s, acc, "question", author="Директор", source="widget", task_id=1,
                 text="Почему воронка заняла 11 часов?", now=book.now)
    done = open_request(book.s, acc, "cap", author="Директор", source="widget", task_id=1, cap_s=12 * H,
                        now=book.now)
    accept(book.s, done, actor="mgr", now=book.now)
    agenda.add_note(book.s, acc, call_on=date(2026, 1, 15), text="Телефонию — после воронки.", author="mgr",
                    now=book.now)

    rep = report(book, acc)
    assert [(r.kind, r.subject) for r in rep.requests] == [("first", "Телефония"), ("question", "Воронка")]
    assert rep.requests[1].text == "Почему воронка заняла 11 часов?" and rep.requests[0].author == "Директор"
    assert [(x.title, x.spent_s, x.planned_s) for x in rep.over_plan] == [("Воронка", 11 * H, 10 * H)]
    assert [x.item_id for x in rep.next_items] == [a.id, c.id, d.id]  # paused b is not next
    assert [(x.task_id, x.counted_s, x.paused_on) for x in rep.paused_work] == [(3, 45 * M, date(2026, 1, 14))]
    assert [x.paused for x in rep.lines] == [False, False, True, False]
    assert [n.text for n in rep.notes] == ["Телефонию — после воронки."]
    assert rep.has_agenda

    text = render.text(rep)
    words = " ".join(text.split())
    assert "ПОВЕСТКА ЕЖЕНЕДЕЛЬНОЙ ВСТРЕЧИ" in text
    assert "Сделать в первую очередь: Телефония (Директор, 19 января)" in words
    assert "Вопрос: Воронка — «Почему воронка заняла 11 часов?»" in words
    assert "Сверх запланированных часов: • Воронка: 11:00 из 10:00" in words
    assert "Подзадача: 45 мин с паузы 14 января" in words
    assert "[после паузы]" in text and "Телефонию — после воронки." in words
    html = render.html(rep)
    assert "Повестка еженедельной встречи" in html and "после паузы" in html
    summary = [c for row in openpyxl.load_workbook(io.BytesIO(render.xlsx(rep))).worksheets[0].iter_rows(
        values_only=True) for c in row if isinstance(c, str)]
    assert "Повестка еженедельной встречи" in summary and "Телефонию — после воронки." in " ".join(summary)
    chat = render.chat(rep)
    assert chat.endswith("2 запроса клиента ждут еженедельной встречи.")
    english = render.text(replace(rep, language="en"))
    assert "AGENDA FOR THE WEEKLY CALL" in english and "Do it first: Телефония" in " ".join(english.split())

    # Kept: deciding the requests and carrying the note change the ledger,
    # not the report already built.
    kept = rep.to_json()
    accept(book.s, ask, actor="mgr", now=book.now)
    row = SentReport(key="weekly:test", account_id=acc.id, week=rep.week, data=kept, digest=rep.digest,
                     built_at=rep.built_at, requested_by="test", status="built", recipients="", attempts=0)
    book.s.add(row)
    book.s.flush()
    agenda.mark_carried(book.s, row.id, [n.note_id for n in rep.notes], [])
    again = Report.from_json(kept)
    assert again == rep and render.text(again) == text and render.html(again) == html
    fresh = report(book, acc)
    assert [r.kind for r in fresh.requests] == ["question"] and fresh.notes == ()


def test_a_report_kept_before_the_agenda_existed_reads_and_renders_as_before(book: Book):
    acc = book.retainer(40)
    book.now = book.at(date(2026, 1, 19), 10)
    book.log(1, H, date(2026, 1, 13))
    rep = report(book, acc)
    assert not rep.has_agenda and rep.acts == ()
    import json

    old = json.loads(rep.to_json())
    for name in ("requests", "over_plan", "next_items", "paused_work", "notes", "acts"):
        del old[name]
    for line in old["lines"]:
        del line["paused"]
    kept = Report.from_json(json.dumps(old))
    assert kept == rep and render.html(kept) == render.html(rep)
    assert "ПОВЕСТКА" not in render.text(kept)


@pytest.mark.parametrize("text, call_on, says", [
    ("", date(2026, 1, 15), "a note needs its text"),
    ("   ", date(2026, 1, 15), "a note needs its text"),
    ("x" * 2001, date(2026, 1, 15), "a text is at most %(n)s characters"),
    ("заметка", date(2030, 1, 1), "the call's day is within a year of today"),
])
def test_a_broken_note_is_refused_whole(book: Book, text, call_on, says):
    acc = book.retainer(40)
    with pytest.raises(LedgerError) as refused:
        agenda.add_note(book.s, acc, call_on=call_on, text=text, author="mgr", now=book.now)
    assert refused.value.template == says
    assert book.s.execute(select(func.count()).select_from(CallNote)).scalar_one() == 0
