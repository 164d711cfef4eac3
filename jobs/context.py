"""A job's own database access: jobs take ids, never live objects, and build
their session factory from the settings, once per process (and again after
a fork, so a worker's child never reuses its parent's connections)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

import settings
from ledger.db import make_engine, make_session_factory

_factory: tuple[int, sessionmaker[Session]] | None = None


def sessions() -> sessionmaker[Session]:
    global _factory
    if _factory is None or _factory[0] != os.getpid():
        _factory = (os.getpid(), make_session_factory(make_engine(settings.load()["DATABASE_URL"])))
    return _factory[1]


@contextmanager
def transaction() -> Iterator[Session]:
    with sessions()() as session, session.begin():
        yield session
