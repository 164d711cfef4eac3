"""A project's timeline as a picture (issue 16): each stage planned (from the
previous stage's due date to its own) against actual (from its start to its
acceptance, or to today), the actual bar split into waiting and working,
with month ticks and today. Pure geometry in whole SVG units; the template
(`_project_timeline.html`) draws it on the server, like the months chart."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger import calendar as cal
from ledger.projects import ProjectStatus

WIDTH = 600  # the drawing's width in SVG units; the page scales it to the card
NARROW = 320  # the same for a phone (390 px): drawn near 1:1, the labels stay readable
ROW = 44  # one stage: its name, the planned bar, the actual bar
TOP = 22  # the month ticks' band
MAX_DAYS = 3 * 366  # beyond this the picture says nothing a person can read


@dataclass(frozen=True)
class Segment:
    kind: str  # "planned", "work", "wait", "late"
    x: int
    width: int
    start: date
    end: date


@dataclass(frozen=True)
class Row:
    label: str
    y: int
    segments: tuple[Segment, ...]
    state: str
    marks: tuple[tuple[int, bool], ...] = ()  # an upfront item's due date: (x, missed)


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    rows: tuple[Row, ...]
    ticks: tuple[tuple[int, date], ...]  # (x, first day of a month)
    today_x: int | None
    start: date
    end: date


def _span(p: ProjectStatus) -> tuple[date, date]:
    days = [p.starts_on, p.today]
    for st in p.stages:
        days += [d for d in (st.due_on, st.started_on, st.ended_on, st.late.finish_on if st.late else None) if d]
        days += [i.due_on for i in st.items if i.due_on]
    start, end = min(days), max(days)
    if (end - start).days > MAX_DAYS:
        end = date.fromordinal(start.toordinal() + MAX_DAYS)
    return start, max(end, date.fromordinal(start.toordinal() + 14))


def build(p: ProjectStatus, width: int = WIDTH, stage_label: str = "%(n)d. %(name)s") -> Timeline:
    """`width` in SVG units: the page draws a wide one and, for phones, a
    narrow one, so that the text keeps its size on both."""
    start, end = _span(p)
    total = (end - start).days + 1

    def x(day: date) -> int:
        return max(0, min(width, ((day - start).days) * width // total))

    def seg(kind: str, a: date, b: date) -> Segment | None:
        a, b = max(a, start), min(b, end)
        if b < a:
            return None
        x0 = x(a)
        return Segment(kind, x0, max(2, x(date.fromordinal(b.toordinal() + 1)) - x0), a, b)

    rows = []
    planned_from = p.starts_on
    for n, st in enumerate(p.stages):
        segments: list[Segment | None] = []
        if st.due_on is not None:
            segments.append(seg("planned", planned_from, st.due_on))
            planned_from = date.fromordinal(st.due_on.toordinal() + 1)
        if st.started_on is not None:
            until = st.ended_on or p.today
            work_from = st.first_work_on or (until if st.state == "done" else None)
            if work_from is None or work_from > st.started_on:  # waited before the work began
                wait_to = date.fromordinal((work_from or date.fromordinal(p.today.toordinal() + 1)).toordinal() - 1)
                segments.append(seg("wait", st.started_on, min(wait_to, until)))
            if work_from is not None:
                done_dates = [i.done_on for i in st.items]
                work_to = until
                if st.state == "done" and done_dates and all(done_dates):
                    work_to = max(d for d in done_dates if d)  # after this, the client's acceptance
                    if work_to < until:
                        segments.append(seg("wait", date.fromordinal(work_to.toordinal() + 1), until))
                work_to = max(work_from, min(work_to, until))
                late_from = st.due_on if st.due_on is not None and st.due_on < work_to else None
                if late_from is not None and late_from >= work_from:
                    segments.append(seg("work", work_from, late_from))
                    segments.append(seg("late", date.fromordinal(late_from.toordinal() + 1), work_to))
                else:
                    segments.append(seg("work", work_from, work_to))
        label = stage_label % {"n": st.position, "name": st.name} if st.id is not None else (st.name or "")
        marks = tuple((x(i.due_on), i.late is not None and i.late.kind == "missed")
                      for i in st.items if i.due_on and st.id is None)
        rows.append(Row(label, TOP + n * ROW, tuple(s for s in segments if s is not None), st.state, marks))
    ticks = []
    month = cal.add_months(cal.month_start(start), 1) if start.day != 1 else start
    while month <= end and len(ticks) < 40:
        ticks.append((x(month), month))
        month = cal.add_months(month, 1)
    today_x = x(p.today) if start <= p.today <= end else None
    return Timeline(width, TOP + len(rows) * ROW + 6, tuple(rows), tuple(ticks), today_x, start, end)
