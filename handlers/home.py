"""A read-only overview of every account's current balance (the demo's page
until the widget and the manager's page exist)."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from b24.models import PortalAuth, SyncState
from ledger.balance import balance
from ledger.hours import format_hours
from ledger.models import Account, Portal

from . import db

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    s = db.reader()
    rows = []
    for account in s.execute(select(Account).order_by(Account.id)).scalars():
        rows.append((account, balance(s, account.id)))
    portals = s.execute(
        select(Portal, PortalAuth, SyncState)
        .join(PortalAuth, PortalAuth.portal_id == Portal.id)
        .outerjoin(SyncState, SyncState.portal_id == Portal.id)
        .order_by(Portal.id)
    ).all()
    return render_template("home.html", rows=rows, portals=portals, hours=format_hours)
