"""Scale-out, shown: the Procfile's shape (two web processes under gunicorn,
two rq workers each with its scheduler) on the real PostgreSQL and Redis,
playing simulation seeds (tests/simulation/processes.py).

For every seed, the same checks as the in-process simulation, exactly:
every record consumed once to the second on the account the portal's task
data names, rule 3 in every period, `ledger verify` clean, no posting ever
changed; and each scheduled job once: one weekly report per account and
week, one e-mail per report (counted at a real SMTP server), one chat
message per report and per alert, one leading scheduler.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from emulators.bitrix24 import Emulator
from ledger.db import make_engine
from reports.models import SentReport
from tests.conftest import empty_redis, pg_schema
from tests.live import CLIENT_ID, CLIENT_SECRET
from tests.simulation.processes import Cluster, ScaleOut
from tests.smtp import smtp_server

REDIS_URL = "redis://127.0.0.1:6379/10"  # this test's own database, emptied before and after
SEEDS = (5, 6, 7)


@pytest.fixture
def database() -> Iterator[str]:
    with pg_schema(f"hb_scale_{os.getpid()}") as url:
        yield url


@pytest.fixture
def redis() -> Iterator[redis_lib.Redis]:
    with empty_redis(REDIS_URL) as connection:
        yield connection


def test_two_web_processes_and_two_workers_play_simulation_seeds_exactly(database, redis, tmp_path):
    with Emulator() as emu, smtp_server() as inbox:
        (tmp_path / "instance").mkdir()
        cluster = Cluster(tmp_path, database, REDIS_URL, emu, inbox.url).start()
        try:
            emu.register_app(CLIENT_ID, CLIENT_SECRET, cluster.url)
            outcomes = []
            for seed in SEEDS:
                world = ScaleOut(seed, emu, cluster, database, inbox)
                try:
                    out = world.run()
                finally:
                    world.close()
                assert not out.problems, "\n".join([out.line(), *out.problems, *out.story])
                outcomes.append(out)

            # Each scheduled job once, across the processes.
            engine = make_engine(database)
            with engine.connect() as conn:
                weekly = conn.execute(select(SentReport.account_id, SentReport.week, func.count())
                                      .where(SentReport.key.like("weekly:%"))
                                      .group_by(SentReport.account_id, SentReport.week)).all()
            engine.dispose()
            assert weekly and all(n == 1 for _, _, n in weekly)
            ids = [m["Message-ID"] for m in inbox.messages()]
            assert len(ids) == len(set(ids))  # no e-mail twice
            leaders = {redis.get("hourbook:scheduler")} - {None}
            assert len(leaders) == 1 and len(cluster.live_workers()) == 2
            assert sum(o.kills for o in outcomes) + sum(o.restarts for o in outcomes) > 0, \
                "the seeds should kill a worker or restart the web processes somewhere"
        finally:
            cluster.stop()
