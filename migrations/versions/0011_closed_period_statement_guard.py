"""closed-period guard per statement on PostgreSQL

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04 06:15:00
"""
from alembic import op

from ledger import ddl

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite keeps its row trigger: there a trigger is a few VM instructions.
    if op.get_bind().dialect.name == "postgresql":
        for statement in ddl.POSTGRESQL_STATEMENT_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in ddl.POSTGRESQL_ROW_GUARD:
            op.execute(statement)
