"""index entries by state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:43:33.705157
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_state', ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_entries_state')

