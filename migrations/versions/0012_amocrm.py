"""amoCRM: connections of amoCRM accounts to Hourbook accounts, and the
weekly notes posted to their company cards

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 06:00:00

Written after 0008; re-chained after 0011 when main was merged into the
branch (only down_revision changed; the tables are new).
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('amocrm_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amo_account_id', sa.BigInteger(), nullable=False),
    sa.Column('subdomain', sa.String(length=255), nullable=False),
    sa.Column('base_url', sa.Text(), nullable=False),
    sa.Column('company_id', sa.BigInteger(), nullable=True),
    sa.Column('company_name', sa.String(length=255), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('expires_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dead_reason', sa.Text(), nullable=True),
    sa.Column('connected_by', sa.String(length=255), nullable=False),
    sa.Column('connected_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('disconnected_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('refreshed_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('refresh_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'ok', 'dead', 'disconnected')", name='amocrm_status'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_amocrm_connections_account_id'), 'amocrm_connections', ['account_id'], unique=False)
    op.create_index('amocrm_live_account', 'amocrm_connections', ['amo_account_id'], unique=True,
                    sqlite_where=sa.text("status <> 'disconnected'"),
                    postgresql_where=sa.text("status <> 'disconnected'"))
    op.create_table('amocrm_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.BigInteger(), nullable=False),
    sa.Column('note_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('sent_at', ledger.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['amocrm_connections.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index(op.f('ix_amocrm_notes_connection_id'), 'amocrm_notes', ['connection_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_amocrm_notes_connection_id'), table_name='amocrm_notes')
    op.drop_table('amocrm_notes')
    op.drop_index('amocrm_live_account', table_name='amocrm_connections')
    op.drop_index(op.f('ix_amocrm_connections_account_id'), table_name='amocrm_connections')
    op.drop_table('amocrm_connections')
