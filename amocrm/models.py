"""What Hourbook keeps about an amoCRM account connected to one of its
accounts: how to call it (tokens sealed, never in the clear), which company
card shows the hours, and which weekly summaries went there as notes.

A disconnect keeps the row (the tokens are dropped): the history of what was
sent stays, and connecting again makes a new row."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime, utcnow

STATUSES = ("pending", "ok", "dead", "disconnected")


class AmoConnection(Base):
    __tablename__ = "amocrm_connections"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'ok', 'dead', 'disconnected')", name="amocrm_status"),
        # One live connection per amoCRM account: its widget calls must name
        # one Hourbook account, never two.
        Index("amocrm_live_account", "amo_account_id", unique=True,
              sqlite_where=text("status <> 'disconnected'"), postgresql_where=text("status <> 'disconnected'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # amoCRM's own id of the account (GET /api/v4/account, §1.6): the key.
    # The subdomain can change; the base URL is where we call it now.
    amo_account_id: Mapped[int] = mapped_column(BigInteger)
    subdomain: Mapped[str] = mapped_column(String(255), default="")
    base_url: Mapped[str] = mapped_column(Text)
    # The company card that shows the hours and receives the weekly notes.
    company_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    company_name: Mapped[str] = mapped_column(String(255), default="")
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    dead_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    connected_by: Mapped[str] = mapped_column(String(255), default="")
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AmoNote(Base):
    """A weekly summary posted to the company card: one per report (`key`),
    written before the note is sent so that a retry finds it."""

    __tablename__ = "amocrm_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("amocrm_connections.id"), index=True)
    company_id: Mapped[int] = mapped_column(BigInteger)
    note_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
