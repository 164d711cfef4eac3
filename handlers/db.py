"""Database sessions per request, closed when the request ends: `session()`
for handlers that write, `reader()` for pages that only show."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["hourbook"].sessions()
    return g.db_session


def reader() -> Session:
    if "db_reader" not in g:
        g.db_reader = current_app.extensions["hourbook"].readers()
    return g.db_reader


def close(_exc: BaseException | None = None) -> None:
    for name in ("db_session", "db_reader"):
        s = g.pop(name, None)
        if s is not None:
            s.close()
