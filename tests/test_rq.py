"""Jobs on rq with the real Redis: what production runs (`app.py worker`).

Everything here uses Redis database 7 and empties it before and after each
test. The portal is the emulator in this process; the worker is a real
`python app.py worker --burst` subprocess that reaches it over HTTP and
writes the ledger the test then reads.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from emulators.bitrix24 import Faults, scenario
from b24.models import SyncState
from jobs import tasks
from jobs.runner import RETRY_INTERVALS_S, RqRunner
from jobs.schedule import Scheduler
from ledger.db import make_engine, make_session_factory
from ledger.models import TimeEntry
from tests.conftest import empty_redis, reset_pg
from tests.live import (CLIENT_ID, CLIENT_SECRET, SECRET_KEY, assert_converged, jobs_configured, ledger_mirror,
                        wire_portal)

REDIS_URL = "redis://127.0.0.1:6379/7"
ROOT = Path(__file__).resolve().parents[1]
QUEUE = "hourbook"  # the queue `app.py worker` listens on


@pytest.fixture
def redis() -> Iterator[redis_lib.Redis]:
    with empty_redis(REDIS_URL) as connection:
        yield connection


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_sessions(sqlite_url) -> Iterator[sessionmaker]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def portal(emu, records: int = 150):
    p = scenario.generate(emu, 5, companies=2, tasks=8, months=2, records=records, domain="rq.bitrix24.test")
    p.rate_limit = None
    return p


def worker_env(emu, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
            "INSTANCE_PATH": str(tmp_path), "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET,
            "B24_OAUTH_SERVER": emu.url + "/", "PUBLIC_URL": "http://127.0.0.1:9", "PYTHONUNBUFFERED": "1"}


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    yield
    while STARTED:
        proc = STARTED.pop()
        try:  # the whole group: a worker killed alone leaves rq's own scheduler process behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def start_worker(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.Popen:
    """`app.py worker --burst`: work what is queued (and due), then exit. In
    a session of its own, so that its process group can be killed."""
    with open(tmp_path / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "worker", "--burst", "--no-scheduler"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(proc)
    return proc


def run_worker(env: dict[str, str], tmp_path: Path, name: str) -> None:
    proc = start_worker(env, tmp_path, name)
    assert proc.wait(timeout=45) == 0, (tmp_path / f"{name}.log").read_text()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for(condition, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def entries(sessions) -> int:
    with sessions() as s:
        return s.execute(select(func.count()).select_from(TimeEntry)).scalar_one()


def first_sync_done(sessions, portal_id: int) -> bool:
    with sessions() as s:
        state = s.get(SyncState, portal_id)
        return state is not None and state.first_sync_at is not None


def test_rq_runner_queues_the_job_function_with_a_retry(redis):
    """Without a Retry, a job whose worker died goes to the failed registry
    instead of running again (libraries.md C9)."""
    RqRunner(redis).enqueue(tasks.sync_portal, 3, True, True, job_id="sync-3-full")

    job = Job.fetch("sync-3-full", connection=redis)
    assert job.func_name == "jobs.tasks.sync_portal" and job.args == (3, True, True)
    assert job.retries_left == len(RETRY_INTERVALS_S) and job.retry_intervals == list(RETRY_INTERVALS_S)
    assert job.get_status() == JobStatus.QUEUED and Queue(QUEUE, connection=redis).job_ids == ["sync-3-full"]


def test_a_hint_for_a_running_job_queues_one_run_after_it(redis):
    """The running sync may have read the task before the change that sent
    this event: one more run waits (under "-again"), and only one."""
    runner, queue = RqRunner(redis), Queue(QUEUE, connection=redis)
    runner.enqueue(tasks.sync_task, 3, 40, job_id="task-3-40")
    Job.fetch("task-3-40", connection=redis).set_status(JobStatus.STARTED)  # a worker took it
    queue.remove("task-3-40")
    for _ in range(5):
        runner.enqueue(tasks.sync_task, 3, 40, job_id="task-3-40")
    assert queue.job_ids == ["task-3-40-again"]
    again = Job.fetch("task-3-40-again", connection=redis)
    assert again.args == (3, 40) and again.retries_left == len(RETRY_INTERVALS_S)


def test_a_task_whose_job_failed_is_synced_again_on_its_next_event(redis):
    """A failed job's hash is kept a week for inspection; it must not make
    that task's events queue nothing for a week."""
    runner, queue = RqRunner(redis), Queue(QUEUE, connection=redis)
    runner.enqueue(tasks.sync_task, 3, 41, job_id="task-3-41")
    job = Job.fetch("task-3-41", connection=redis)
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    FailedJobRegistry(QUEUE, connection=redis).add(job, ttl=7 * 86400)
    runner.enqueue(tasks.sync_task, 3, 41, job_id="task-3-41")
    assert queue.job_ids == ["task-3-41"] and Job.fetch("task-3-41", connection=redis).get_status() == "queued"
    assert FailedJobRegistry(QUEUE, connection=redis).get_job_ids() == []


def test_worker_process_syncs_the_portal_and_a_waiting_job_is_queued_once(redis, emu, sqlite_url, sqlite_sessions,
                                                                          tmp_path):
    """Ten hints for one task while its job waits make one job; the worker
    (another process, reaching the portal over HTTP) brings the ledger to
    the portal's state; once done, the same id can be queued again."""
    sessions = sqlite_sessions
    p = portal(emu)
    w = wire_portal(emu, p, sessions, mode="integrator")
    runner, queue = RqRunner(redis), Queue(QUEUE, connection=redis)
    task = min(p.tasks)
    for _ in range(2):
        runner.enqueue(tasks.sync_portal, w.portal_id, True, True, job_id=f"sync-{w.portal_id}-full")
    for _ in range(10):
        runner.enqueue(tasks.sync_task, w.portal_id, task, job_id=f"task-{w.portal_id}-{task}")
    assert queue.job_ids == [f"sync-{w.portal_id}-full", f"task-{w.portal_id}-{task}"]

    run_worker(worker_env(emu, sqlite_url, tmp_path), tmp_path, "worker")

    assert queue.count == 0 and FailedJobRegistry(QUEUE, connection=redis).count == 0
    assert_converged(w)
    runner.enqueue(tasks.sync_task, w.portal_id, task, job_id=f"task-{w.portal_id}-{task}")
    assert queue.job_ids == [f"task-{w.portal_id}-{task}"]  # result_ttl=0: the id is free once the job ends


def test_hints_for_many_tasks_are_read_by_one_job_in_two_requests(redis, emu, sqlite_url, sqlite_sessions, tmp_path):
    """What the web processes leave in Redis (jobs/hints.py) the worker takes
    whole: every task the events named re-read together, in batches."""
    from jobs.hints import RedisHints

    sessions = sqlite_sessions
    p = portal(emu)
    w = wire_portal(emu, p, sessions, mode="integrator")
    w.sync().run(reconcile=True, full=True)
    staff = p.staff[0][0]
    for task_id in sorted(p.tasks):  # time logged on every task; each task's event
        p.add_time(task_id, staff, 1800, datetime.now(timezone.utc) - timedelta(hours=1))
    runner, queue, hints = RqRunner(redis), Queue(QUEUE, connection=redis), RedisHints(redis)
    for task_id in sorted(p.tasks) * 3:
        hints.add(w.portal_id, task_id)
        runner.enqueue(tasks.sync_hinted_tasks, w.portal_id, job_id=f"hints-{w.portal_id}")
    assert queue.job_ids == [f"hints-{w.portal_id}"]
    emu.requests.clear()

    run_worker(worker_env(emu, sqlite_url, tmp_path), tmp_path, "worker")

    assert queue.count == 0 and FailedJobRegistry(QUEUE, connection=redis).count == 0
    assert_converged(w)
    assert emu.requests["batch"] == 2 and sum(emu.requests.values()) <= 3, emu.requests  # (+ a token refresh)
    assert hints.take(w.portal_id) == []


def test_worker_killed_mid_sync_leaves_a_job_a_new_worker_recovers(redis, emu, pg_engine, tmp_path):
    """The worker and its work-horse die with SIGKILL in the middle of a
    sync (on PostgreSQL: the open transaction dies with the connection).
    The job stays STARTED until the dead worker's heartbeat runs out; then
    a worker's maintenance gives it back to the queue (its Retry), and the
    re-run finishes the sync: the ledger is the portal's, nothing counted twice."""
    reset_pg(pg_engine)
    url = pg_engine.url.render_as_string(hide_password=False)
    sessions = make_session_factory(pg_engine)
    p = portal(emu, records=3000)  # more than one batch of pages: the run saves its cursor on the way
    w = wire_portal(emu, p, sessions)
    job_id = f"sync-{w.portal_id}-full"
    RqRunner(redis).enqueue(tasks.sync_portal, w.portal_id, True, True, job_id=job_id)
    env = worker_env(emu, url, tmp_path)
    emu.faults = Faults(slow_s=0.7)  # every request takes a while: the kill lands mid-run

    worker = start_worker(env, tmp_path, "doomed")
    wait_for(lambda: entries(sessions) > 0 and children(worker.pid), 45, "the first records applied")
    assert not first_sync_done(sessions, w.portal_id)
    horse = children(worker.pid)
    os.killpg(worker.pid, signal.SIGKILL)
    for pid in horse:
        os.killpg(pid, signal.SIGKILL)  # rq's work-horse leads a process group of its own
    worker.wait(timeout=10)
    emu.faults = Faults()
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.STARTED

    # The dead worker's heartbeat would run out in 60-90 s (libraries.md C9);
    # this is that moment, without waiting for it. The next worker's
    # start-up maintenance finds the abandoned job and schedules its retry.
    started = StartedJobRegistry(QUEUE, connection=redis)
    executions = redis.zrange(started.key, 0, -1)
    assert [e.decode().split(":")[0] for e in executions] == [job_id]
    redis.zadd(started.key, {e: time.time() - 1 for e in executions})
    run_worker(env, tmp_path, "maintenance")
    scheduled = ScheduledJobRegistry(QUEUE, connection=redis)
    assert scheduled.get_job_ids() == [job_id] and Job.fetch(job_id, connection=redis).retries_left == 4
    due = scheduled.get_scheduled_time(job_id).timestamp()
    time.sleep(max(0.0, due - time.time()) + 0.2)
    run_worker(env, tmp_path, "recovery")

    assert not Job.exists(job_id, connection=redis) and FailedJobRegistry(QUEUE, connection=redis).count == 0
    assert first_sync_done(sessions, w.portal_id)
    assert_converged(w)


def test_of_two_schedulers_only_the_lock_holder_ticks(redis, emu, sqlite_url, tmp_path):
    """Several workers each start a Scheduler; the Redis lock lets one of
    them tick. When that one dies, its lock runs out and another takes over."""
    p = portal(emu, records=10)
    config = {"DATABASE_URL": sqlite_url, "INSTANCE_PATH": str(tmp_path), "REDIS_URL": REDIS_URL,
              "SECRET_KEY": SECRET_KEY}
    with jobs_configured(config) as ctx:
        w = wire_portal(emu, p, ctx.sessions)

        class Recorder:
            def __init__(self) -> None:
                self.jobs: list[str] = []

            def enqueue(self, func, *args, job_id=None) -> None:
                self.jobs.append(job_id)

        first, second = Scheduler(Recorder(), redis, every_s=0.05), Scheduler(Recorder(), redis, every_s=0.05)
        threads = [threading.Thread(target=s.run) for s in (first, second)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(first.runner.jobs) + len(second.runner.jobs) >= 6, what="ticks")
            leader, standby = (first, second) if first.runner.jobs else (second, first)
            assert standby.runner.jobs == []
            assert f"sync-{w.portal_id}-full" in leader.runner.jobs and "close-periods" in leader.runner.jobs
            assert redis.get("hourbook:scheduler") == leader.name.encode()

            leader.stopped.set()
            time.sleep(0.2)
            redis.pexpire("hourbook:scheduler", 1)  # the dead leader's lock runs out (90 s in life)
            wait_for(lambda: standby.runner.jobs, what="the standby to take over")
            assert redis.get("hourbook:scheduler") == standby.name.encode()
        finally:
            first.stopped.set()
            second.stopped.set()
            for t in threads:
                t.join(timeout=5)


def test_worker_with_its_scheduler_runs_the_schedule_stays_up_idle_and_stops_with_it(redis, emu, sqlite_url,
                                                                                       sqlite_sessions, tmp_path):
    """`app.py worker` as the Procfile starts it: its scheduler (a process of
    its own) queues the first sync, the worker runs it; the worker outlives
    an idle queue longer than Redis' socket timeout and still takes work;
    SIGTERM stops both; a worker killed outright leaves no scheduler behind."""
    p = portal(emu, records=40)
    w = wire_portal(emu, p, sqlite_sessions)
    env = worker_env(emu, sqlite_url, tmp_path)
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(proc)

    def scheduler_pids() -> list[int]:
        return [pid for pid in children(proc.pid)
                if b"scheduler" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    wait_for(lambda: first_sync_done(sqlite_sessions, w.portal_id), 60, "the scheduled first sync")
    assert_converged(w)
    schedule = scheduler_pids()
    assert len(schedule) == 1 and redis.get("hourbook:scheduler").startswith(f"scheduler-{schedule[0]}-".encode())

    time.sleep(7)  # idle past redis-py's 5 s socket timeout
    assert proc.poll() is None, (tmp_path / "worker.log").read_text()
    task = min(p.tasks)
    p.add_time(task, p.staff[0][0], 4321, datetime.now(timezone.utc) - timedelta(minutes=3))
    RqRunner(redis).enqueue(tasks.sync_task, w.portal_id, task, job_id=f"task-{w.portal_id}-{task}")
    wait_for(lambda: Queue(QUEUE, connection=redis).count == 0 and not StartedJobRegistry(
        QUEUE, connection=redis).get_job_ids(), 30, "the hint to be worked")
    wait_for(lambda: 4321 in {v[0] for v in ledger_mirror(sqlite_sessions, w.portal_id).values()}, 30,
             "the new record")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
    wait_for(lambda: all(not Path(f"/proc/{pid}").exists() for pid in schedule), 15, "the scheduler to stop")
    assert redis.get("hourbook:scheduler") is None  # it resigned: another takes the lead at once

    with open(tmp_path / "worker2.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(proc)
    wait_for(lambda: scheduler_pids(), 30, "the second worker's scheduler")
    orphan = scheduler_pids()[0]
    os.kill(proc.pid, signal.SIGKILL)  # the worker alone: its scheduler must notice
    proc.wait(timeout=10)
    wait_for(lambda: not Path(f"/proc/{orphan}").exists() or b"Z" in Path(f"/proc/{orphan}/stat").read_bytes()
             .rsplit(b")", 1)[1][:3], 40, "the orphaned scheduler to stop")
