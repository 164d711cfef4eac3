"""Ledger jobs: plain functions, safe to run twice (the ledger's keys make
them idempotent), raising on failure so the runner can retry."""
from __future__ import annotations

from datetime import datetime

from ledger.contracts import close_due

from .context import transaction


def close_periods(now: datetime | None = None) -> dict:
    """Close every period whose end has passed in its portal's time zone."""
    with transaction() as session:
        run = close_due(session, now)
        return {"closed": [p.label for p in run.closed], "reapplied": run.reapplied}
