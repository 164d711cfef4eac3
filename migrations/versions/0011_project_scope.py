"""implementation projects: scope items, their tasks, stage dates and acceptance, the upfront payment

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04 06:00:00

The lead re-chains this at merge: only down_revision changes.
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('pay_due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', ledger.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('accepted_by', sa.String(length=255), nullable=True))
    with op.batch_alter_table('contract_terms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pay_due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('paid_at', ledger.db.UTCDateTime(), nullable=True))

    op.create_table('scope_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('planned_s', sa.BigInteger(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('done_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('accepted_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('setting', 'integration', 'widget', 'training', 'instruction')",
                       name='scope_item_kind'),
    sa.CheckConstraint('planned_s >= 0', name='scope_item_planned'),
    sa.CheckConstraint('accepted_at IS NULL OR done_at IS NOT NULL', name='scope_item_accepted_done'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scope_items', schema=None) as batch_op:
        batch_op.create_index('ix_scope_items_account_position', ['account_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_scope_items_contract_id'), ['contract_id'], unique=False)

    op.create_table('scope_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['scope_items.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'task_id', name='uq_scope_task')
    )
    with op.batch_alter_table('scope_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scope_tasks_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scope_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scope_tasks_item_id'))
    op.drop_table('scope_tasks')
    with op.batch_alter_table('scope_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scope_items_contract_id'))
        batch_op.drop_index('ix_scope_items_account_position')
    op.drop_table('scope_items')
    with op.batch_alter_table('contract_terms', schema=None) as batch_op:
        batch_op.drop_column('paid_at')
        batch_op.drop_column('pay_due_on')
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.drop_column('accepted_by')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('pay_due_on')
        batch_op.drop_column('due_on')
