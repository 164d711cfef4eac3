"""A fresh database per seed: a copy of a migrated SQLite file, or a new
PostgreSQL schema (dropped afterwards)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger import schema
from ledger.db import make_engine
from tests.conftest import pg_schema

_templates: dict[Path, Path] = {}


def sqlite_template(folder: Path) -> Path:
    """One migrated SQLite file per folder, copied for every seed."""
    if folder not in _templates:
        path = folder / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        schema.upgrade(engine)
        engine.dispose()
        _templates[folder] = path
    return _templates[folder]


@contextmanager
def fresh_database(seed: int, folder: Path, postgres: bool = False) -> Iterator[tuple[str, Path]]:
    """(DATABASE_URL, INSTANCE_PATH) for one seed; removed afterwards."""
    instance = folder / f"seed-{seed}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir(parents=True)
    if not postgres:
        path = instance / "ledger.db"
        shutil.copy(sqlite_template(folder), path)
        try:
            yield f"sqlite:///{path}", instance
        finally:
            shutil.rmtree(instance, ignore_errors=True)
        return
    with pg_schema(f"hb_sim_{os.getpid()}_{seed}") as url:
        try:
            yield url, instance
        finally:
            shutil.rmtree(instance, ignore_errors=True)
