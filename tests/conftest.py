"""Fixtures: the ledger on a real SQLite file and on the real PostgreSQL.

Every ledger test that takes `session` runs twice, once per database. The
schema comes from the Alembic migrations (never create_all), so the
migrations are what is tested. PostgreSQL is not optional: it runs on every
machine and in CI, and an unreachable server fails the run instead of
skipping it.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import b24.models  # noqa: F401  (the schema has its tables too)
import reports.models  # noqa: F401
import amocrm.models  # noqa: F401  (amoCRM connections and notes)
from ledger import schema
from ledger.db import make_engine
from ledger.models import Base

PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
DATABASES = ["sqlite", "postgresql"]


def pg_url(schema_name: str) -> str:
    sep = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{sep}options=-csearch_path%3D{schema_name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return str(path)


@contextmanager
def pg_schema(name: str, migrate: bool = True) -> Iterator[str]:
    """A PostgreSQL schema of our own for a test's database, created empty
    (migrated unless told not to) and dropped afterwards; yields its URL."""
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {name}"))
    if migrate:
        engine = make_engine(pg_url(name))
        schema.upgrade(engine)
        engine.dispose()
    try:
        yield pg_url(name)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        admin.dispose()


@contextmanager
def empty_redis(url: str) -> Iterator[Any]:
    """A Redis database of a test's own (each test file names its number),
    emptied before and after."""
    import redis

    connection = redis.Redis.from_url(url)
    connection.flushdb()
    try:
        yield connection
    finally:
        connection.flushdb()
        connection.close()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    with pg_schema(f"hb_test_{os.getpid()}") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def reset_pg(engine: Engine) -> None:
    """Empty every table. TRUNCATE of postings is refused by its trigger like
    any other removal; only this fixture, as superuser, switches triggers off
    for its own session to start each test from nothing."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        reset_pg(eng)
        yield eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def emu():
    """A local Bitrix24 (emulators/bitrix24/): portals, the OAuth server, events."""
    from emulators.bitrix24 import Emulator

    with Emulator() as e:
        yield e


@pytest.fixture
def book(session: Session):
    from tests.helpers import Book

    return Book(session)


# ---------------------------------------------------------------- two workers (pytest-xdist)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`-n 2 --dist loadscope` (pytest.ini) keeps a module's tests on one
    worker (its module fixtures, the Redis database it empties); the
    simulation's seeds come in classes, one scope each, dealt out to both
    workers. They go first, the longest work, so both finish together."""
    items.sort(key=lambda item: item.module.__name__ != "tests.test_simulation")
