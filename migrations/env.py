"""Alembic environment: migrations run on the connection we are handed (the
app and tests), or on DATABASE_URL (the `alembic` command)."""
from __future__ import annotations

import os

from alembic import context

from ledger.db import make_engine
import b24.models  # noqa: F401  (its tables belong to the same schema)
import reports.models  # noqa: F401
import amocrm.models  # noqa: F401  (amoCRM connections and notes)
from ledger.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run_migrations_online()
