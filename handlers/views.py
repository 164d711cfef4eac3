"""What the widget, the cabinet and the manager's page share: the account's
summary with the facts around it, and the headers that let the portal, and
only the portal, frame our pages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from b24.links import task_url
from b24.models import PortalAuth, SyncState
from ledger.db import utcnow
from ledger.models import Account, Portal
from ledger.summary import Summary, summarize


@dataclass(frozen=True)
class AccountView:
    portal: Portal
    account: Account
    summary: Summary
    synced_at: datetime | None
    plan: Any = None  # plan_view.PlanView: the development plan and the client's requests

    @property
    def minutes_ago(self) -> int | None:
        if self.synced_at is None:
            return None
        return max(0, int((self.summary.now - self.synced_at).total_seconds()) // 60)

    def task_url(self, task_id: int, responsible_id: int | None = None) -> str:
        return task_url(self.portal.domain, task_id, responsible_id)


def account_view(session: Session, account_id: int, now: datetime | None = None) -> AccountView | None:
    account = session.get(Account, account_id)
    if account is None:
        return None
    portal = session.get(Portal, account.portal_id)
    summary = summarize(session, account_id, now or utcnow())
    assert portal is not None and summary is not None
    synced_at = session.execute(select(SyncState.incremental_at).where(SyncState.portal_id == portal.id)
                                ).scalar_one_or_none()
    from .plan_view import client_plan

    return AccountView(portal, account, summary, synced_at, client_plan(session, account_id, summary, summary.now))


def frame_ancestors(session: Session, portal_id: int) -> str:
    """The origins allowed to frame us: the portal's own domain and the
    origin of the REST base stored at install (they differ for a portal
    behind a custom domain, and for the local emulator)."""
    row = session.execute(select(Portal.domain, PortalAuth.client_endpoint)
                          .outerjoin(PortalAuth, PortalAuth.portal_id == Portal.id)
                          .where(Portal.id == portal_id)).first()
    origins = []
    if row is not None:
        domain, endpoint = row
        if domain and all(c.isalnum() or c in ".-:" for c in domain):
            origins.append(f"https://{domain}")
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(dict.fromkeys(origins)) or "'none'"


def secure(response: Response, ancestors: str = "'none'") -> Response:
    """Our pages load nothing from elsewhere: scripts, styles and images are
    our own; only the portal may frame them."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"object-src 'none'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
