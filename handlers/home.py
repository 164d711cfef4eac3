"""A read-only overview of every account's current balance (the demo's page
until the widget and the manager's page exist)."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from ledger.balance import balance
from ledger.hours import format_hours
from ledger.models import Account

from . import db

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    s = db.session()
    rows = []
    for account in s.execute(select(Account).order_by(Account.id)).scalars():
        rows.append((account, balance(s, account.id)))
    return render_template("home.html", rows=rows, hours=format_hours)
