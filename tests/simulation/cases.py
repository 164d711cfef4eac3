"""The seeds CI plays, and the pytest plumbing of tests/test_simulation.py."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.bitrix24 import Emulator

from .runner import fresh_database
from .world import AppServer, Outcome, simulate

# HOURBOOK_SIM_SEEDS=0-999 plays more (or other) seeds; the default is CI's.
DEFAULT_SEEDS = "0-199"
PG_SEEDS = range(1000, 1010)  # these run on PostgreSQL, beside the 200 on SQLite


def seeds() -> list[int]:
    low, _, high = os.environ.get("HOURBOOK_SIM_SEEDS", DEFAULT_SEEDS).partition("-")
    return list(range(int(low), int(high or low) + 1))


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Emulator, AppServer]]:
    """One emulator (a portal per seed) and one app server (rebooted per seed)."""
    with Emulator() as emu:
        server = AppServer()
        try:
            yield emu, server
        finally:
            server.stop()


def play(seed: int, stage: tuple[Emulator, AppServer], folder: Path, postgres: bool = False) -> Outcome:
    emu, server = stage
    with fresh_database(seed, folder, postgres) as (url, instance):
        out = simulate(seed, emu, server, url, instance)
    replay = f"python -m tests.simulation --seed {seed} -v" + (" --pg" if postgres else "")
    assert not out.problems, "\n".join([out.line(), *out.problems, f"replay: {replay}"])
    return out
