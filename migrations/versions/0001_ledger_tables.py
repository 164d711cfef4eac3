"""ledger tables, and the triggers that keep postings append-only

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 17:30:04.615317
"""
from alembic import op
import sqlalchemy as sa

import ledger.db
from ledger import ddl


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('client', 'integrator')", name='portal_mode'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id')
    )
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_portal_id'), ['portal_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.BigInteger(), nullable=True),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('company_id', sa.BigInteger(), nullable=True),
    sa.Column('responsible_id', sa.BigInteger(), nullable=True),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('time_spent_s', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', ledger.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('portal_id', 'task_id')
    )
    op.create_table('account_bindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('company', 'group')", name='binding_kind'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('portal_id', 'kind', 'ref_id')
    )
    with op.batch_alter_table('account_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_bindings_account_id'), ['account_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('at', ledger.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('caps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.BigInteger(), nullable=False),
    sa.Column('limit_s', sa.BigInteger(), nullable=False),
    sa.Column('per', sa.String(length=8), nullable=False),
    sa.CheckConstraint("per IN ('period', 'total')", name='cap_per'),
    sa.CheckConstraint("scope IN ('task', 'direction')", name='cap_scope'),
    sa.CheckConstraint('limit_s > 0', name='cap_limit'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('caps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caps_account_id'), ['account_id'], unique=False)

    op.create_table('contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expiry_policy', sa.String(length=16), nullable=False),
    sa.Column('rollover_cap_s', sa.BigInteger(), nullable=True),
    sa.Column('rollover_max_age_months', sa.Integer(), nullable=True),
    sa.Column('overage_policy', sa.String(length=16), nullable=False),
    sa.Column('rounding_mode', sa.String(length=16), nullable=False),
    sa.Column('rounding_step_s', sa.Integer(), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("expiry_policy IN ('burn', 'rollover')", name='contract_expiry'),
    sa.CheckConstraint("kind IN ('retainer', 'staged', 'upfront')", name='contract_kind'),
    sa.CheckConstraint("overage_policy IN ('bill', 'deduct')", name='contract_overage'),
    sa.CheckConstraint("rounding_mode IN ('none', 'up', 'down', 'nearest')", name='contract_rounding'),
    sa.CheckConstraint('rollover_cap_s IS NULL OR rollover_cap_s >= 0', name='contract_cap'),
    sa.CheckConstraint('rollover_max_age_months IS NULL OR rollover_max_age_months >= 1', name='contract_age'),
    sa.CheckConstraint('rounding_step_s >= 0', name='contract_rounding_step'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_account_id'), ['account_id'], unique=False)

    op.create_table('directions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('planned_s', sa.BigInteger(), nullable=False),
    sa.Column('match_kind', sa.String(length=16), nullable=False),
    sa.Column('match_value', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("match_kind IN ('group', 'tag', 'parent')", name='direction_match'),
    sa.CheckConstraint('planned_s >= 0', name='direction_planned'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('directions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directions_account_id'), ['account_id'], unique=False)

    op.create_table('team_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('active_from', sa.Date(), nullable=True),
    sa.Column('active_until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.create_index('ix_team_portal_user', ['portal_id', 'user_id'], unique=False)

    op.create_table('contract_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('hours_s', sa.BigInteger(), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('hours_s >= 0', name='term_hours'),
    sa.CheckConstraint('price_minor >= 0', name='term_price'),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contract_id', 'effective_on')
    )
    with op.batch_alter_table('contract_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_terms_contract_id'), ['contract_id'], unique=False)

    op.create_table('stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('budget_s', sa.BigInteger(), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('paid_at', ledger.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint('budget_s >= 0', name='stage_budget'),
    sa.CheckConstraint('price_minor >= 0', name='stage_price'),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contract_id', 'position')
    )
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stages_contract_id'), ['contract_id'], unique=False)

    op.create_table('periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('starts_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', ledger.db.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('closed_at', ledger.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('month', 'stage', 'project')", name='period_kind'),
    sa.CheckConstraint("status IN ('open', 'closed')", name='period_status'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'label')
    )
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.create_index('ix_periods_account_start', ['account_id', 'starts_at'], unique=False)

    op.create_table('adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('amount_s', sa.BigInteger(), nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('amount_s <> 0', name='adjustment_nonzero'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjustments_account_id'), ['account_id'], unique=False)

    op.create_table('period_totals',
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('allocation_s', sa.BigInteger(), nullable=False),
    sa.Column('stage_budget_s', sa.BigInteger(), nullable=False),
    sa.Column('rollover_in_s', sa.BigInteger(), nullable=False),
    sa.Column('adjustment_s', sa.BigInteger(), nullable=False),
    sa.Column('consumption_s', sa.BigInteger(), nullable=False),
    sa.Column('expiry_s', sa.BigInteger(), nullable=False),
    sa.Column('rollover_out_s', sa.BigInteger(), nullable=False),
    sa.Column('overage_billed_s', sa.BigInteger(), nullable=False),
    sa.Column('overage_carried_s', sa.BigInteger(), nullable=False),
    sa.Column('overage_deducted_s', sa.BigInteger(), nullable=False),
    sa.Column('postings_n', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], ),
    sa.PrimaryKeyConstraint('period_id')
    )
    with op.batch_alter_table('period_totals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_period_totals_account_id'), ['account_id'], unique=False)

    op.create_table('time_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.BigInteger(), nullable=False),
    sa.Column('work_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('post_seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('period_id', sa.Integer(), nullable=True),
    sa.Column('counted_s', sa.BigInteger(), nullable=False),
    sa.Column('first_seen_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('duration_s >= 0', name='entry_duration'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], ),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('portal_id', 'record_id')
    )
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_account_period', ['account_id', 'period_id'], unique=False)
        batch_op.create_index('ix_entries_portal_task', ['portal_id', 'task_id'], unique=False)

    op.create_table('postings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('amount_s', sa.BigInteger(), nullable=False),
    sa.Column('origin_period_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('entry_version', sa.Integer(), nullable=True),
    sa.Column('adjustment_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind <> 'adjustment' OR (adjustment_id IS NOT NULL AND author IS NOT NULL AND reason IS NOT NULL)", name='posting_adjustment_source'),
    sa.CheckConstraint("kind <> 'consumption' OR (entry_id IS NOT NULL AND entry_version IS NOT NULL)", name='posting_consumption_source'),
    sa.CheckConstraint("kind IN ('allocation', 'stage_budget', 'rollover_in', 'adjustment', 'consumption', 'expiry', 'rollover_out', 'overage_billed', 'overage_carried', 'overage_deducted')", name='posting_kind'),
    sa.CheckConstraint('amount_s <> 0', name='posting_nonzero'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['adjustment_id'], ['adjustments.id'], ),
    sa.ForeignKeyConstraint(['entry_id'], ['time_entries.id'], ),
    sa.ForeignKeyConstraint(['origin_period_id'], ['periods.id'], ),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], ),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_entry', ['entry_id'], unique=False)
        batch_op.create_index('ix_postings_period', ['period_id'], unique=False)
    for statement in ddl.statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in ddl.statements(op.get_bind().dialect.name, drop=True):
        op.execute(statement)
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index('ix_postings_period')
        batch_op.drop_index('ix_postings_entry')

    op.drop_table('postings')
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_entries_portal_task')
        batch_op.drop_index('ix_entries_account_period')

    op.drop_table('time_entries')
    with op.batch_alter_table('period_totals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_totals_account_id'))

    op.drop_table('period_totals')
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjustments_account_id'))

    op.drop_table('adjustments')
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.drop_index('ix_periods_account_start')

    op.drop_table('periods')
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stages_contract_id'))

    op.drop_table('stages')
    with op.batch_alter_table('contract_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_terms_contract_id'))

    op.drop_table('contract_terms')
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.drop_index('ix_team_portal_user')

    op.drop_table('team_members')
    with op.batch_alter_table('directions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directions_account_id'))

    op.drop_table('directions')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracts_account_id'))

    op.drop_table('contracts')
    with op.batch_alter_table('caps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caps_account_id'))

    op.drop_table('caps')
    op.drop_table('audit_events')
    with op.batch_alter_table('account_bindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_bindings_account_id'))

    op.drop_table('account_bindings')
    op.drop_table('tasks')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_portal_id'))

    op.drop_table('accounts')
    op.drop_table('portals')
