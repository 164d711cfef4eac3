"""What Hourbook keeps about its connection to each portal: how to call it
(tokens sealed, never in the clear), how to check its events, and where the
sync stands. Ledger data stays in ledger/; these rows only say how to reach
the portal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime, utcnow


class PortalAuth(Base):
    __tablename__ = "portal_auth"
    __table_args__ = (
        CheckConstraint("kind IN ('oauth', 'webhook')", name="auth_kind"),
        CheckConstraint("status IN ('ok', 'dead')", name="auth_status"),
    )

    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The portal's REST base we call: from install (oauth) or the webhook URL.
    # Never taken from a request's DOMAIN or client_endpoint afterwards.
    client_endpoint: Mapped[str] = mapped_column(Text)
    server_endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed: holds the secret
    application_token: Mapped[str | None] = mapped_column(String(128), nullable=True)  # digest
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    installed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="ok")
    dead_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncState(Base):
    """Where the sync of one portal stands, saved as it goes so that a sync
    killed at any point resumes and converges."""

    __tablename__ = "sync_state"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), primary_key=True)
    last_record_id: Mapped[int] = mapped_column(BigInteger, default=0)  # the >ID cursor
    incremental_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reconcile_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    history_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The first import's progress, for the manager's page: records the portal
    # said it has, records posted so far, when the import began.
    import_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    import_done: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    import_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A full run's pass over every record: the last record ID it re-read and
    # applied, and when the pass began (None between passes).
    full_cursor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    full_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
