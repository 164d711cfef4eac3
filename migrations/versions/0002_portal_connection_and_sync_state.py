"""portal connection and sync state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:27:17.014192
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_auth',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('client_endpoint', sa.Text(), nullable=False),
    sa.Column('server_endpoint', sa.Text(), nullable=True),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('expires_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('webhook_url', sa.Text(), nullable=True),
    sa.Column('application_token', sa.String(length=128), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('auth_user_id', sa.BigInteger(), nullable=True),
    sa.Column('installed', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('dead_reason', sa.Text(), nullable=True),
    sa.Column('dead_since', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('refreshed_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('refresh_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('oauth', 'webhook')", name='auth_kind'),
    sa.CheckConstraint("status IN ('ok', 'dead')", name='auth_status'),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('portal_id')
    )
    op.create_table('sync_state',
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('last_record_id', sa.BigInteger(), nullable=False),
    sa.Column('incremental_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('reconcile_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('history_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('first_sync_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('portal_id')
    )


def downgrade() -> None:
    op.drop_table('sync_state')
    op.drop_table('portal_auth')
