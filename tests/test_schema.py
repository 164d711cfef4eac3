"""The schema comes from Alembic migrations that match the models."""
from __future__ import annotations

from ledger import schema


def test_migrations_match_the_models(engine):
    assert schema.drift(engine) == []


def test_downgrade_and_upgrade_again(engine):
    schema.downgrade(engine, "base")
    schema.upgrade(engine)
    assert schema.drift(engine) == []


def test_no_float_columns_in_the_ledger():
    from sqlalchemy import Float, Numeric

    from ledger.models import Base

    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            assert not isinstance(column.type, (Float, Numeric)), f"{table.name}.{column.name}"
