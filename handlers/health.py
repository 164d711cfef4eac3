from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select

from b24.models import PortalAuth, SyncState
from ledger.models import Portal

from . import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers and every connected portal has been
    synced at least once; 503 while the first sync is still running."""
    s = db.reader()
    waiting = s.execute(
        select(Portal.id).join(PortalAuth, PortalAuth.portal_id == Portal.id)
        .outerjoin(SyncState, SyncState.portal_id == Portal.id)
        .where(Portal.active.is_(True), SyncState.first_sync_at.is_(None))
    ).scalars().all()
    if waiting:
        return jsonify(ok=False, syncing=list(waiting)), 503
    if current_app.config.get("HEALTH_NEEDS_PORTAL"):
        # The demo serves the app before installing it into its portal: it is
        # not ready until that portal is connected (and, above, synced).
        connected = s.execute(select(func.count()).select_from(PortalAuth)).scalar_one()
        if not connected:
            return jsonify(ok=False, waiting="install"), 503
    return jsonify(ok=True)
