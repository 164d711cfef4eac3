"""The monthly act, rendered: a PDF (fpdf2, DejaVu Sans embedded, so
Cyrillic reads the same on every machine) and an XLSX.

Pure functions of a `reports.act.Act`: the same act gives the same bytes on
every run. Every date inside the files is the act's own (the month's close):
the PDF's creation date and its file id (a hash of its content), the
workbook's document properties; XlsxWriter dates its zip entries 1980-01-01.

Russian first: the language is the act's (the account's), "ru" unless "en".
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xlsxwriter
from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos

from ledger.hours import format_hm

from .act import Act
from .render import DURATION_FORMAT, _days, _excel_time, _month_name, _Words, month_in_sentence

FONTS = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT = "DejaVu"
PDF_TYPE = "application/pdf"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filename(act: Act, ext: str) -> str:
    return f"act-{act.number}.{ext}"


def money(minor: int, currency: str = "RUB") -> str:
    """1 234 567,50 ₽: spaces between thousands, kopecks only when there are any."""
    whole, part = divmod(abs(minor), 100)
    text = f"{whole:,}".replace(",", "\u00a0") + (f",{part:02d}" if part else "")
    return ("−" if minor < 0 else "") + f"{text}\u00a0{'₽' if currency == 'RUB' else currency}"


def _signed_hm(seconds: int) -> str:
    return ("+" if seconds > 0 else "−" if seconds < 0 else "") + format_hm(abs(seconds))


class _Text:
    """Everything the act says, worded once in its language."""

    def __init__(self, act: Act) -> None:
        self.act = act
        self.w = _Words(act.language if act.language in ("ru", "en") else "ru", act.time_zone)
        _ = self.w.gettext
        a = act
        self.lang = self.w.lang
        self.month = _month_name(a.period, self.lang) or a.period
        self.title = _("Act of work done No. %(number)s") % {"number": a.number}
        self.subtitle = _("for %(month)s") % {"month": month_in_sentence(a.period, self.lang)}
        self.date = self.w.day(a.last_day, "d MMMM y")
        contract = a.contract or _("Support retainer")
        self.facts: list[tuple[str, str]] = [
            (_("Client"), a.account),
            (_("Contract"), _("%(contract)s, since %(date)s") % {
                "contract": contract, "date": self.w.day(a.contract_since, "d MMMM y")}),
            (_("Portal"), a.portal),
            (_("Period"), f"{self.w.day(a.first_day, 'd MMMM y')} – {self.w.day(a.last_day, 'd MMMM y')}"),
        ]
        if a.rounding == "none" or a.rounding_step_s <= 1:
            self.rounding = _("Hours as logged: the contract asks for no rounding.")
        else:
            step = format_hm(a.rounding_step_s)
            self.rounding = {
                "up": _("Each time entry rounded up to %(step)s, as the contract says."),
                "down": _("Each time entry rounded down to %(step)s, as the contract says."),
                "nearest": _("Each time entry rounded to the nearest %(step)s, as the contract says."),
            }[a.rounding] % {"step": step}
        # The month's hours, as the ledger's terms (PRODUCT.md rule 3).
        self.terms: list[tuple[str, int, bool]] = [(_("Package for the month"), a.package_s, False)]
        if a.rollover_in_s:
            self.terms.append((_("Carried over from earlier months"), a.rollover_in_s, True))
        if a.adjustment_s:
            self.terms.append((_("Adjustments"), a.adjustment_s, True))
        if a.deducted_s:
            self.terms.append((_("Overage of the month before, deducted"), a.deducted_s, True))
        self.terms.append((_("Work done (the tasks above)"), -a.tasks_s, True))
        if a.corrections:
            self.terms.append((_("Corrections to earlier months"), -a.corrections_s, True))
        if a.overage_s:
            self.terms.append((_("Overage, billed") if a.overage_billed
                               else _("Overage, deducted from the next month"), a.overage_s, True))
        self.terms.append((_("Burned at the month's end"), -a.burned_s, True))
        self.terms.append((_("Carried over to the next month"), -a.carried_s, True))
        self.price = money(a.price_minor, a.currency) if a.price_minor else ""
        self.closing = _("Hours used: %(used)s of %(available)s. Burned: %(burned)s. Carried over: %(carried)s.") % {
            "used": self.w.hours(a.used_s), "available": self.w.hours(a.available_s),
            "burned": self.w.hours(a.burned_s), "carried": self.w.hours(a.carried_s)}
        self.footer = _("Made by Hourbook from the hours ledger; the month closed on %(date)s.") % {
            "date": self.w.day(self.w.local(a.closed_at).date(), "d MMMM y")}
        self.g = _


# ------------------------------------------------------------------ PDF


class _Pdf(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(130, 139, 149)
        self.cell(0, 5, f"{self._footer_text}   {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def pdf(act: Act) -> bytes:
    """The act as a one-or-more-page A4 PDF."""
    t = _Text(act)
    _ = t.g
    doc = _Pdf(t.footer)
    doc.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    doc.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    closed = act.closed_at if act.closed_at.tzinfo else act.closed_at.replace(tzinfo=timezone.utc)
    doc.set_creation_date(closed)
    doc.set_title(f"{t.title} {t.subtitle}")
    doc.set_subject(act.account)
    doc.set_author("Hourbook")
    doc.set_creator("Hourbook")
    doc.set_producer("Hourbook")
    doc.set_lang(t.lang)
    doc.set_auto_page_break(auto=True, margin=18)
    doc.set_margins(16, 16, 16)
    doc.add_page()

    doc.set_font(FONT, "B", 15)
    doc.multi_cell(0, 7.5, t.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_font(FONT, "", 11)
    doc.cell(0, 6, t.subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_text_color(130, 139, 149)
    doc.cell(0, 6, t.date, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_text_color(0, 0, 0)
    doc.ln(3)

    doc.set_font(FONT, "", 9.5)
    with doc.table(col_widths=(32, 146), first_row_as_headings=False, borders_layout=TableBordersLayout.NONE,
                   line_height=5.5, padding=(0.6, 1)) as table:
        for label, value in t.facts:
            row = table.row()
            row.cell(label)
            row.cell(value)
    doc.ln(4)

    doc.set_font(FONT, "B", 11)
    doc.cell(0, 7, _("Work done"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_font(FONT, "", 9)
    _hours_table(doc, [_("No."), _("Task"), _("Task ID"), _("Hours")],
                 [[str(n), x.task, f"#{x.task_id}", format_hm(x.counted_s)]
                  for n, x in enumerate(act.tasks, start=1)],
                 [_("Total"), format_hm(act.tasks_s)], (12, 118, 22, 26), _("No work was done this month."))
    if act.corrections:
        doc.ln(3)
        doc.set_font(FONT, "B", 11)
        doc.cell(0, 7, _("Corrections to earlier months"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        doc.set_font(FONT, "", 8.5)
        doc.set_text_color(90, 96, 104)
        doc.multi_cell(0, 4.5, _("Changes to work dated in a month already closed: counted in this month, "
                                 "named by the month the work was done in."), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        doc.set_text_color(0, 0, 0)
        doc.set_font(FONT, "", 9)
        _hours_table(doc, [_("Month"), _("Task"), _("Task ID"), _("Hours")],
                     [[_month_name(c.origin, t.lang) or c.origin, c.task, f"#{c.task_id}", _signed_hm(c.counted_s)]
                      for c in act.corrections],
                     [_("Total"), _signed_hm(act.corrections_s)], (30, 100, 22, 26), "")
    doc.ln(2)
    doc.set_font(FONT, "", 8.5)
    doc.set_text_color(90, 96, 104)
    doc.multi_cell(0, 4.5, t.rounding, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_text_color(0, 0, 0)
    doc.ln(3)

    # The month's hours, the price and the signatures stay on one page.
    if doc.will_page_break(7 + 7.5 * len(t.terms) + 75):
        doc.add_page()
    doc.set_font(FONT, "B", 11)
    doc.cell(0, 7, _("Hours of the month"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_font(FONT, "", 9.5)
    with doc.table(col_widths=(130, 48), first_row_as_headings=False,
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, line_height=5.5, padding=(0.8, 1),
                   text_align=("LEFT", "RIGHT")) as table:
        for label, seconds, signed in t.terms:
            row = table.row()
            row.cell(label)
            row.cell(_signed_hm(seconds) if signed else format_hm(seconds))
    doc.ln(2)
    doc.set_font(FONT, "B", 9.5)
    doc.multi_cell(0, 5.5, t.closing, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if t.price:
        doc.ln(1)
        doc.set_font(FONT, "B", 11)
        doc.cell(0, 7, _("Price for the month: %(price)s") % {"price": t.price}, new_x=XPos.LMARGIN,
                 new_y=YPos.NEXT)
    doc.ln(4)
    doc.set_font(FONT, "", 9)
    doc.multi_cell(0, 5, _("The work above was done in full and on time; the client has no claims "
                           "on its scope, quality or timing."), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.ln(10)
    y = doc.get_y()
    for x, label in ((16, _("Contractor")), (110, _("Customer"))):
        doc.set_xy(x, y)
        doc.cell(84, 5, label)
        doc.set_xy(x, y + 11)
        doc.cell(84, 5, "_" * 30 + "  /" + " " * 14 + "/")
    return bytes(doc.output())


def _hours_table(doc: FPDF, head: Sequence[str], rows: Sequence[Sequence[str]], total: Sequence[str],
                 widths: Sequence[float], empty: str) -> None:
    """A table whose last column is hours, with a totals row; the heading
    repeats on every page it runs over."""
    if not rows and empty:
        doc.set_text_color(90, 96, 104)
        doc.cell(0, 6, empty, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        doc.set_text_color(0, 0, 0)
        return
    align = ["LEFT"] * (len(head) - 1) + ["RIGHT"]
    with doc.table(col_widths=tuple(widths), text_align=tuple(align), line_height=5,
                   borders_layout=TableBordersLayout.SINGLE_TOP_LINE, padding=(0.8, 1),
                   headings_style=_heading(doc), repeat_headings=1) as table:
        row = table.row()
        for cell in head:
            row.cell(cell)
        for values in rows:
            row = table.row()
            for cell in values:
                row.cell(cell)
        row = table.row()
        row.cell(total[0], colspan=len(head) - 1, style=_bold())
        row.cell(total[1], style=_bold())


def _heading(doc: FPDF) -> Any:
    from fpdf.fonts import FontFace

    return FontFace(family=FONT, emphasis="BOLD", fill_color=(238, 242, 244))


def _bold() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(family=FONT, emphasis="BOLD")


# ------------------------------------------------------------------ XLSX


def xlsx(act: Act) -> bytes:
    """The act as a workbook: one sheet, the same content as the PDF;
    hours are Excel durations (`[h]:mm`), so they sum."""
    t = _Text(act)
    _ = t.g
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False, "remove_timezone": True})
    book.set_properties({"title": f"{t.title} {t.subtitle}", "subject": act.period, "author": "Hourbook",
                         "company": act.portal, "created": _excel_time(act.closed_at),
                         "comments": f"{act.number} {act.digest[:16]}"})
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    muted = book.add_format({"font_color": "#828b95"})
    head = book.add_format({"bold": True, "bg_color": "#eef2f4", "bottom": 1, "border_color": "#d5d7db"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    top = book.add_format({"valign": "top"})
    dur = book.add_format({"num_format": DURATION_FORMAT, "valign": "top"})
    signed = book.add_format({"num_format": "+[h]:mm;-[h]:mm;0:00", "valign": "top"})
    dur_total = book.add_format({"num_format": DURATION_FORMAT, "bold": True, "top": 1})
    total_label = book.add_format({"bold": True, "top": 1})
    blank = book.add_format({"top": 1})
    day = book.add_format({"num_format": "dd.mm.yyyy" if t.lang == "ru" else "yyyy-mm-dd", "align": "left"})

    s = book.add_worksheet(_("Act"))
    s.hide_gridlines(2)
    s.set_column(0, 0, 34)
    s.set_column(1, 1, 58)
    s.set_column(2, 3, 12)
    s.write_string(0, 0, t.title, title)
    s.write_string(1, 0, t.subtitle)
    s.write_datetime(2, 0, datetime.combine(act.last_day, datetime.min.time()), day)
    row = 4
    for label, value in t.facts:
        s.write_string(row, 0, label, muted)
        s.write_string(row, 1, value)
        row += 1

    def hours_table(row: int, heading: str, names: Sequence[str], lines: Sequence[tuple[str, str, int, int]],
                    total_s: int, fmt: Any) -> int:
        s.write_string(row, 0, heading, bold)
        row += 1
        for col, name in enumerate(names):
            s.write_string(row, col, name, head)
        first = row + 1
        for a, b, task_id, seconds in lines:
            row += 1
            s.write_string(row, 0, a, top)
            s.write_string(row, 1, b, wrap)
            s.write_number(row, 2, task_id, top)
            s.write_number(row, 3, _days(seconds), fmt)
        row += 1
        s.write_blank(row, 1, None, blank)
        s.write_blank(row, 2, None, blank)
        s.write_string(row, 0, _("Total"), total_label)
        if lines:
            s.write_formula(row, 3, f"=SUM(D{first + 1}:D{row})", dur_total, _days(total_s))
        else:
            s.write_number(row, 3, 0, dur_total)
        return row + 2

    row = hours_table(row + 1, _("Work done"), (_("No."), _("Task"), _("Task ID"), _("Hours")),
                      [(str(n), x.task, x.task_id, x.counted_s) for n, x in enumerate(act.tasks, start=1)],
                      act.tasks_s, dur)
    if act.corrections:
        row = hours_table(row, _("Corrections to earlier months"), (_("Month"), _("Task"), _("Task ID"), _("Hours")),
                          [(_month_name(c.origin, t.lang) or c.origin, c.task, c.task_id, c.counted_s)
                           for c in act.corrections], act.corrections_s, signed)
    s.write_string(row, 0, t.rounding, muted)
    row += 2
    s.write_string(row, 0, _("Hours of the month"), bold)
    for label, seconds, is_signed in t.terms:
        row += 1
        s.write_string(row, 0, label)
        s.write_number(row, 3, _days(seconds), signed if is_signed else dur)
    row += 2
    s.write_string(row, 0, t.closing, bold)
    if t.price:
        row += 1
        s.write_string(row, 0, _("Price for the month"), bold)
        s.write_number(row, 3, act.price_minor / 100, book.add_format(
            {"num_format": '#,##0.00 "₽"' if act.currency == "RUB" else f'#,##0.00 "{act.currency}"', "bold": True}))
    row += 2
    s.write_string(row, 0, t.footer, muted)
    s.fit_to_pages(1, 0)
    s.set_paper(9)
    book.close()
    return out.getvalue()


__all__ = ["pdf", "xlsx", "filename", "money", "PDF_TYPE", "XLSX_TYPE"]
