"""monthly acts and the weekly call's notes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:00:00

The lead re-chains this at merge if another 0009 lands first: only
down_revision changes; the two tables are new.
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monthly_acts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('made_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('made_by', sa.String(length=255), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['sent_reports.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period_id')
    )
    with op.batch_alter_table('monthly_acts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_acts_account_id'), ['account_id'], unique=False)

    op.create_table('call_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('call_on', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('created_at', ledger.db.UTCDateTime(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("text <> ''", name='call_note_text'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['sent_reports.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_notes_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_notes_account_id'))
    op.drop_table('call_notes')
    with op.batch_alter_table('monthly_acts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_acts_account_id'))
    op.drop_table('monthly_acts')
