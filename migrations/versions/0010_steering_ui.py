"""client requests: the one chat message each (sent, and taken by a worker)

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-04 06:00:00

Re-chained after 0011 (projects) when main was merged into the steer branch.
"""
from alembic import op
import sqlalchemy as sa

import ledger.db  # noqa: F401  (custom column types)


revision = '0010'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('client_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_sent_at', ledger.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', ledger.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('client_requests', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('chat_sent_at')
