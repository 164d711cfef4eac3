"""The weekly report's renderings (reports.render): the e-mail, its plain
text, the chat summary, the subject and the XLSX, from hand-built reports.

Which durations the XLSX work log sums: every line of the week is a row,
people outside the team included (role "outside the team", note "not
debited"). Column "Debited" holds what the ledger counts (0 for outside
lines), so its sum is `report.week_s`; column "Logged" holds the time as
logged, so its sum over the outside rows is `report.others_s`, and over
every row `report.week_s + report.others_s` when nothing is rounded.
"""
from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.hours import format_hm
from reports.model import SCHEMA, DirectionLine, PersonTotal, Report, TaskTotal, WorkLine
from reports import render

ROOT = Path(__file__).resolve().parent.parent
H, M = 3600, 60
PORTAL = "romashka.bitrix24.ru"


def url(task_id: int) -> str:
    return f"https://{PORTAL}/company/personal/user/0/tasks/task/view/{task_id}/"


TASKS = {101: "Настройка воронки «Продажи»", 102: "Вопросы в чате", 103: "Инструкция по воронкам для менеджеров",
         104: "Интеграция с 1С: обмен счетами"}
DONE = {102, 103}


def line(day: int, user_id: int, person: str, role: str, task_id: int, comment: str, duration_s: int,
         counted_s: int | None = None, correction: bool = False) -> WorkLine:
    return WorkLine(day=date(2026, 11, day), user_id=user_id, person=person, role=role, task_id=task_id,
                    task=TASKS[task_id], url=url(task_id), comment=comment, duration_s=duration_s,
                    counted_s=duration_s if counted_s is None else counted_s, correction=correction,
                    team=bool(role))  # the builder leaves the role empty for people outside the team


LINES = (
    line(16, 1, "Анна Петрова", "project_manager", 101, "Поставила задачу разработчикам", 20 * M),
    line(16, 2, "Игорь Смирнов", "support", 102, "Ответил на вопрос в чате", 10 * M),
    line(17, 3, "Олег Кузнецов", "developer", 101, "Робот для сделок <на стадии «Счёт»>", 2 * H + 30 * M),
    line(18, 2, "Игорь Смирнов", "support", 103, "Видеоинструкция", 1 * H + 7 * M + 30),
    line(19, 1, "Анна Петрова", "project_manager", 104, "Согласовала формат обмена", 45 * M, correction=True),
    line(20, 9, "Мария Клиентова", "", 101, "Проверила воронку", 30 * M, counted_s=0),
    line(22, 3, "Олег Кузнецов", "developer", 104, "", 3 * H + 15 * M),
)


def totals(lines: tuple[WorkLine, ...]) -> dict:
    """What reports.build derives from the lines."""
    per_task: dict[int, int] = defaultdict(int)
    per_person: dict[int, int] = defaultdict(int)
    names = {}
    for x in lines:
        if x.counted_s:
            per_task[x.task_id] += x.counted_s
            per_person[x.user_id] += x.counted_s
            names[x.user_id] = (x.person, x.role)
    tasks = tuple(sorted((TaskTotal(t, TASKS[t], url(t), s, s + 5 * H, t in DONE) for t, s in per_task.items()),
                         key=lambda t: (-t.week_s, t.task_id)))
    people = tuple(sorted((PersonTotal(u, *names[u], s) for u, s in per_person.items()),
                          key=lambda p: (-p.week_s, p.user_id)))
    return {"tasks": tasks, "people": people, "week_s": sum(per_task.values()),
            "others_s": sum(x.duration_s for x in lines if not x.counted_s)}


def make(lines: tuple[WorkLine, ...] = LINES, **changes) -> Report:
    base = dict(
        schema=SCHEMA, account_id=7, account="ООО «Ромашка»", language="ru", portal=PORTAL,
        time_zone="Europe/Moscow", week="2026-W47", first_day=date(2026, 11, 16), last_day=date(2026, 11, 22),
        built_at=datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc), contract="retainer", period="2026-11",
        period_last_day=date(2026, 11, 30), expiry_policy="burn", allocated_s=47 * H, used_s=21 * H + 30 * M,
        left_s=25 * H + 30 * M, overage_s=0, rollover_in_s=5 * H, adjustment_s=2 * H, forecast="left",
        forecast_left_s=12 * H, forecast_burn_s=12 * H, forecast_carry_s=0, runs_out_on=None, warn_burn=False,
        lines=lines,
        in_progress=(TaskTotal(101, TASKS[101], url(101), 2 * H + 50 * M, 7 * H + 50 * M, False),
                     TaskTotal(104, TASKS[104], url(104), 4 * H, 9 * H, False)),
        directions=(DirectionLine("Продажи", 40 * H, 12 * H + 30 * M, 2 * H + 50 * M),
                    DirectionLine("Интеграции", 10 * H, 13 * H, 4 * H)),
    )
    base.update(totals(lines))
    base.update(changes)
    return Report(**base)


RU = make()
EN = make(language="en", account="Romashka LLC")
BURNING = make(warn_burn=True, forecast_burn_s=8 * H + 15 * M, forecast_left_s=8 * H + 15 * M)
OVERDRAWN = make(allocated_s=40 * H, used_s=45 * H + 20 * M, left_s=0, overage_s=5 * H + 20 * M, rollover_in_s=0,
                 adjustment_s=0, forecast="overdrawn", forecast_left_s=0, forecast_burn_s=0)
STAGED = make(contract="staged", period="Настройка CRM", period_last_day=None, expiry_policy=None,
              allocated_s=60 * H, used_s=20 * H, left_s=40 * H, rollover_in_s=0, adjustment_s=0, forecast="open_end",
              runs_out_on=date(2027, 2, 14), forecast_left_s=0, forecast_burn_s=0)
EMPTY = make(lines=(), used_s=0, left_s=47 * H, forecast="idle", in_progress=(), directions=())
ROUNDED = make(lines=(
    line(16, 1, "Анна Петрова", "project_manager", 101, "Созвон", 7 * M, counted_s=15 * M),
    line(17, 2, "Игорь Смирнов", "support", 102, "Чат", 10 * M + 20, counted_s=15 * M),
    line(18, 9, "Мария Клиентова", "", 102, "", 5 * M + 1, counted_s=0),
))
ALL = {"ru": RU, "en": EN, "burning": BURNING, "overdrawn": OVERDRAWN, "staged": STAGED, "empty": EMPTY,
       "rounded": ROUNDED}
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def words(markup: str) -> str:
    """The e-mail's text, tags and entities aside."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)\b.*?</\1>", " ", markup, flags=re.S)))


# ---------------------------------------------------------------- subject, chat, text, html

def test_subject():
    assert render.subject(RU) == "Отчёт о часах: ООО «Ромашка», 16–22 ноября 2026"
    assert render.subject(EN) == "Hours report: Romashka LLC, 16–22 November 2026"


def test_week_range_across_months_and_years():
    assert render.week_range(date(2026, 10, 26), date(2026, 11, 1)) == "26 октября – 1 ноября 2026"
    assert render.week_range(date(2025, 12, 29), date(2026, 1, 4)) == "29 декабря 2025 – 4 января 2026"
    assert render.week_range(date(2026, 11, 16), date(2026, 11, 22), "en") == "16–22 November 2026"


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_placeholders_left_and_language(name):
    report = ALL[name]
    for out in (render.html(report), render.text(report), render.chat(report), render.subject(report)):
        assert "%(" not in out and "%s" not in out and "{{" not in out
    body = words(render.html(report)) + render.text(report) + render.chat(report)
    if report.language == "ru":
        # Russian reports: none of the English sentences slipped through
        for english in ("Hours report", "This week", "Work done", "Total", "Left", "overage", "Development plan",
                        "By task", "By person", "In progress", "Built on", "Questions", "day left", "days left"):
            assert english not in body, english
    else:
        names = set(" ".join(x.person + " " + x.task + " " + x.comment for x in report.lines).split())
        names |= {report.account, "Продажи", "Интеграции"} | set(TASKS.values())
        stripped = body
        for text_ in sorted(names | set(TASKS.values()) | {x.comment for x in report.lines}, key=len, reverse=True):
            stripped = stripped.replace(text_, "")
        assert not CYRILLIC.search(stripped), CYRILLIC.findall(stripped)[:20]


def test_html_email_shape():
    out = render.html(RU)
    assert "<svg" not in out.lower() and "<img" not in out.lower() and "url(" not in out
    assert 'lang="ru"' in out
    # styles inlined (css-inline), the @media rules kept in a <style> block
    assert 'style="' in out and out.count('style="') > 50
    assert "@media" in out
    assert re.search(r'<td[^>]*class="card"[^>]*style="[^"]*background-color: #ffffff', out)
    assert 'width="640"' in out and "max-width: 640px" in out
    # Bitrix24 colours in the bars: green used, grey track
    assert "#1bce7b" in out and "#e6e7e9" in out
    text_ = words(out)
    assert "ООО «Ромашка»" in text_  # escaped in the markup, whole in the text
    assert "&lt;на стадии «Счёт»&gt;" in out  # a comment is text, never markup
    assert "Отчёт о часах за 16–22 ноября 2026" in text_
    assert PORTAL in text_
    assert "Ноябрь 2026" in text_
    assert "25 ч 30 мин" in text_ and "осталось из 47 ч · потрачено 21 ч 30 мин" in text_
    assert "Пакет 40 ч" in " ".join(text_.split()) and "Перенесено +5 ч" in " ".join(text_.split())
    assert "Корректировки +2 ч" in " ".join(text_.split())
    assert "Неиспользованные часы сгорят 30 ноября · осталось 8 дней" in text_
    assert "При текущем темпе 12 ч сгорят 30 ноября." in text_
    assert "#faa72c" not in out  # no warning box without warn_burn
    # the week: 20 min + 10 min + 2:30 + 1:07:30 + 45 min + 3:15 = 8:07:30 counted
    assert RU.week_s == 8 * H + 7 * M + 30
    assert "8 ч 7 мин" in text_ and "8:07" in text_
    assert "Понедельник, 16 ноября" in text_ and "Воскресенье, 22 ноября" in text_
    assert "руководитель проекта" in text_ and "специалист техподдержки" in text_ and "разработчик" in text_
    assert f'href="{url(101)}"' in out
    assert "Поставила задачу разработчикам" in text_
    assert "исправление" in text_  # the correction is marked
    assert "1:07" in text_ and "0:10" in text_ and "0:20" in text_
    # per task, per person, in progress, plan
    for heading in ("По задачам", "По сотрудникам", "В работе", "План развития", "Потрачено из плана"):
        assert heading in text_, heading
    assert "13:00 из 10:00" in text_ and "12:30 из 40:00" in text_
    assert "сделано" in text_
    # people outside the team: apart and never debited
    assert "Вне команды: не списывается" in text_
    assert "Ваши сотрудники отметили в этих задачах 30 мин: показываем, но не списываем." in text_
    assert "Мария Клиентова" in text_
    assert "23 ноября 2026 в 09:00 (Europe/Moscow)" in text_


def test_html_burn_warning_and_overdrawn_and_staged_and_empty():
    burning = render.html(BURNING)
    assert "При текущем темпе 8 ч 15 мин сгорят 30 ноября." in words(burning)
    assert "#faa72c" in burning and "#fff4e0" in burning  # the warning box and the orange bar

    over = words(render.html(OVERDRAWN))
    assert "перерасход 5 ч 20 мин" in over and "Потрачено 45 ч 20 мин из 40 ч" in over
    assert "Пакет израсходован; дальнейшая работа считается перерасходом." in over
    assert "#ff5752" in render.html(OVERDRAWN)
    assert "осталось из" not in over

    staged = words(render.html(STAGED))
    assert "Этап: Настройка CRM" in staged and "Бюджет этапа 60 ч" in " ".join(staged.split())
    assert "сгорят" not in staged and "сгорят" not in render.text(STAGED)
    assert "При текущем темпе бюджета хватит до 14 февраля 2027." in staged

    empty = render.html(EMPTY)
    assert "За неделю работа не отмечалась." in words(empty)
    assert "По задачам" not in words(empty) and "Вне команды" not in words(empty)
    assert "<svg" not in empty and "<img" not in empty


def test_a_busy_week_stays_under_gmails_clipping():
    """Gmail clips an HTML part above 102 KB: the e-mail lists the first
    EMAIL_MAX_LINES records and says how many more the attachment has."""
    busy = tuple(line(16 + i % 7, 1 + i % 3, "Анна Петрова", "project_manager", 101 + i % 4,
                      "Поставила задачу разработчикам, " * 20, 20 * M) for i in range(100))
    report = make(lines=busy)
    out = render.html(report)
    assert len(out.encode()) < 102_000
    hidden = re.search(r"Ещё (\d+) (записей|записи|запись) — в таблице во вложении\.", words(out))
    assert hidden and 100 - render.EMAIL_MAX_LINES <= int(hidden.group(1)) < 100
    shown = 100 - int(hidden.group(1))
    assert words(out).count("…") == shown  # every long comment is cut in the e-mail, whole in the XLSX
    assert "Итого за неделю" in words(out) and format_hm(report.week_s) in words(out)
    log = load(report)["Журнал"]
    assert log.max_row == 100 + 2 and log["F2"].value == busy[0].comment


def test_html_rounding_shows_the_time_as_logged():
    out = words(render.html(ROUNDED))
    assert "отмечено 0:07" in out and "0:15" in out
    assert "Время округлено по договору" in out


def test_html_english():
    out = words(render.html(EN))
    assert "Hours report for 16–22 November 2026" in out
    assert "25 h 30 min" in out and "left of 47 h · used 21 h 30 min" in out
    assert "Unused hours burn on 30 November · 8 days left" in out
    assert "project manager" in out and "correction" in out
    assert "Monday, 16 November" in out


def test_plural_forms_in_russian():
    def left(last_day: date) -> str:
        return words(render.html(make(period_last_day=last_day)))

    assert "остался 1 день" in left(date(2026, 11, 23))
    assert "осталось 2 дня" in left(date(2026, 11, 24))
    assert "осталось 5 дней" in left(date(2026, 11, 27))
    assert "остался 21 день" in left(date(2026, 12, 13))


def test_text_part():
    out = render.text(RU)
    assert out.startswith("Отчёт о часах: ООО «Ромашка», 16–22 ноября 2026\n")
    assert "Осталось 25 ч 30 мин из 47 ч · потрачено 21 ч 30 мин" in out
    assert "Пакет: 40 ч · Перенесено: +5 ч · Корректировки: +2 ч" in out
    assert "Неиспользованные часы сгорят 30 ноября · осталось 8 дней" in out
    assert "За неделю команда потратила 8 ч 7 мин." in out
    assert "ЧТО СДЕЛАНО ЗА НЕДЕЛЮ" in out
    lines = out.splitlines()
    # aligned: every duration of the work log ends in the same column
    log = lines[lines.index("ЧТО СДЕЛАНО ЗА НЕДЕЛЮ") + 2:]
    log = log[:log.index("")]
    ends = {len(x) for x in log if re.search(r"\d+:\d\d$", x)}
    assert len(ends) == 1, log
    assert any(x.startswith("пн 16.11") and x.endswith("0:20") for x in log)
    assert any(x.rstrip().endswith("8:07") and "Всего" in x for x in log)
    assert all(len(x) <= render.TEXT_WIDTH for x in log)
    assert "[исправление]" in out
    assert "ПО ЗАДАЧАМ" in out and "ПО СОТРУДНИКАМ" in out and "В РАБОТЕ" in out and "ПЛАН РАЗВИТИЯ" in out
    assert url(101) in out
    assert "ВНЕ КОМАНДЫ: НЕ СПИСЫВАЕТСЯ" in out and "Мария Клиентова" in out
    assert "<td" not in out and "</" not in out and "&lt;" not in out  # no markup in the plain text

    burning = render.text(BURNING)
    assert "!!! При текущем темпе 8 ч 15 мин сгорят 30 ноября." in burning
    over = render.text(OVERDRAWN)
    assert "Перерасход 5 ч 20 мин. Потрачено 45 ч 20 мин из 40 ч." in over
    assert "За неделю работа не отмечалась." in render.text(EMPTY)
    rounded = render.text(ROUNDED)
    assert "0:15*" in rounded and "* Округлено по договору" in rounded


def test_chat_summary():
    out = render.chat(RU)
    lines = out.splitlines()
    assert lines[0] == "[B]Отчёт о часах за 16–22 ноября 2026[/B]"
    assert lines[1] == "ООО «Ромашка» · Ноябрь 2026"
    assert "За неделю: [B]8 ч 7 мин[/B]" in lines
    assert "Осталось [B]25 ч 30 мин[/B] из 47 ч · потрачено 21 ч 30 мин" in lines
    tops = [x for x in lines if x.startswith("• ")]
    assert tops == [
        f"• [URL={url(104)}]{TASKS[104]}[/URL] — 4 ч",
        f"• [URL={url(101)}]{TASKS[101]}[/URL] — 2 ч 50 мин",
        f"• [URL={url(103)}]{TASKS[103]}[/URL] — 1 ч 7 мин",
    ]
    assert "Сотрудники клиента отметили 30 мин: не списывается." in lines
    burning = render.chat(BURNING)
    assert "⚠ [B]При текущем темпе 8 ч 15 мин сгорят 30 ноября.[/B]" in burning
    over = render.chat(OVERDRAWN)
    assert "[B]Перерасход 5 ч 20 мин[/B] (Потрачено 45 ч 20 мин из 40 ч)" in over
    assert "За неделю работа не отмечалась." in render.chat(EMPTY)
    # a task title with brackets never opens a tag
    tricky = make(tasks=(TaskTotal(1, "[B]жирно[/URL]", url(1), H, H, False),))
    assert "[B]жирно" not in render.chat(tricky) and "［B］жирно［/URL］" in render.chat(tricky)
    en = render.chat(EN)
    assert en.splitlines()[0] == "[B]Hours report for 16–22 November 2026[/B]"
    assert "This week: [B]8 h 7 min[/B]" in en


# ---------------------------------------------------------------- XLSX

def load(report: Report, data_only: bool = True):
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(render.xlsx(report)), data_only=data_only)


def seconds(value) -> int:
    """A duration cell as whole seconds: openpyxl reads `[h]:mm` numbers as
    timedelta (a duration format), plain numbers as days."""
    if isinstance(value, timedelta):
        return round(value.total_seconds())
    return round(value * 86400)


def data_rows(sheet):
    """The rows between the header and the totals row."""
    rows = list(sheet.iter_rows(min_row=2, values_only=False))
    return rows[:-1], rows[-1]


@pytest.mark.parametrize("name", sorted(ALL))
def test_xlsx_sheets_and_sums(name):
    report = ALL[name]
    book = load(report)
    expected = (["Сводка", "Журнал", "По задачам", "По сотрудникам"] if report.language == "ru"
                else ["Summary", "Work log", "By task", "By person"])
    assert book.sheetnames == expected
    summary, log, by_task, by_person = (book[n] for n in expected)

    # the work log: a row per line, outside the team included
    head = [c.value for c in log[1]]
    assert head[0] in ("Дата", "Date") and head[6] in ("Отмечено", "Logged") and head[7] in ("Списано", "Debited")
    rows, total = data_rows(log)
    assert len(rows) == len(report.lines)
    assert log.freeze_panes == "A2" and log.auto_filter.ref == f"A1:I{max(len(rows), 1) + 1}"
    for row, x in zip(rows, report.lines):
        assert row[0].value.date() == x.day and row[0].number_format in ("dd.mm.yyyy", "yyyy-mm-dd")
        assert row[6].number_format == "[h]:mm" and row[7].number_format == "[h]:mm"
        assert seconds(row[6].value) == x.duration_s and seconds(row[7].value) == x.counted_s
        assert row[4].value == x.task_id
        assert row[3].hyperlink is not None and row[3].hyperlink.target == x.url and row[3].value == x.task
    debited = sum(seconds(r[7].value) for r in rows)
    assert debited == report.week_s
    outside = [r for r in rows if r[2].value in ("вне команды", "outside the team")]
    assert sum(seconds(r[6].value) for r in outside) == report.others_s
    assert len(outside) == sum(1 for x in report.lines if render.is_outside(x))
    if report is not ROUNDED:
        assert sum(seconds(r[6].value) for r in rows) == report.week_s + report.others_s
    # the totals row: cached values equal the sums of the lines
    assert total[5].value in ("Всего", "Total")
    assert total[6].number_format == "[h]:mm" and total[7].number_format == "[h]:mm"
    if rows:
        assert seconds(total[6].value) == sum(x.duration_s for x in report.lines)
        assert seconds(total[7].value) == report.week_s
    else:
        assert seconds(total[7].value) == 0

    # by task and by person
    rows, total = data_rows(by_task)
    assert [r[1].value for r in rows] == [t.task_id for t in report.tasks]
    assert by_task.freeze_panes == "A2" and by_task.auto_filter.ref.startswith("A1:E")
    assert all(r[3].number_format == "[h]:mm" for r in rows)
    assert sum(seconds(r[3].value) for r in rows) == report.week_s == seconds(total[3].value or 0)
    assert all(r[0].hyperlink.target == t.url for r, t in zip(rows, report.tasks))
    rows, total = data_rows(by_person)
    assert [r[0].value for r in rows] == [p.person for p in report.people]
    assert by_person.freeze_panes == "A2" and by_person.auto_filter.ref.startswith("A1:C")
    assert sum(seconds(r[2].value) for r in rows) == report.week_s == seconds(total[2].value or 0)

    # the summary: numbers are durations too
    found = {row[0].value: row[1] for row in summary.iter_rows(min_row=3) if row[0].value and len(row) > 1}
    week_label = "За неделю, команда" if report.language == "ru" else "This week, the team"
    assert seconds(found[week_label].value) == report.week_s and found[week_label].number_format == "[h]:mm"
    if report.overage_s:
        assert seconds(found["Перерасход"].value) == report.overage_s
    else:
        left = found["Осталось" if report.language == "ru" else "Left"]
        assert seconds(left.value) == report.left_s


def test_xlsx_formulas_are_subtotals_with_cached_values():
    book = load(RU, data_only=False)
    log = book["Журнал"]
    last = len(RU.lines) + 2
    assert log[f"H{last}"].value == f"=SUBTOTAL(109,H2:H{last - 1})"
    assert log.column_dimensions["D"].width > 10


def test_xlsx_document_properties_and_zip_dates():
    data = render.xlsx(RU)
    book = load(RU)
    assert book.properties.created == datetime(2026, 11, 23, 6, 0)
    assert book.properties.title == render.subject(RU)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ---------------------------------------------------------------- the same bytes

RENDER_TWICE = """
import hashlib, sys
sys.path.insert(0, {root!r})
from tests.test_report_render import ALL
from reports import render
for name in sorted(ALL):
    r = ALL[name]
    print(name, hashlib.sha256(render.xlsx(r)).hexdigest(), hashlib.sha256(render.html(r).encode()).hexdigest(),
          hashlib.sha256(render.text(r).encode()).hexdigest())
"""


def test_same_report_same_bytes():
    for report in ALL.values():
        assert render.xlsx(report) == render.xlsx(report)
        assert render.html(report) == render.html(report)
        assert render.text(report) == render.text(report)
        assert render.chat(report) == render.chat(report)
    # and in other processes, with other hash seeds and another local zone
    outs = []
    for seed, tz in (("1", "UTC"), ("2", "America/Los_Angeles")):
        env = {"PYTHONHASHSEED": seed, "TZ": tz, "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-c", RENDER_TWICE.format(root=str(ROOT))], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        outs.append(done.stdout)
    assert outs[0] == outs[1] and outs[0].count("\n") == len(ALL)
    import hashlib

    here = {name: (hashlib.sha256(render.xlsx(r)).hexdigest(), hashlib.sha256(render.html(r).encode()).hexdigest())
            for name, r in ALL.items()}
    for row in outs[0].splitlines():
        name, xlsx_digest, html_digest, _text = row.split()
        assert here[name] == (xlsx_digest, html_digest)


def test_a_renamed_task_does_not_change_a_sent_report():
    """The report carries its names: rendering its JSON gives the same bytes."""
    again = Report.from_json(RU.to_json())
    assert render.xlsx(again) == render.xlsx(RU) and render.html(again) == render.html(RU)


# ---------------------------------------------------------------- the model

@pytest.mark.parametrize("name", sorted(ALL))
def test_json_round_trip(name):
    report = ALL[name]
    text_ = report.to_json()
    again = Report.from_json(text_)
    assert again == report
    assert again.to_json() == text_
    assert again.digest == report.digest


def test_json_refuses_another_schema():
    data = RU.to_json().replace(f'"schema":{SCHEMA}', '"schema":999')
    with pytest.raises(ValueError):
        Report.from_json(data)


def test_an_unknown_language_falls_back_to_russian():
    out = render.text(replace(RU, language="de"))
    assert "Отчёт о часах" in out
