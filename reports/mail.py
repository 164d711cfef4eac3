"""The report as an e-mail: an HTML part with a plain-text alternative and
the XLSX attached; sent over SMTP (`SMTP_URL`), or, with none configured,
written to `instance/outbox/` as an .eml file (the demo shows them there).

The message is a pure function of the report: boundaries, Date and
Message-ID come from the report itself, so a report rendered again a year
later gives the same bytes.
"""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import act_render, render
from .act import Act
from .model import Report

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# Python 3.11 folds a long non-ASCII Subject at a space and the space is lost
# when mail clients unfold it (CPython gh-144156): headers are kept on one
# line up to the 998 characters RFC 5322 allows, so nothing is folded.
POLICY = policy.default.clone(max_line_length=998)


def attachment_name(report: Report) -> str:
    return f"hourbook-{report.account_id}-{report.week}.xlsx"


def message(report: Report, key: str, to: list[tuple[str, str]], sender: str,
            acts: Sequence[Act] = ()) -> EmailMessage:
    """The whole e-mail for `report`; `key` names the sent report (its
    Message-ID). `acts` are the monthly acts it carries (`report.acts`, as
    kept): each attached as a PDF and an XLSX."""
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = render.subject(report)
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr((name, email)) for name, email in to) or sender
    msg["Date"] = format_datetime(report.built_at)
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "hourbook.local"
    msg["Message-ID"] = f"<{key.replace(':', '.')}.{report.digest[:16]}@{domain}>"
    # base64 bodies: what a client decodes is the rendering, byte for byte,
    # whatever a relay does to line endings.
    msg.set_content(render.text(report), cte="base64")
    msg.add_alternative(render.html(report), subtype="html", cte="base64")
    msg.add_attachment(render.xlsx(report), maintype=XLSX[0], subtype=XLSX[1], filename=attachment_name(report))
    for act in acts:
        msg.add_attachment(act_render.pdf(act), maintype="application", subtype="pdf",
                           filename=act_render.filename(act, "pdf"))
        msg.add_attachment(act_render.xlsx(act), maintype=XLSX[0], subtype=XLSX[1],
                           filename=act_render.filename(act, "xlsx"))
    for number, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_hourbook_{report.digest[:20]}_{number}")
    return msg


class Mailer:
    """Where messages go: an SMTP server, or the outbox folder."""

    def __init__(self, smtp_url: str | None, outbox: Path, sender: str, timeout_s: float = 30) -> None:
        self.smtp_url, self.outbox, self.sender, self.timeout_s = smtp_url, outbox, sender, timeout_s

    def send(self, msg: EmailMessage, name: str) -> str:
        """Deliver; returns where it went (for the record)."""
        if not self.smtp_url:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{name}.eml"
            path.write_bytes(bytes(msg))
            return str(path)
        parts = urlsplit(self.smtp_url)
        host, port = parts.hostname or "localhost", parts.port
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=self.timeout_s,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=self.timeout_s)
        with client:
            if parts.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(msg)
        return f"{parts.scheme}://{host}:{port or ''}"
