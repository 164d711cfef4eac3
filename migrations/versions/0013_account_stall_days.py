"""the stall threshold of an implementation project, per account

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-04 07:30:00

A plain column with a server default: existing accounts keep the week
they had (ledger.models.STALL_DAYS); ledger.projects.set_stall_days keeps
it within 1..90.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stall_days', sa.Integer(), server_default='7', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('stall_days')
