"""client steering: the development plan's items and the client's requests

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04 04:55:00

The lead re-chains this after 0007 (import progress) at merge: only
down_revision changes; the two touch different tables.
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('direction_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('planned_s', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('paused_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('planned', 'active', 'paused', 'done')", name='plan_item_state'),
    sa.CheckConstraint('planned_s >= 0', name='plan_item_planned'),
    sa.CheckConstraint("task_id IS NOT NULL OR title <> ''", name='plan_item_named'),
    sa.CheckConstraint("state <> 'paused' OR paused_at IS NOT NULL", name='plan_item_paused_at'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['direction_id'], ['directions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'task_id', name='uq_plan_item_task')
    )
    with op.batch_alter_table('plan_items', schema=None) as batch_op:
        batch_op.create_index('ix_plan_items_account_position', ['account_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_items_direction_id'), ['direction_id'], unique=False)

    op.create_table('client_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('direction_id', sa.BigInteger(), nullable=True),
    sa.Column('item_id', sa.BigInteger(), nullable=True),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('entry_id', sa.BigInteger(), nullable=True),
    sa.Column('cap_s', sa.BigInteger(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=255), nullable=True),
    sa.Column('decided_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('pause', 'resume', 'cap', 'first', 'question')", name='request_kind'),
    sa.CheckConstraint("state IN ('open', 'accepted', 'declined')", name='request_state'),
    sa.CheckConstraint("source IN ('widget', 'cabinet', 'manager')", name='request_source'),
    sa.CheckConstraint('cap_s IS NULL OR cap_s > 0', name='request_cap'),
    sa.CheckConstraint("kind <> 'cap' OR cap_s IS NOT NULL", name='request_cap_given'),
    sa.CheckConstraint("state = 'open' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)",
                       name='request_decided'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client_requests', schema=None) as batch_op:
        batch_op.create_index('ix_client_requests_account_state', ['account_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('client_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_client_requests_account_state')
    op.drop_table('client_requests')
    with op.batch_alter_table('plan_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_items_direction_id'))
        batch_op.drop_index('ix_plan_items_account_position')
    op.drop_table('plan_items')
