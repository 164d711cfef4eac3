"""Database plumbing for the ledger: engine, session factory, portable upserts.

The ledger runs on SQLite (a laptop, the demo) and on PostgreSQL (production).
Everything dialect-specific lives here so the rest of ledger/ reads the same
on both.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import (BigInteger, Boolean, DateTime, Engine, any_, bindparam, cast, create_engine, event, func,
                        literal_column, select)
from sqlalchemy.dialects.postgresql import ARRAY
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
        return None if value is None else _naive_utc(value)

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


def among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """`column IN (values)` with the values as one parameter, however many:
    an IN list of thousands of parameters costs more to build, render and
    parse than the database spends answering it. PostgreSQL: `= ANY(array)`;
    SQLite: the values as a JSON array, read by json_each. Integers and
    strings only."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(values))))


def utcnow() -> datetime:
    return clock.now()


def sum_s(column: Any) -> Any:
    """SUM of an integer-seconds column that stays an integer: PostgreSQL's
    SUM(bigint) is numeric, which the driver would hand back as Decimal."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _naive_utc(value: datetime) -> datetime:
    """An instant as the ledger stores it: naive UTC (see UTCDateTime)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the ledger; pass an aware one")
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite types would bind it: instants as naive
    UTC text in its DATETIME storage format, booleans as 0/1."""
    if isinstance(value, datetime):
        return _naive_utc(value).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def _typed(table: Any, columns: tuple[str, ...], rows: list[tuple], types: tuple[type, ...],
           convert: Any) -> list[tuple]:
    """The rows with the values of columns of `types` passed through
    `convert`, as the column types would bind them; each distinct value is
    converted once (the same instant, now, fills every row of a page)."""
    typed = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, types)]
    if not typed:
        return rows
    seen: dict[Any, Any] = {}
    params = []
    for row in rows:
        row = list(row)
        for i in typed:
            value = row[i]
            if value is not None:
                converted = seen.get(value)
                if converted is None:
                    converted = seen[value] = convert(value)
                row[i] = converted
        params.append(tuple(row))
    return params


def insert_rows(session: Session, table: Any, columns: tuple[str, ...], rows: list[tuple],
                conflict: tuple[str, ...]) -> set[tuple]:
    """INSERT … ON CONFLICT (conflict) DO NOTHING of many rows (tuples in
    `columns` order); returns the `conflict` values of the rows that went in.

    On SQLite the rows go straight to the driver in one executemany,
    converted here as the column types would (`_sqlite_rows`): SQLAlchemy's
    per-row parameter processing costs more than SQLite's insert itself.
    PostgreSQL takes them by COPY (`_pg_copy`), else the Core statement."""
    if not rows:
        return set()
    key_of = itemgetter(*[columns.index(name) for name in conflict])

    def keys(chosen: Iterable[tuple]) -> set[tuple]:
        if len(conflict) == 1:
            return {(key_of(row),) for row in chosen}
        return {key_of(row) for row in chosen}

    if session.get_bind().dialect.name == "sqlite":
        sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
               f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING")
        if session.connection().exec_driver_sql(sql, _sqlite_rows(table, columns, rows)).rowcount == len(rows):
            return keys(rows)
        # Some existed already: ours are the rows whose ids (given, see new_ids) went in.
        i = columns.index("id")
        ours = set(session.execute(select(table.c.id).where(among(session, table.c.id, [r[i] for r in rows])))
                   .scalars())
        return keys(row for row in rows if row[i] in ours)
    if _pg_copy(session, table, columns, rows) is not None:
        return keys(rows)
    stmt = (dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*[table.c[name] for name in conflict]))
    return {tuple(row) for row in session.execute(stmt, [dict(zip(columns, row)) for row in rows])}


def _pg_copy(session: Session, table: Any, columns: tuple[str, ...], rows: list[tuple]) -> int | None:
    """PostgreSQL's COPY of the rows, inside a savepoint: several times
    faster than INSERT, which executes row by row. COPY knows no ON
    CONFLICT: when a row exists already (a concurrent writer's), the
    savepoint is rolled back and None tells the caller to insert the
    careful way."""
    import psycopg

    converted = _typed(table, columns, rows, (UTCDateTime,), _naive_utc)
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute("SAVEPOINT hourbook_copy")
        try:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in converted:
                    copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT hourbook_copy")
            cursor.execute("RELEASE SAVEPOINT hourbook_copy")
            return None
        cursor.execute("RELEASE SAVEPOINT hourbook_copy")
    return len(rows)


def _sqlite_rows(table: Any, columns: tuple[str, ...], rows: list[tuple]) -> list[tuple]:
    return _typed(table, columns, rows, (DateTime, UTCDateTime, Boolean), _sqlite_value)


def update_rows(session: Session, table: Any, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """UPDATE many rows by id (each tuple: the `columns`' values, then the
    id) in one executemany; on SQLite straight to the driver (see `insert_rows`)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "sqlite":
        sql = f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"
        session.connection().exec_driver_sql(sql, _sqlite_rows(table, (*columns, "id"), rows))
        return
    stmt = (table.update().where(table.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in columns}))
    session.execute(stmt, [{**{f"b_{c}": v for c, v in zip(columns, row[:-1])}, "b_id": row[-1]} for row in rows])
