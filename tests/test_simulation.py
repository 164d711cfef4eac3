"""Deterministic simulation: 200 seeds on SQLite, 10 on PostgreSQL (tests/simulation/).

Each seed plays two or three months of a portal's life against the real
app, with lost, repeated, late and shuffled events, 5 % of REST calls
failing, slow calls, expiring tokens, jobs killed part-way and restarts;
then, after a final sync: every record consumed once to the second, rule
3's identity in every period, `ledger verify` clean, no posting ever
changed, every report sent reproducible. A failure prints the replay
command for its seed.

The seeds come in eight classes so that `pytest -n 2 --dist loadscope`
hands them to both workers (a module's plain test functions stay together).
"""
from __future__ import annotations

import pytest

from emulators.bitrix24 import Emulator
from tests.simulation.cases import PG_SEEDS, play, seeds, stage  # noqa: F401  (stage is a fixture)
from tests.simulation.runner import fresh_database
from tests.simulation.world import simulate

GROUPS = 8


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.cls is not None and issubclass(metafunc.cls, Seeds):
        group = int(metafunc.cls.__name__[-1])
        metafunc.parametrize("seed", [s for s in seeds() if s % GROUPS == group], ids=lambda s: f"seed-{s}")


class Seeds:
    def test_seed(self, seed, stage, tmp_path):  # noqa: F811
        play(seed, stage, tmp_path)


class TestSeeds0(Seeds): pass  # noqa: E701
class TestSeeds1(Seeds): pass  # noqa: E701
class TestSeeds2(Seeds): pass  # noqa: E701
class TestSeeds3(Seeds): pass  # noqa: E701
class TestSeeds4(Seeds): pass  # noqa: E701
class TestSeeds5(Seeds): pass  # noqa: E701
class TestSeeds6(Seeds): pass  # noqa: E701
class TestSeeds7(Seeds): pass  # noqa: E701


@pytest.mark.parametrize("seed", PG_SEEDS, ids=lambda seed: f"pg-seed-{seed}")
def test_seed_on_postgresql(seed, stage, tmp_path):  # noqa: F811
    play(seed, stage, tmp_path, postgres=True)


@pytest.mark.parametrize("seed", [3, 14])
def test_a_seed_replays_the_same_story_to_the_same_ledger(seed, stage, tmp_path):  # noqa: F811
    """The seed decides the story and the faults: played twice, the same
    steps, the same portal and the same ledger, number for number."""
    _, server = stage
    runs = []
    for n in range(2):  # each time a portal of its own, as from scratch
        with Emulator() as emu, fresh_database(seed, tmp_path / str(n)) as (url, instance):
            runs.append(simulate(seed, emu, server, url, instance))
    first, second = runs
    assert first.problems == [] and second.problems == []
    assert first.story == second.story and first.digest == second.digest
    assert (first.records, first.postings, first.reports, first.closed) == \
        (second.records, second.postings, second.reports, second.closed)
