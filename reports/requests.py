"""What the project chat hears of a client's request: one short message
(BB-code) per request, in the account's language, Russian first."""
from __future__ import annotations

from ledger.hours import format_hours

from .i18n import translations


def _bb(text: str) -> str:
    """The client's words as plain text: BB-code brackets would format them."""
    return text.replace("[", "(").replace("]", ")")


def chat_text(account: str, language: str, kind: str, about: str, author: str, source: str,
              cap_s: int | None, text: str, page_url: str = "") -> str:
    _ = translations(language).gettext
    what = {
        "pause": _("pause «%(about)s»"),
        "resume": _("resume «%(about)s»"),
        "cap": _("set %(hours)s a month for «%(about)s»"),
        "first": _("do «%(about)s» first"),
        "question": _("a question about «%(about)s»"),
    }.get(kind, kind) % {"about": _bb(about or "—"), "hours": format_hours(cap_s or 0, language)}
    where = _("from the widget") if source == "widget" else _("from the cabinet")
    lines = ["[B]Hourbook[/B] " + _("%(account)s: a request %(where)s — %(author)s: %(what)s.") % {
        "account": _bb(account), "author": _bb(author), "where": where, "what": what}]
    if text:
        lines.append("«" + _bb(text[:500]) + "»")
    lines.append(_("Accept or decline it on the app's page.") + (f" {page_url}" if page_url else ""))
    return "\n".join(lines)
