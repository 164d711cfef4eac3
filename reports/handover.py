"""The handover package (ledger.handover) written out: one XLSX workbook
(Summary, Scope, Payments, Tasks, Work log, People) in the account's
language, and the same data as JSON. Durations in the workbook are Excel
durations (`[h]:mm`); money is roubles with kopecks; dates are real dates."""
from __future__ import annotations

import io
import json
from datetime import date
from collections.abc import Sequence
from typing import Any

import xlsxwriter
from sqlalchemy.orm import Session

from . import act_render
from .act import Act, acts_of, stored
from .i18n import translations
from .render import ACCENT, DURATION_FORMAT


def as_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def xlsx(data: dict[str, Any]) -> bytes:
    language = data["account"]["language"]
    t = translations(language)
    _ = t.gettext
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False, "remove_timezone": True})
    book.set_properties({"title": _("Handover package: %(name)s") % {"name": data["account"]["name"]},
                         "author": "Hourbook"})
    head = book.add_format({"bold": True, "bg_color": "#eef2f4", "bottom": 1, "text_wrap": True, "valign": "top"})
    title = book.add_format({"bold": True, "font_size": 14})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    link = book.add_format({"font_color": ACCENT, "underline": 1, "valign": "top"})
    day_fmt = book.add_format({"num_format": "dd.mm.yyyy" if language == "ru" else "yyyy-mm-dd", "align": "left",
                               "valign": "top"})
    dur = book.add_format({"num_format": DURATION_FORMAT, "valign": "top"})
    rub = book.add_format({"num_format": "#,##0.00", "valign": "top"})

    def sheet(name: str, headers: list[str], widths: list[int]) -> Any:
        ws = book.add_worksheet(name[:31])
        for col, (text, width) in enumerate(zip(headers, widths)):
            ws.write_string(0, col, text, head)
            ws.set_column(col, col, width)
        ws.freeze_panes(1, 0)
        return ws

    def cell(ws: Any, row: int, col: int, value: Any, kind: str = "text") -> None:
        if value is None or value == "":
            ws.write_blank(row, col, None)
        elif kind == "s":
            ws.write_number(row, col, value / 86400, dur)
        elif kind == "minor":
            ws.write_number(row, col, value / 100, rub)
        elif kind == "date":
            ws.write_datetime(row, col, _day(value), day_fmt)
        elif kind == "url" and str(value).startswith(("http://", "https://")) and len(value) <= 2079:
            ws.write_url(row, col, value, link, string=str(value))
        elif isinstance(value, bool):
            ws.write_string(row, col, _("yes") if value else _("no"), wrap)
        elif isinstance(value, int):
            ws.write_number(row, col, value)
        else:
            ws.write_string(row, col, str(value), wrap)

    def rows(ws: Any, lines: list[list[tuple[Any, str]]]) -> None:
        for r, line in enumerate(lines, start=1):
            for c, (value, kind) in enumerate(line):
                cell(ws, r, c, value, kind)

    summary = book.add_worksheet(_("Summary")[:31])
    summary.set_column(0, 0, 28)
    summary.set_column(1, 1, 48)
    summary.write_string(0, 0, _("Handover package: %(name)s") % {"name": data["account"]["name"]}, title)
    facts: list[tuple[str, Any, str]] = [
        (_("Generated"), data["generated_at"], "date"), (_("Portal"), data["portal"]["domain"], "text"),
        (_("Time zone"), data["portal"]["time_zone"], "text"),
        (_("Hours counted"), data["totals"]["counted_s"], "s"), (_("Records"), data["totals"]["records"], "text")]
    project = data.get("project")
    if project:
        facts += [(_("Project"), project["title"] or project["kind"], "text"),
                  (_("Planned"), project["planned_s"], "s"), (_("Spent"), project["spent_s"], "s"),
                  (_("Price"), project["price_minor"], "minor"), (_("Paid"), project["paid_minor"], "minor")]
    for r, (label, value, kind) in enumerate(facts, start=2):
        summary.write_string(r, 0, label)
        cell(summary, r, 1, value, kind)

    kinds = {"setting": _("setting"), "integration": _("integration"), "widget": _("widget"),
             "training": _("training"), "instruction": _("instruction")}
    states = {"not_started": _("not started"), "in_progress": _("in progress"), "done": _("done"),
              "accepted": _("accepted")}
    ws = sheet(_("Scope"), [_("Stage"), _("Kind"), _("Item"), _("Planned"), _("Spent"), _("Due"), _("State"),
                            _("Done"), _("Accepted"), _("Tasks")], [22, 12, 36, 9, 9, 11, 12, 11, 11, 30])
    rows(ws, [[(i["stage"], "text"), (kinds.get(i["kind"], i["kind"]), "text"), (i["title"], "text"),
               (i["planned_s"], "s"), (i["spent_s"], "s"), (i["due_on"], "date"), (states.get(i["state"], ""), "text"),
               (i["done_on"], "date"), (i["accepted_on"], "date"),
               (" ".join(f"#{t['id']}" for t in i["tasks"]), "text")] for i in data["scope"]])
    ws = sheet(_("Payments"), [_("Stage"), _("Amount"), _("Due"), _("Paid"), _("Paid on")], [28, 14, 11, 8, 11])
    rows(ws, [[(p["stage"] or _("the project"), "text"), (p["amount_minor"], "minor"), (p["due_on"], "date"),
               (p["paid"], "text"), (p["paid_at"], "date")] for p in data["payments"]])
    stages = [(c, st) for c in data["contracts"] for st in c["stages"]]
    if stages:
        ws = sheet(_("Stages"), [_("Stage"), _("Budget"), _("Due"), _("Started"), _("Ended"), _("Accepted")],
                   [28, 9, 11, 11, 11, 11])
        rows(ws, [[(f"{st['position']}. {st['name']}", "text"), (st["budget_s"], "s"), (st["due_on"], "date"),
                   (st["started_at"], "date"), (st["ended_at"], "date"), (st["accepted_at"], "date")]
                  for _c, st in stages])
    ws = sheet(_("Tasks"), [_("Task"), _("Title"), _("Link"), _("Done"), _("Hours"), _("Scope item")],
               [9, 40, 40, 7, 9, 30])
    rows(ws, [[(t["id"], "text"), (t["title"], "text"), (t["url"], "url"), (t["done"], "text"),
               (t["counted_s"], "s"), (t["scope_item"], "text")] for t in data["tasks"]])
    ws = sheet(_("Work log"), [_("Date"), _("Person"), _("Role"), _("Task"), _("Title"), _("Comment"),
                               _("Logged"), _("Counted")], [11, 20, 16, 9, 32, 40, 9, 9])
    rows(ws, [[(e["date"], "date"), (e["person"] or f"#{e['user_id']}", "text"), (e["role"], "text"),
               (e["task_id"], "text"), (e["task"], "text"), (e["comment"], "text"), (e["duration_s"], "s"),
               (e["counted_s"], "s")] for e in data["work_log"]])
    ws = sheet(_("People"), [_("Person"), _("Role"), _("Logged"), _("Counted")], [24, 18, 9, 9])
    rows(ws, [[(p["name"] or f"#{p['user_id']}", "text"), (p["role"], "text"), (p["logged_s"], "s"),
               (p["counted_s"], "s")] for p in data["people"]]
         + [[(_("Role: %(role)s") % {"role": r["role"]}, "text"), ("", "text"), ("", "text"), (r["counted_s"], "s")]
            for r in data["roles"]])
    if data.get("acts"):
        # One line per month's act as it was kept; its own PDF and XLSX
        # (act-NUMBER.*) come beside the package from the CLI.
        ws = sheet(_("Acts"), [_("Month"), _("Act"), _("Package"), _("Used"), _("Burned"), _("Carried"),
                               _("Overage"), _("Price")], [10, 14, 9, 9, 9, 9, 9, 12])
        rows(ws, [[(a["period"], "text"), (a["number"], "text"), (a["package_s"], "s"), (a["used_s"], "s"),
                   (a["burned_s"], "s"), (a["carried_s"], "s"), (a["overage_s"], "s"), (a["price_minor"], "minor")]
                  for a in data["acts"]])
    book.close()
    return out.getvalue()


def with_acts(session: Session, data: dict[str, Any]) -> tuple[dict[str, Any], list[Act]]:
    """The package with the account's monthly acts as they were kept (each
    act's own JSON, oldest month first), and the acts themselves for their
    PDF and XLSX files."""
    kept = [stored(row) for row in reversed(acts_of(session, data["account"]["id"]))]
    return {**data, "acts": [json.loads(a.to_json()) for a in kept]}, kept


def files(data: dict[str, Any], acts: Sequence[Act] = ()) -> dict[str, bytes]:
    """The package's files by name: what the CLI writes and the page serves
    (the page serves the workbook and the JSON; the CLI writes the acts'
    PDF and XLSX beside them, the same bytes the cabinet downloads)."""
    stem = f"handover-{data['account']['id']}"
    out = {f"{stem}.xlsx": xlsx(data), f"{stem}.json": as_json(data)}
    for act in acts:
        out[act_render.filename(act, "pdf")] = act_render.pdf(act)
        out[act_render.filename(act, "xlsx")] = act_render.xlsx(act)
    return out
