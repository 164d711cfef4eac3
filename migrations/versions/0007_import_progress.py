"""first import progress

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 04:10:00
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_total', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('import_done', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('import_started_at', ledger.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.drop_column('import_started_at')
        batch_op.drop_column('import_done')
        batch_op.drop_column('import_total')
