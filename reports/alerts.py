"""What an alert says: one short text for the project chat (BB-code) and,
for the client, the same as an e-mail. Russian first, English when the
account's language is English."""
from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.utils import formataddr

from babel.dates import format_date
from babel.support import Translations

from ledger.hours import format_hours

from .i18n import translations
from .mail import POLICY


def _t(language: str) -> Translations:
    return translations(language)


def period_name(kind: str, label: str, stage: str | None, language: str) -> str:
    """«ноябрь 2026», «этап «Настройка CRM»», «проект»."""
    _ = _t(language).gettext
    if kind == "month":
        year, number = (int(x) for x in label.split("-"))
        return format_date(date(year, number, 1), "LLLL yyyy", locale=language)
    if kind == "stage":
        return _("stage «%(name)s»") % {"name": stage or label}
    return _("the project")


def text(account: str, language: str, period: str, kind: str, detail: dict) -> str:
    """`period` as `period_name` gives it."""
    t = _t(language)
    _ = t.gettext
    hours = lambda s: format_hours(int(s), language)  # noqa: E731
    when = period
    if kind == "used_80":
        body = _("%(account)s, %(period)s: %(used)s of %(allocated)s used — 80%% of the package.") % {
            "account": account, "used": hours(detail["used_s"]), "allocated": hours(detail["allocated_s"]),
            "period": when}
    elif kind == "used_100":
        body = _("%(account)s, %(period)s: the package of %(allocated)s is used up (%(used)s); further work "
                 "is overage.") % {"account": account, "used": hours(detail["used_s"]),
                                   "allocated": hours(detail["allocated_s"]), "period": when}
    elif kind == "burn_soon":
        last = detail.get("last_day")
        day = format_date(date.fromisoformat(last), "d MMMM", locale=language) if last else ""
        body = _("%(account)s: at the current pace %(hours)s will burn on %(date)s. Time to set tasks.") % {
            "account": account, "hours": hours(detail["burn_s"]), "date": day}
    elif kind.startswith("cap:"):
        what = (_("task #%(id)s") if detail.get("scope") == "task" else _("direction #%(id)s")) % {
            "id": detail.get("ref_id")}
        body = _("%(account)s: the cap on %(what)s is reached: %(used)s of %(limit)s.") % {
            "account": account, "what": what, "used": hours(detail["used_s"]), "limit": hours(detail["limit_s"])}
    elif kind.startswith("stall:"):
        body = stall_text(account, language, kind, detail)
    else:
        body = f"{account}: {kind}"
    return "[B]Hourbook[/B] " + body


def plain(message_text: str) -> str:
    """The chat text without its BB-code, for e-mail."""
    return message_text.replace("[B]", "").replace("[/B]", "")


def message(message_text: str, account: str, language: str, to: list[tuple[str, str]], sender: str) -> EmailMessage:
    _ = _t(language).gettext
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = _("Hours of %(account)s") % {"account": account}
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr(pair) for pair in to)
    msg.set_content(plain(message_text))
    return msg


def stall_text(account: str, language: str, kind: str, detail: dict) -> str:
    """A stalled project (issue 16), said the way the seed fears it: the
    stage waits for money, for the client, or for the integrator."""
    _ = _t(language).gettext
    ngettext = _t(language).ngettext
    days = int(detail.get("days", 0))
    stage = detail.get("stage") or ""
    if detail.get("project") == "staged":
        what = _("stage «%(name)s»") % {"name": stage}
    else:
        what = _("project «%(name)s»") % {"name": stage} if stage else _("the project")
    if kind == "stall:payment":
        text = ngettext("%(account)s, %(what)s: waiting for payment for %(num)d day.",
                        "%(account)s, %(what)s: waiting for payment for %(num)d days.", days)
    elif kind == "stall:client":
        text = ngettext("%(account)s, %(what)s: the work is done and has waited for the client's acceptance "
                        "for %(num)d day.",
                        "%(account)s, %(what)s: the work is done and has waited for the client's acceptance "
                        "for %(num)d days.", days)
    else:
        text = ngettext("%(account)s, %(what)s: no work for %(num)d day.",
                        "%(account)s, %(what)s: no work for %(num)d days.", days)
    return text % {"account": account, "what": what, "num": days}
