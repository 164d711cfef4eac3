"""The weekly report, rendered: an HTML e-mail, its plain-text part, an XLSX
attachment, a project-chat summary and a subject line.

Pure functions of a `reports.model.Report`: no Flask, no database, no
Bitrix24. The same report renders to the same bytes on every run and in
every process (the report is kept as JSON with what was sent; PRODUCT.md
rule 5), so nothing here reads the clock or depends on hash order.

Russian first: the language is `report.language` ("ru" unless "en").
Messages come from the catalogs in `translations/` (reports.i18n); hours are formatted by
`ledger.hours` (never Babel's format_timedelta, which rounds).

Who is outside the team: a line with nothing counted and no role (the
builder gives people outside the team no role). Their time is shown apart
and never debited; `report.others_s` is its sum as logged.
"""
from __future__ import annotations

import io
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any

import css_inline
import xlsxwriter
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ledger import calendar as cal
from ledger.hours import format_hm, format_hours

from .i18n import LANGUAGES, translations
from .model import AgendaRequest, DirectionLine, PlanLine, Report, WorkLine

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"

# The app's look (static/css/app.css): Bitrix24's colours.
ACCENT, SUCCESS, WARNING, DANGER = "#0075ff", "#1bce7b", "#faa72c", "#ff5752"
TRACK = "#e6e7e9"

TEXT_WIDTH = 78  # the plain-text part's line length
CHAT_TOP = 3  # tasks named in the chat summary
# Time records listed in the e-mail; the rest are in the XLSX. Gmail clips an
# HTML part above 102 KB: a busy week lists fewer records until it fits.
EMAIL_MAX_LINES = 60
EMAIL_MAX_BYTES = 95_000
EMAIL_MAX_COMMENT = 280  # characters of a comment in the e-mail; the XLSX has it whole


# ------------------------------------------------------------------ language

def _lang(report: Report) -> str:
    return report.language if report.language in LANGUAGES else "ru"


class _Words:
    """Gettext and formatting in one report's language."""

    def __init__(self, lang: str, time_zone: str = "UTC"):
        self.lang = lang
        self.tz = time_zone
        t = translations(lang)  # reports.i18n: the compiled catalogs of translations/
        self.gettext: Callable[[str], str] = t.gettext
        self.ngettext: Callable[[str, str, int], str] = t.ngettext

    def hours(self, seconds: int) -> str:
        return format_hours(seconds, self.lang)

    def signed(self, seconds: int) -> str:
        return ("+" if seconds > 0 else "") + format_hours(seconds, self.lang)

    def day(self, value: date | None, pattern: str = "d MMMM") -> str:
        return format_date(value, pattern, locale=self.lang) if value else ""

    def weekday(self, value: date) -> str:
        text = format_date(value, "EEEE, d MMMM", locale=self.lang)
        return text[:1].upper() + text[1:]

    def short_day(self, value: date) -> str:
        return format_date(value, "EEEEEE dd.MM" if self.lang == "ru" else "EEE d MMM", locale=self.lang)

    def local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        try:
            return at.astimezone(cal.zone(self.tz))
        except ValueError:
            return at.astimezone(timezone.utc)


def week_range(first: date, last: date, lang: str = "ru") -> str:
    """«16–22 ноября 2026», «26 октября – 1 ноября 2026», «29 декабря 2025 – 4 января 2026»."""
    end = format_date(last, "d MMMM y", locale=lang)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{end}"
    if first.year == last.year:
        return f"{format_date(first, 'd MMMM', locale=lang)} – {end}"
    return f"{format_date(first, 'd MMMM y', locale=lang)} – {end}"


def _month_name(label: str, lang: str) -> str | None:
    m = re.fullmatch(r"(\d{4})-(\d{2})", label or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    text = format_date(date(int(m.group(1)), int(m.group(2)), 1), "LLLL yyyy", locale=lang)
    return text[:1].upper() + text[1:]


def month_in_sentence(label: str, lang: str) -> str:
    """«ноябрь 2026», "November 2026": a month inside a sentence."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", label or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        return label
    return format_date(date(int(m.group(1)), int(m.group(2)), 1), "LLLL y", locale=lang)


def _roles(w: _Words) -> dict[str, str]:
    _ = w.gettext
    return {"project_manager": _("project manager"), "support": _("support specialist"),
            "account_manager": _("account manager"), "assistant": _("assistant"),
            "configurator": _("configurator"), "developer": _("developer"), "specialist": _("specialist")}


def is_outside(line: WorkLine) -> bool:
    """Logged by someone outside the team: shown, never debited."""
    return not line.team


# ------------------------------------------------------------------ the view

def _percent(part: int, whole: int) -> int:
    """Whole percent of a bar, at least 1 for anything above zero."""
    if whole <= 0 or part <= 0:
        return 0
    return max(1, min(100, part * 100 // whole))


def _parts(pct: int, colour: str) -> list[tuple[int, str]]:
    """A bar: `pct` in `colour`, the rest as the track; empty cells left out."""
    return [(p, c) for p, c in ((pct, colour), (100 - pct, TRACK)) if p > 0]


def _view(report: Report, max_lines: int = EMAIL_MAX_LINES) -> dict[str, Any]:
    """Everything the renderings say, worded once in the report's language."""
    lang = _lang(report)
    w = _Words(lang, report.time_zone)
    _, ngettext = w.gettext, w.ngettext
    r = report
    roles = _roles(w)

    week = week_range(r.first_day, r.last_day, lang)

    # The period.
    if r.contract is None:
        period_label = _("No contract yet")
    elif r.contract == "staged":
        period_label = (_("Stage: %(name)s") % {"name": r.period}) if r.period else _("Implementation in stages")
    elif r.contract == "upfront":
        period_label = _("Project, paid upfront")
    else:
        period_label = _month_name(r.period or "", lang) or (r.period or "")

    over = r.overage_s > 0
    if r.contract is None:
        headline, headline_sub = "", ""
    elif over:
        headline = _("overage %(hours)s") % {"hours": w.hours(r.overage_s)}
        headline_sub = _("Used %(used)s of %(allocated)s") % {"used": w.hours(r.used_s),
                                                                "allocated": w.hours(r.allocated_s)}
    else:
        headline = w.hours(r.left_s)
        headline_sub = _("left of %(allocated)s · used %(used)s") % {"allocated": w.hours(r.allocated_s),
                                                                      "used": w.hours(r.used_s)}
    base_label = {"staged": _("Stage budget"), "upfront": _("Budget")}.get(r.contract or "", _("Package"))
    terms: list[tuple[str, str]] = []
    if r.contract is not None:
        terms.append((base_label, w.hours(r.allocated_s - r.rollover_in_s - r.adjustment_s)))
        if r.rollover_in_s:
            terms.append((_("Carried over"), w.signed(r.rollover_in_s)))
        if r.adjustment_s:
            terms.append((_("Adjustments"), w.signed(r.adjustment_s)))

    # The bar: used against allocated; all red when overdrawn.
    if over:
        bar = [(100, DANGER)]
    else:
        used_pct = _percent(r.used_s, r.allocated_s) if r.allocated_s > 0 else (100 if r.used_s else 0)
        bar = _parts(used_pct, WARNING if r.warn_burn else SUCCESS)

    # The burn date, the warning and the forecast.
    burn_line = warning = ""
    if r.contract == "retainer" and r.period_last_day is not None:
        date_text = w.day(r.period_last_day)
        if r.expiry_policy == "rollover":
            burn_line = _("The period ends on %(date)s; unused hours carry over") % {"date": date_text}
        else:
            burn_line = _("Unused hours burn on %(date)s") % {"date": date_text}
        days_left = (r.period_last_day - w.local(r.built_at).date()).days + 1
        if days_left > 0:
            burn_line += " · " + ngettext("%(num)d day left", "%(num)d days left", days_left) % {"num": days_left}
    if r.warn_burn:
        burn = w.hours(r.forecast_burn_s)
        if r.period_last_day is None:
            warning = _("At this pace %(hours)s will burn at the end of the period.") % {"hours": burn}
        elif r.expiry_policy == "rollover":
            warning = _("At this pace %(hours)s will burn on %(date)s (over the rollover limit).") % {
                "hours": burn, "date": w.day(r.period_last_day)}
        else:
            warning = _("At this pace %(hours)s will burn on %(date)s.") % {
                "hours": burn, "date": w.day(r.period_last_day)}
    forecast = ""
    if r.contract is not None:
        f = r.forecast
        if f == "overdrawn" or over:
            forecast = _("The package is used up; further work is counted as overage.")
        elif f == "runs_out" and r.runs_out_on:
            forecast = _("At this pace the package runs out on %(date)s.") % {"date": w.day(r.runs_out_on)}
        elif f == "left":
            if r.warn_burn:
                forecast = ""  # the warning says it
            elif r.forecast_burn_s and r.period_last_day:
                forecast = _("At this pace %(hours)s will burn on %(date)s.") % {
                    "hours": w.hours(r.forecast_burn_s), "date": w.day(r.period_last_day)}
            else:
                forecast = _("At this pace %(hours)s will be left at the end of the period.") % {
                    "hours": w.hours(r.forecast_left_s)}
        elif f == "open_end" and r.runs_out_on:
            forecast = _("At this pace the budget lasts until %(date)s.") % {"date": w.day(r.runs_out_on, "d MMMM y")}
        elif f == "idle":
            forecast = _("No hours used yet in this period.")
        elif f == "early":
            forecast = _("A forecast appears after the first days of the period.")

    # The week's work.
    team_lines = [x for x in r.lines if not is_outside(x)]
    outside_lines = [x for x in r.lines if is_outside(x)]

    def line_view(x: WorkLine) -> dict[str, Any]:
        comment = _one_line(x.comment)
        if len(comment) > EMAIL_MAX_COMMENT:
            comment = comment[:EMAIL_MAX_COMMENT - 1].rstrip() + "…"
        return {"line": x, "comment": comment, "day": w.short_day(x.day),
                "role": roles.get(x.role, x.role) if x.role else "",
                "hm": format_hm(x.counted_s if not is_outside(x) else x.duration_s),
                "logged": format_hm(x.duration_s), "rounded": not is_outside(x) and x.counted_s != x.duration_s}

    days = []
    shown = 0
    for day, group in groupby(sorted(team_lines, key=lambda x: x.day), key=lambda x: x.day):
        lines = list(group)
        rows = [line_view(x) for x in lines[:max(0, max_lines - shown)]]
        shown += len(rows)
        if rows:
            days.append({"day": day, "title": w.weekday(day), "total": format_hm(sum(x.counted_s for x in lines)),
                         "rows": rows})
    week_line = _("This week the team spent %(hours)s.") % {"hours": w.hours(r.week_s)}
    others_line = (_("Your own employees logged %(hours)s in these tasks: shown here, never debited.")
                   % {"hours": w.hours(r.others_s)}) if r.others_s else ""

    built = w.local(r.built_at)
    footer = _("Built on %(date)s at %(time)s (%(zone)s).") % {
        "date": w.day(built.date(), "d MMMM y"), "time": format_time(built, "HH:mm", locale=lang),
        "zone": r.time_zone}
    left_line = _("Left %(left)s of %(allocated)s · used %(used)s") % {
        "left": w.hours(r.left_s), "allocated": w.hours(r.allocated_s), "used": w.hours(r.used_s)}
    preheader = week_line + (" " + (headline_sub if over else left_line) if r.contract else "")
    return {
        "lang": lang, "w": w, "r": r, "subject": subject(report), "week": week, "period_label": period_label,
        "over": over, "headline": headline, "headline_sub": headline_sub, "terms": terms, "bar": bar,
        "burn_line": burn_line, "warning": warning, "forecast": forecast, "days": days,
        "team_lines": [line_view(x) for x in team_lines], "hidden_lines": len(team_lines) - shown,
        "outside": [line_view(x) for x in outside_lines],
        "any_correction": any(x.correction for x in team_lines),
        "any_paused": any(x.paused for x in team_lines), "agenda": agenda_view(report, w, v_burn=warning or forecast),
        "any_rounding": any(not is_outside(x) and x.counted_s != x.duration_s for x in team_lines),
        "week_line": week_line, "others_line": others_line, "roles": roles,
        "tasks": list(r.tasks),
        "people": [{"p": p, "role": roles.get(p.role, p.role), "bar": _parts(_percent(p.week_s, r.week_s), ACCENT)}
                   for p in r.people],
        "in_progress": list(r.in_progress),
        "directions": [_direction(d) for d in r.directions],
        "footer": footer, "preheader": preheader, "left_line": left_line, "portal_url": f"https://{r.portal}",
    }


def _direction(d: DirectionLine) -> dict[str, Any]:
    over = d.planned_s > 0 and d.spent_s > d.planned_s
    if over or (d.planned_s <= 0 and d.spent_s > 0):
        bar = [(100, DANGER if over else ACCENT)]
    else:
        bar = _parts(_percent(d.spent_s, d.planned_s), ACCENT)
    return {"d": d, "over": over, "bar": bar}


# ------------------------------------------------------------------ the call's agenda

def agenda_view(r: Report, w: _Words, v_burn: str = "") -> dict[str, Any]:
    """The weekly call's agenda as sections of one-line items, worded in the
    report's language; empty sections are left out. `v_burn` is what the
    report says will burn (its warning or forecast sentence)."""
    _ = w.gettext

    def request(x: AgendaRequest) -> str:
        kind = {"pause": _("pause"), "resume": _("resume"), "first": _("do it first"),
                "question": _("question"), "cap": _("limit to %(hours)s") % {"hours": w.hours(x.cap_s or 0)}
                }.get(x.kind, x.kind)
        text = f"{kind[:1].upper()}{kind[1:]}: {x.subject}" if x.subject else kind[:1].upper() + kind[1:]
        if x.text:
            text += f" — «{_one_line(x.text)}»" if w.lang == "ru" else f' — "{_one_line(x.text)}"'
        return text + f" ({x.author}, {w.day(x.created_on)})"

    def left(x: PlanLine) -> str:
        return _("%(spent)s of %(planned)s") % {"spent": format_hm(x.spent_s), "planned": format_hm(x.planned_s)}

    def name(x: PlanLine) -> str:
        return x.title or (f"#{x.task_id}" if x.task_id else "")

    sections = []
    if r.requests:
        sections.append({"title": _("The client's requests"), "items": [request(x) for x in r.requests]})
    if r.over_plan:
        sections.append({"title": _("Over the planned hours"), "items": [f"{name(x)}: {left(x)}" for x in r.over_plan]})
    if r.paused_work:
        sections.append({"title": _("Time logged after a pause"), "items": [
            _("%(task)s: %(hours)s since the pause on %(date)s") % {
                "task": x.task, "hours": w.hours(x.counted_s), "date": w.day(x.paused_on)} for x in r.paused_work]})
    # What will burn is on the agenda when there is one (a report kept before
    # agendas existed has none, and renders as it did).
    if v_burn and r.forecast_burn_s > 0 and sections:
        sections.append({"title": _("What will burn"), "items": [v_burn]})
    if r.next_items:
        sections.append({"title": _("Next in the plan"), "items": [
            f"{x.priority}. {name(x)}: {left(x)}" for x in r.next_items]})
    if r.notes:
        sections.append({"title": _("Notes from the call"), "items": [
            f"{w.day(x.call_on)}, {x.author}: {x.text}" for x in r.notes]})
    acts = [_("The act of work done for %(month)s is attached (PDF and XLSX).") % {
        "month": month_in_sentence(a.period, w.lang)} for a in r.acts]
    return {"title": _("Agenda for the weekly call"), "sections": sections, "acts": acts}


# ------------------------------------------------------------------ subject

def subject(report: Report) -> str:
    """«Отчёт о часах: ООО «Ромашка», 16–22 ноября 2026»."""
    lang = _lang(report)
    _ = _Words(lang).gettext
    week = week_range(report.first_day, report.last_day, lang)
    return _("Hours report: %(account)s, %(week)s") % {"account": report.account, "week": week}


# ------------------------------------------------------------------ HTML

@lru_cache(maxsize=4)
def _environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(hm=format_hm, hours=lambda s: format_hours(s, lang))
    return env


_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def html(report: Report) -> str:
    """The e-mail: tables for layout, styles inlined, no images, no SVG."""
    limit = EMAIL_MAX_LINES
    while True:
        v = _view(report, limit)
        page = _INLINER.inline(_environment(v["lang"]).get_template("reports/email.html").render(v=v, r=report))
        size = len(page.encode())
        if size <= EMAIL_MAX_BYTES or limit == 0:
            return page
        limit = max(0, min(limit - 1, limit * EMAIL_MAX_BYTES // size - 2))


# ------------------------------------------------------------------ plain text

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1
               for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = max(0, width - _width(text))
    return " " * gap + text if right else text + " " * gap


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out = ""
    for c in text:
        if _width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(_one_line(text), width=max(10, width), break_long_words=True,
                         break_on_hyphens=False) or [""]


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int],
           total: Sequence[str] | None = None, wrap_col: int | None = None, cap: int = 28) -> list[str]:
    """Aligned columns. A cell may hold several lines ("\n"); `numeric`
    columns are right-aligned; other columns are at most `cap` wide (longer
    lines are clipped with "…"), except `wrap_col`, which takes what is left
    of the line's width and wraps."""
    cells_of = [[[part for part in str(c).split("\n")] for c in row] for row in rows]
    head_cells = [[str(c)] for c in head]
    total_cells = [[str(c)] for c in total] if total else None
    every = [head_cells] + cells_of + ([total_cells] if total_cells else [])
    n = len(head)
    widths = [max(_width(part) for row in every for part in row[i]) for i in range(n)]
    for i in range(n):
        if i != wrap_col and i not in numeric:
            widths[i] = min(widths[i], cap)
    gap = 2
    if wrap_col is not None:
        others = sum(widths) - widths[wrap_col] + gap * (n - 1)
        widths[wrap_col] = max(16, min(widths[wrap_col], TEXT_WIDTH - others))
    rule = "-" * min(TEXT_WIDTH, sum(widths) + gap * (n - 1))
    out: list[str] = []

    def emit(row: list[list[str]]) -> None:
        cells = []
        for i, parts in enumerate(row):
            if i == wrap_col:
                cells.append([piece for part in parts for piece in _wrap(part, widths[i])])
            else:
                cells.append([_clip(part, widths[i]) for part in parts])
        for k in range(max(len(c) for c in cells)):
            line = [_pad(c[k] if k < len(c) else "", widths[i], i in numeric) for i, c in enumerate(cells)]
            out.append((" " * gap).join(line).rstrip())

    emit(head_cells)
    out.append(rule)
    for row in cells_of:
        emit(row)
    if total_cells:
        out.append(rule)
        emit(total_cells)
    return out


def text(report: Report) -> str:
    """The plain-text part: the same content as the e-mail, in aligned columns."""
    v = _view(report)
    w: _Words = v["w"]
    _ = w.gettext
    r = report
    out: list[str] = []

    def heading(title: str) -> None:
        out.extend(["", title.upper(), ""])

    out.append(v["subject"])
    out.append(_("Week %(week)s") % {"week": v["week"]} + f" · {r.portal}")

    heading(v["period_label"])
    if r.contract is not None:
        if v["over"]:
            out.append(f"{v['headline'][:1].upper()}{v['headline'][1:]}. {v['headline_sub']}.")
        else:
            out.append(v["left_line"])
        out.append(" · ".join(f"{label}: {value}" for label, value in v["terms"]))
        if v["burn_line"]:
            out.append(v["burn_line"])
        if v["warning"]:
            out.append("")
            out.append("!!! " + v["warning"])
            out.append("")
        if v["forecast"]:
            out.append(v["forecast"])
    out.append(v["week_line"])
    if v["others_line"]:
        out.append(v["others_line"])

    heading(_("Work done this week"))
    if not v["team_lines"]:
        out.append(_("No work was logged this week."))
    else:
        rows = []
        for x in v["team_lines"]:
            line: WorkLine = x["line"]
            who = line.person + (f"\n{x['role']}" if x["role"] else "")
            task = f"{_one_line(line.task)} (#{line.task_id})"
            if line.correction:
                task += " [" + _("correction") + "]"
            if line.paused:
                task += " [" + _("after the pause") + "]"
            if line.comment:
                task += "\n" + _one_line(line.comment)
            duration = x["hm"] + ("*" if x["rounded"] else "")
            rows.append([x["day"], who, task, duration])
        out.extend(_table([_("Date"), _("Who"), _("Task"), _("Time")], rows, {3},
                          total=["", "", _("Total"), format_hm(r.week_s)], wrap_col=2))
        if v["any_rounding"]:
            out.append("* " + _("Rounded as the contract says; the work log in the attachment has the time as logged."))
        if v["any_correction"]:
            out.append(_("Correction: work dated in a period already closed, counted in the current one."))
        if v["any_paused"]:
            out.append(_("After the pause: logged on a task paused at the client's request; counted, the manager decides."))

    if r.tasks:
        heading(_("By task"))
        rows = [[f"{_one_line(t.task)} (#{t.task_id})" + (" ✓ " + _("done") if t.done else ""), format_hm(t.week_s),
                 format_hm(t.period_s)]
                for t in r.tasks]
        out.extend(_table([_("Task"), _("This week"), _("This period")], rows, {1, 2},
                          total=[_("Total"), format_hm(sum(t.week_s for t in r.tasks)), ""], wrap_col=0))
        out.append("")
        out.extend(f"#{t.task_id}: {t.url}" for t in r.tasks if t.url)

    if r.people:
        heading(_("By person"))
        rows = [[p.person, w_role, format_hm(p.week_s)]
                for p, w_role in ((p, v["roles"].get(p.role, p.role)) for p in r.people)]
        out.extend(_table([_("Person"), _("Role"), _("This week")], rows, {2},
                          total=[_("Total"), "", format_hm(sum(p.week_s for p in r.people))]))

    if r.in_progress:
        heading(_("In progress"))
        rows = [[f"{t.task} (#{t.task_id})", format_hm(t.week_s), format_hm(t.period_s)] for t in r.in_progress]
        out.extend(_table([_("Task"), _("This week"), _("This period")], rows, {1, 2}, wrap_col=0))

    if r.directions:
        heading(_("Development plan"))
        rows = [[d["d"].name, format_hm(d["d"].planned_s), format_hm(d["d"].spent_s) + (" !" if d["over"] else ""),
                 format_hm(d["d"].period_s)] for d in v["directions"]]
        out.extend(_table([_("Direction"), _("Planned"), _("Spent"), _("This period")], rows, {1, 2, 3},
                          wrap_col=0))

    agenda = v["agenda"]
    if agenda["sections"]:
        heading(agenda["title"])
        for section in agenda["sections"]:
            out.append(section["title"] + ":")
            for item in section["items"]:
                out.extend(textwrap.wrap("• " + _one_line(item), width=TEXT_WIDTH, subsequent_indent="  ")
                           or ["•"])
            out.append("")
    for sentence in agenda["acts"]:
        out.append(sentence)

    if v["outside"]:
        heading(_("Outside the team: not debited"))
        out.append(v["others_line"])
        out.append("")
        rows = [[x["day"], x["line"].person, f"{_one_line(x['line'].task)} (#{x['line'].task_id})"
                 + ("\n" + _one_line(x["line"].comment) if x["line"].comment else ""), x["hm"]]
                for x in v["outside"]]
        out.extend(_table([_("Date"), _("Who"), _("Task"), _("Time")], rows, {3},
                          total=["", "", _("Total"), format_hm(r.others_s)], wrap_col=2))

    out.extend(["", "-- ", v["footer"],
                _("Questions about the report: ask in the project chat or at the next meeting."),
                f"Hourbook · {v['portal_url']}"])
    return "\n".join(line if line == "-- " else line.rstrip() for line in out) + "\n"


# ------------------------------------------------------------------ chat

def _bb(text: str) -> str:
    """User text inside BB-code: brackets would open tags, so they become
    their full-width look-alikes."""
    return _one_line(text).replace("[", "［").replace("]", "］")


def _bb_url(url: str) -> str:
    return url.replace("[", "%5B").replace("]", "%5D").replace(" ", "%20")


def chat(report: Report) -> str:
    """A few lines for the project chat (im.message.add, BB-code)."""
    v = _view(report)
    w: _Words = v["w"]
    _ = w.gettext
    r = report
    title = _("Hours report for %(week)s") % {"week": v["week"]}
    lines = [f"[B]{_bb(title)}[/B]",
             _bb(f"{r.account} · {v['period_label']}"),
             _("This week: %(hours)s") % {"hours": f"[B]{w.hours(r.week_s)}[/B]"}]
    if r.contract is not None:
        if v["over"]:
            lines.append(f"[B]{_bb(v['headline'][:1].upper() + v['headline'][1:])}[/B] ({_bb(v['headline_sub'])})")
        else:
            lines.append(_("Left %(left)s of %(allocated)s · used %(used)s") % {
                "left": f"[B]{w.hours(r.left_s)}[/B]", "allocated": w.hours(r.allocated_s), "used": w.hours(r.used_s)})
    if v["warning"]:
        lines.append(f"⚠ [B]{_bb(v['warning'])}[/B]")
    elif v["burn_line"]:
        lines.append(_bb(v["burn_line"]))
    if r.others_s:
        lines.append(_bb(_("The client's own employees logged %(hours)s: not debited.") % {"hours": w.hours(r.others_s)}))
    top = sorted(r.tasks, key=lambda t: (-t.week_s, t.task_id))[:CHAT_TOP]
    if top:
        lines.append("")
        lines.append(_("Most time this week:"))
        for t in top:
            name = f"[URL={_bb_url(t.url)}]{_bb(t.task)}[/URL]" if t.url else _bb(t.task)
            lines.append(f"• {name} — {w.hours(t.week_s)}")
    elif not r.lines:
        lines.append(_("No work was logged this week."))
    if r.requests or r.acts:
        lines.append("")
    if r.requests:
        lines.append(_bb(w.ngettext("%(num)d request of the client waits for the weekly call.",
                                    "%(num)d requests of the client wait for the weekly call.",
                                    len(r.requests)) % {"num": len(r.requests)}))
    for sentence in v["agenda"]["acts"]:
        lines.append(_bb(sentence))
    return "\n".join(lines)


# ------------------------------------------------------------------ XLSX

DURATION_FORMAT = "[h]:mm"


def _days(seconds: int) -> float:
    """Excel's duration: a number of days."""
    return seconds / 86400


def _excel_time(at: datetime) -> datetime:
    """An instant as XlsxWriter stores it: naive UTC."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at


def xlsx(report: Report) -> bytes:
    """The attachment: Summary, Work log, By task, By person. Durations are
    days with `[h]:mm` (sums work in Excel), totals are SUBTOTAL formulas
    with their values cached (nothing needs to recalculate them); dates are
    real dates. The same report always gives the same bytes: document times
    are the report's own and the zip entries are dated 1980-01-01."""
    v = _view(report)
    w: _Words = v["w"]
    _ = w.gettext
    r = report
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {
        "in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
        "remove_timezone": True, "default_date_format": "dd.mm.yyyy"})
    built = _excel_time(r.built_at)
    book.set_properties({
        "title": v["subject"], "subject": v["week"], "author": "Hourbook", "company": r.portal,
        "created": built, "comments": f"{r.week} {r.account_id} {r.portal}",
    })

    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#eef2f4", "bottom": 1, "border_color": "#d5d7db",
                            "valign": "top", "text_wrap": True})
    title = book.add_format({"bold": True, "font_size": 14})
    muted = book.add_format({"font_color": "#828b95"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    top_ = book.add_format({"valign": "top"})
    link = book.add_format({"font_color": ACCENT, "underline": 1, "valign": "top", "text_wrap": True})
    day_fmt = book.add_format({"num_format": "dd.mm.yyyy" if w.lang == "ru" else "yyyy-mm-dd", "valign": "top",
                               "align": "left"})
    dur = book.add_format({"num_format": DURATION_FORMAT, "valign": "top"})
    dur_total = book.add_format({"num_format": DURATION_FORMAT, "bold": True, "top": 1})
    total_label = book.add_format({"bold": True, "top": 1})
    total_blank = book.add_format({"top": 1})
    warn = book.add_format({"bold": True, "font_color": "#8a5300", "bg_color": "#fff4e0", "text_wrap": True})
    dur_danger = book.add_format({"num_format": DURATION_FORMAT, "bold": True, "font_color": "#a3201a"})
    when = book.add_format({"num_format": "dd.mm.yyyy hh:mm" if w.lang == "ru" else "yyyy-mm-dd hh:mm",
                            "align": "left"})

    def task_cell(sheet: Any, row: int, col: int, name: str, url: str) -> None:
        if url and url.startswith(("http://", "https://")) and len(url) <= 2079:
            if sheet.write_url(row, col, url, link, string=name) == 0:
                return
        sheet.write_string(row, col, name, wrap)

    def totals(sheet: Any, row: int, label_col: int, cols: dict[int, int], first: int, last: int,
               blanks: Iterable[int]) -> None:
        """A totals row: SUBTOTAL(109, …) sums what the filter shows; the
        cached value is the sum of every line."""
        for col in blanks:
            sheet.write_blank(row, col, None, total_blank)
        sheet.write_string(row, label_col, _("Total"), total_label)
        for col, seconds in cols.items():
            letter = xlsxwriter.utility.xl_col_to_name(col)
            if last >= first:
                sheet.write_formula(row, col, f"=SUBTOTAL(109,{letter}{first + 1}:{letter}{last + 1})", dur_total,
                                    _days(seconds))
            else:
                sheet.write_number(row, col, 0, dur_total)

    def widths(sheet: Any, columns: Sequence[tuple[str, int, int]], rows: Sequence[Sequence[str]]) -> None:
        for i, (_name, low, high) in enumerate(columns):
            longest = max([_width(_name)] + [_width(row[i]) for row in rows if i < len(row)])
            sheet.set_column(i, i, max(low, min(high, longest + 2)))

    # Summary ----------------------------------------------------------------
    s = book.add_worksheet(_("Summary"))
    s.hide_gridlines(2)
    s.set_column(0, 0, 34)
    s.set_column(1, 1, 22)
    s.set_column(2, 3, 14)
    s.write_string(0, 0, v["subject"], title)
    row = 2
    facts: list[tuple[str, Any, Any]] = [
        (_("Client"), r.account, None), (_("Portal"), r.portal, None), (_("Week"), v["week"], None),
        (_("First day"), r.first_day, day_fmt), (_("Last day"), r.last_day, day_fmt),
        (_("Period"), v["period_label"], None),
    ]
    if r.contract is not None:
        facts += [(_("Allocated"), r.allocated_s, dur)]
        if r.rollover_in_s:
            facts += [(_("Carried over"), r.rollover_in_s, dur)]
        if r.adjustment_s:
            facts += [(_("Adjustments"), r.adjustment_s, dur)]
        facts += [(_("Used"), r.used_s, dur)]
        facts += [(_("Overage"), r.overage_s, dur_danger)] if v["over"] else [(_("Left"), r.left_s, dur)]
        if r.period_last_day is not None:
            facts += [(_("Unused hours burn on") if r.expiry_policy != "rollover" else _("The period ends on"),
                       r.period_last_day, day_fmt)]
    facts += [(_("This week, the team"), r.week_s, dur)]
    if r.others_s:
        facts += [(_("This week, outside the team (not debited)"), r.others_s, dur)]
    for label, value, fmt in facts:
        s.write_string(row, 0, label, muted)
        if fmt is dur or fmt is dur_danger:
            s.write_number(row, 1, _days(value), fmt)
        elif fmt is day_fmt:
            s.write_datetime(row, 1, value, day_fmt)
        else:
            s.write_string(row, 1, str(value))
        row += 1
    for sentence, fmt in ((v["burn_line"], None), (v["warning"], warn), (v["forecast"], None)):
        if sentence:
            row += 1
            if fmt is warn:
                s.merge_range(row, 0, row, 3, sentence, warn)
                s.set_row(row, 30)
            else:
                s.write_string(row, 0, sentence)
    if v["others_line"]:
        row += 1
        s.write_string(row, 0, v["others_line"], muted)
    if r.directions:
        row += 2
        s.write_string(row, 0, _("Development plan"), bold)
        row += 1
        for col, name in enumerate((_("Direction"), _("Planned"), _("Spent"), _("This period"))):
            s.write_string(row, col, name, head)
        for d in r.directions:
            row += 1
            s.write_string(row, 0, d.name)
            s.write_number(row, 1, _days(d.planned_s), dur)
            s.write_number(row, 2, _days(d.spent_s), dur)
            s.write_number(row, 3, _days(d.period_s), dur)
    if r.in_progress:
        row += 2
        s.write_string(row, 0, _("In progress"), bold)
        row += 1
        for col, name in enumerate((_("Task"), _("This week"), _("This period"))):
            s.write_string(row, col, name, head)
        for t in r.in_progress:
            row += 1
            task_cell(s, row, 0, t.task, t.url)
            s.write_number(row, 1, _days(t.week_s), dur)
            s.write_number(row, 2, _days(t.period_s), dur)
    agenda = v["agenda"]
    if agenda["sections"] or agenda["acts"]:
        row += 1
        if agenda["sections"]:
            row += 1
            s.write_string(row, 0, agenda["title"], bold)
        for section in agenda["sections"]:
            row += 1
            s.write_string(row, 0, section["title"], muted)
            for item in section["items"]:
                row += 1
                s.write_string(row, 0, "• " + _one_line(item))
        for sentence in agenda["acts"]:
            row += 1
            s.write_string(row, 0, sentence, muted)
    row += 2
    s.write_string(row, 0, _("Built"), muted)
    s.write_datetime(row, 1, w.local(r.built_at).replace(tzinfo=None), when)
    s.write_string(row, 2, r.time_zone, muted)

    # Work log ---------------------------------------------------------------
    log = book.add_worksheet(_("Work log"))
    columns = [(_("Date"), 11, 12), (_("Person"), 12, 28), (_("Role"), 10, 24), (_("Task"), 20, 48),
               (_("Task ID"), 8, 10), (_("Comment"), 20, 60), (_("Logged"), 9, 11), (_("Debited"), 9, 11),
               (_("Note"), 10, 36)]
    for col, (name, _low, _high) in enumerate(columns):
        log.write_string(0, col, name, head)
    texts = []
    for i, line in enumerate(r.lines, start=1):
        outside = is_outside(line)
        role = _("outside the team") if outside else v["roles"].get(line.role, line.role)
        notes = []
        if outside:
            notes.append(_("not debited"))
        if line.correction:
            notes.append(_("correction: dated in a closed period"))
        if line.paused:
            notes.append(_("after the pause"))
        if not outside and line.counted_s != line.duration_s:
            notes.append(_("rounded"))
        note = "; ".join(notes)
        log.write_datetime(i, 0, line.day, day_fmt)
        log.write_string(i, 1, line.person, top_)
        log.write_string(i, 2, role, top_)
        task_cell(log, i, 3, line.task, line.url)
        log.write_number(i, 4, line.task_id, top_)
        log.write_string(i, 5, line.comment, wrap)
        log.write_number(i, 6, _days(line.duration_s), dur)
        log.write_number(i, 7, _days(line.counted_s), dur)
        log.write_string(i, 8, note, top_)
        texts.append(["00.00.0000", line.person, role, line.task, str(line.task_id), line.comment[:60], "", "", note])
    last = len(r.lines)
    totals(log, last + 1, 5, {6: sum(x.duration_s for x in r.lines), 7: sum(x.counted_s for x in r.lines)},
           1, last, (0, 1, 2, 3, 4, 8))
    widths(log, columns, texts)
    log.freeze_panes(1, 0)
    log.autofilter(0, 0, max(last, 1), len(columns) - 1)
    log.repeat_rows(0)

    # By task ----------------------------------------------------------------
    bt = book.add_worksheet(_("By task"))
    columns = [(_("Task"), 24, 60), (_("Task ID"), 8, 10), (_("Status"), 10, 16), (_("This week"), 10, 12),
               (_("This period"), 10, 12)]
    for col, (name, _low, _high) in enumerate(columns):
        bt.write_string(0, col, name, head)
    texts = []
    for i, t in enumerate(r.tasks, start=1):
        status = _("done") if t.done else _("in progress")
        task_cell(bt, i, 0, t.task, t.url)
        bt.write_number(i, 1, t.task_id, top_)
        bt.write_string(i, 2, status, top_)
        bt.write_number(i, 3, _days(t.week_s), dur)
        bt.write_number(i, 4, _days(t.period_s), dur)
        texts.append([t.task, str(t.task_id), status, "", ""])
    last = len(r.tasks)
    totals(bt, last + 1, 0, {3: sum(t.week_s for t in r.tasks)}, 1, last, (1, 2, 4))
    widths(bt, columns, texts)
    bt.freeze_panes(1, 0)
    bt.autofilter(0, 0, max(last, 1), len(columns) - 1)

    # By person --------------------------------------------------------------
    bp = book.add_worksheet(_("By person"))
    columns = [(_("Person"), 16, 32), (_("Role"), 12, 28), (_("This week"), 10, 12)]
    for col, (name, _low, _high) in enumerate(columns):
        bp.write_string(0, col, name, head)
    texts = []
    for i, p in enumerate(r.people, start=1):
        role = v["roles"].get(p.role, p.role)
        bp.write_string(i, 0, p.person, top_)
        bp.write_string(i, 1, role, top_)
        bp.write_number(i, 2, _days(p.week_s), dur)
        texts.append([p.person, role, ""])
    last = len(r.people)
    totals(bp, last + 1, 0, {2: sum(p.week_s for p in r.people)}, 1, last, (1,))
    widths(bp, columns, texts)
    bp.freeze_panes(1, 0)
    bp.autofilter(0, 0, max(last, 1), len(columns) - 1)

    book.close()
    return out.getvalue()


__all__ = ["html", "text", "xlsx", "chat", "subject", "week_range", "is_outside"]
