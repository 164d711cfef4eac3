"""closed-period guard per statement on PostgreSQL; the full sync's cursor

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 06:15:00
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)
from ledger import ddl

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite keeps its row trigger: there a trigger is a few VM instructions.
    if op.get_bind().dialect.name == "postgresql":
        for statement in ddl.POSTGRESQL_STATEMENT_GUARD:
            op.execute(statement)
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_cursor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('full_started_at', ledger.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_state', schema=None) as batch_op:
        batch_op.drop_column('full_started_at')
        batch_op.drop_column('full_cursor')
    if op.get_bind().dialect.name == "postgresql":
        for statement in ddl.POSTGRESQL_ROW_GUARD:
            op.execute(statement)
