"""Keeping amoCRM connections alive.

A refresh token lives three months and an integration not refreshed for
three months is considered unused and loses its access (FACTS.md §1.4):
a client who never opens the card would lose the connection silently. So
every connection whose tokens are older than KEEP_FRESH is refreshed, one
refresh at a time per connection (the row lock in StoredTokens.refresh).
The scheduler queues this every tick; it costs one query when nothing is due.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from amocrm.client import AmoError
from amocrm.connection import StoredTokens
from amocrm.models import AmoConnection
from ledger import clock

from .context import context

log = logging.getLogger("hourbook.amocrm")
KEEP_FRESH = timedelta(days=30)


def refresh_idle_connections(now: datetime | None = None) -> dict:
    ctx = context()
    host = ctx.amocrm()
    if host is None:
        return {"refreshed": 0, "failed": []}
    cutoff = (now or clock.now()) - KEEP_FRESH
    with ctx.sessions() as s:
        due = s.execute(select(AmoConnection.id).where(
            AmoConnection.status.in_(("ok", "pending")),
            or_(AmoConnection.refreshed_at.is_(None), AmoConnection.refreshed_at < cutoff))).scalars().all()
    refreshed, failed = 0, []
    for connection_id in due:
        tokens = StoredTokens(ctx.sessions, connection_id, ctx.box, host.integration)
        try:
            tokens.refresh(tokens.token())  # "this one is stale": rotate it now
            refreshed += 1
        except AmoError as err:  # marked dead by refresh(); the manager's page shows it
            log.warning("amoCRM connection %s could not be refreshed: %s", connection_id, err)
            failed.append(connection_id)
    return {"refreshed": refreshed, "failed": failed}
