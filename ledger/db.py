"""Database plumbing for the ledger: engine, session factory, portable upserts.

The ledger runs on SQLite (a laptop, the demo) and on PostgreSQL (production).
Everything dialect-specific lives here so the rest of ledger/ reads the same
on both.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, cast, create_engine, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from . import clock


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """An instant, stored as naive UTC, returned as an aware UTC datetime.

    SQLite has no time zones and PostgreSQL's `timestamptz` would convert to the
    session zone; storing naive UTC everywhere makes both read the same bytes.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; pass an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def make_engine(url: str, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url` with the settings the ledger relies on.

    SQLite: foreign keys on, WAL, a generous busy timeout, and every
    transaction opened with BEGIN IMMEDIATE. pysqlite's default deferred BEGIN
    lets two writers both read and then deadlock on the upgrade to a write
    lock; IMMEDIATE makes them queue instead, which is what the ledger's
    read-then-post transactions need. A `read_only` engine (pages that only
    show balances) opens plain deferred transactions on query-only
    connections: in WAL mode they never wait behind a sync's commit.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if parsed.database not in (None, "", ":memory:") and not read_only:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                cur.execute("PRAGMA query_only=1")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if read_only:
        @event.listens_for(engine, "begin")
        def _pg_read_only(conn: Any) -> None:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def dialect_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT; there is no generic one."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database: {name}")
    return insert(table)


def utcnow() -> datetime:
    return clock.now()


def sum_s(column: Any) -> Any:
    """SUM of an integer-seconds column that stays an integer: PostgreSQL's
    SUM(bigint) is numeric, which the driver would hand back as Decimal."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)
