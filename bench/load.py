"""Load benchmark: task events at 1,000/s into POST /events under gunicorn with
rq, while the CRM widget is read 20 times a second.

    .venv/bin/python -m bench.load [--quick] [--rate N] [--seconds S] [--widget-rate N]

What runs, all on loopback, as production runs it:
- the portal: the emulator (in this process) with the demo's integrator
  portal (scenario.demo: three clients, ~30 tasks, two months of records);
- the app: `python app.py serve --workers 2` (gunicorn, sync workers) on a
  throwaway PostgreSQL schema, REDIS_URL on Redis database 9 (emptied at
  start and at the end), and two `python app.py worker` processes (rq,
  each with its scheduler; see below);
- Hourbook is installed through the real installer (emu.install: the
  portal POSTs /install, ONAPPINSTALL comes to /events), the manager's
  contracts are set up (demo.setup_contracts), and the first sync runs in
  the rq workers before anything is measured.

The load is open-loop, paced by a schedule: event i is due at t0 + i/rate,
whoever of the sender threads is free takes it. Each event is a
form-encoded ONTASKUPDATE for one of the portal's tasks (picked at random,
seeded), signed with the installed app's application token exactly as the
emulator's own deliveries are. gunicorn's sync workers close every
connection, so each request opens its own (raw sockets: the client's cost
per request is as small as Python makes it). Alongside, a reader GETs the
widget (GET /widget/<account>?t=<frame token>) at 20/s on its own schedule.
While the load runs the portal changes: time records are added, edited and
deleted on random tasks (no event of their own, as in Bitrix24: the task
events are the hints), during the first 70 % of the window.

Answer time is measured from connect to the last byte. How far a request
started behind its schedule ("lag") says whether the rate was really
offered: a late start means every sender was busy (server answering slowly)
or the client had no CPU left. CPU seconds of the client (this process, the
emulator included), gunicorn, the rq workers, PostgreSQL and Redis during the
window say where the machine's cores went.

After the window: wait until the rq queue, its started and scheduled
registries are empty; then count the hinted-task syncs the workers ran
(sync_hinted_tasks, their "Job OK" log lines) against the events accepted
(the tasks named while a portal's sync waits are read by it together, see
jobs/hints.py), and check nothing was lost: the ledger's live
time entries equal the portal's records, to the second, `ledger verify`
finds nothing and no job failed.

The workers run as the Procfile starts them (`app.py worker`, each with
its scheduler process, one of them leading). Two faults of an earlier
`app.py worker`, which ran the schedule as a thread, were found by this
benchmark and are fixed (the scheduler is a process of its own now;
tests/test_rq.py keeps them fixed): rq forked work-horses while the thread
held a lock (a job never ended), and the thread's pooled Redis connection,
with redis-py 8's 5 s socket timeout, ended the worker's idle wait.

Before anything starts, what nearly every event of a burst costs the web
process to queue is measured in this process: a hint while the portal's
sync already waits, as handlers/events.py leaves it (the task added to the
portal's hints, the job's status read) beside rq's `unique` enqueue of a job
per task (the baseline it replaced), CPU per hint.

Targets (judged): zero errors, events p99 < 50 ms, widget p95 < 100 ms during
the load, and the offered rate within 5 % of the one asked (a lower rate is
reported as what it is, never as the target's).
"""
from __future__ import annotations

import itertools
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import redis as redis_lib
from sqlalchemy import select

from bench import common
from bench.common import log
from bench.ledger import database, percentile

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/9"
QUEUE = "hourbook"
SECRET = "bench-load-secret-key"
CLIENT_ID = "local.hourbook.bench"
CLIENT_SECRET = "bench-load-client-secret"
SEED = 20261201
EVENTS_P99_MS = 50.0
WIDGET_P95_MS = 100.0
RATE_SHARE = 0.95  # the offered rate must reach this share of the one asked
SENDERS = 48
WIDGET_READERS = 4
MUTATE_EVERY_S = 0.25
DRAIN_TIMEOUT_S = 300.0
JOB_OK = re.compile(r"Job OK\W*\(([^)]+)\)")


@dataclass(frozen=True)
class Plan:
    rate: float       # events per second
    seconds: float
    widget_rate: float


FULL = Plan(1000.0, 60.0, 20.0)
QUICK = Plan(200.0, 10.0, 20.0)


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Subprocesses in sessions of their own: each is stopped with its whole
    process group (gunicorn's workers, rq's work-horses), by its own id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as out:
            proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def log_text(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_text(name)[-3000:]}")

    def stop_all(self) -> None:
        # rq's work-horses lead process groups of their own: find them first.
        strays = {pid for _, proc in self.procs if proc.poll() is None for pid in _tree(proc.pid)}
        strays -= {proc.pid for _, proc in self.procs}
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of the group (a work-horse mid-job)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(timeout=10)
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.procs.clear()


# ---------------------------------------------------------------- CPU accounting


def _ticks(pid: int, with_children: bool = True) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # after the name: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if with_children else 0)


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _by_name(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_snapshot(procs: Processes) -> dict[str, int]:
    """Clock ticks used so far, by part. A process tree counts its live
    members and what its reaped children used (cutime), so a work-horse that
    ended is still counted in its worker."""
    snap = {"client (bench + emulator)": _ticks(os.getpid(), with_children=False)}
    for label, prefix in (("gunicorn", "gunicorn"), ("rq workers", "worker")):
        total = 0
        for name, proc in procs.procs:
            if name.startswith(prefix):
                total += sum(_ticks(pid, with_children=(pid == proc.pid)) for pid in _tree(proc.pid))
        snap[label] = total
    # PostgreSQL's backends come and go: the postmaster's reaped-children
    # counters keep what the ended ones used.
    postgres = set(_by_name("postgres"))
    snap["postgresql"] = sum(_ticks(pid, with_children=_parent(pid) not in postgres) for pid in postgres)
    snap["redis"] = sum(_ticks(pid, False) for pid in _by_name("redis-server"))
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    snap["machine busy"] = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # minus idle, iowait
    return snap


# ---------------------------------------------------------------- the client


def request_bytes(method: str, port: int, path: str, body: bytes = b"", form: bool = False) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            "User-Agent: hourbook-bench-load"]
    if form:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def call(port: int, payload: bytes) -> tuple[int, int]:
    """One request on its own connection; (status, bytes read). The server
    closes the connection after answering (gunicorn sync workers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data.startswith(b"HTTP/1."):
        return 0, len(data)
    return int(data[9:12]), len(data)


@dataclass
class Stream:
    """One paced stream of requests and what came of them."""

    name: str
    rate: float
    payloads: list[bytes]
    threads: int
    sent: int = 0
    ok: int = 0
    statuses: dict = field(default_factory=dict)
    exceptions: dict = field(default_factory=dict)
    answer_ns: list[int] = field(default_factory=list)
    lag_ns: list[int] = field(default_factory=list)
    first_start: float = 0.0
    last_end: float = 0.0

    @property
    def errors(self) -> int:
        return self.sent - self.ok


def run_stream(stream: Stream, port: int, t0: float, t_end: float, stop: threading.Event) -> list[threading.Thread]:
    """Open loop: request i is due at t0 + i/rate; a free sender takes it.
    Nothing starts after t_end: a server (or client) that cannot keep up
    shows as fewer requests sent and as starts behind schedule."""
    counter = itertools.count()
    lock = threading.Lock()
    interval = 1.0 / stream.rate

    def sender() -> None:
        answers, lags, statuses, exceptions = [], [], {}, {}
        ok = sent = 0
        first = last = 0.0
        while not stop.is_set():
            i = next(counter)
            due = t0 + i * interval
            if due >= t_end:
                break
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            start = time.perf_counter()
            if start >= t_end:
                # The window is over: what is still due was not offered in it.
                # (Sending it late would stretch the window and fake the rate.)
                break
            try:
                status, _ = call(port, stream.payloads[i % len(stream.payloads)])
            except OSError as err:
                status = None
                exceptions[type(err).__name__] = exceptions.get(type(err).__name__, 0) + 1
            end = time.perf_counter()
            sent += 1
            first = first or start
            last = end
            lags.append(int((start - due) * 1e9))
            if status is not None:
                answers.append(int((end - start) * 1e9))
                statuses[status] = statuses.get(status, 0) + 1
                ok += 200 <= status < 300
        with lock:
            stream.sent += sent
            stream.ok += ok
            stream.answer_ns += answers
            stream.lag_ns += lags
            for key, n in statuses.items():
                stream.statuses[key] = stream.statuses.get(key, 0) + n
            for key, n in exceptions.items():
                stream.exceptions[key] = stream.exceptions.get(key, 0) + n
            if first:
                stream.first_start = min(stream.first_start or first, first)
            stream.last_end = max(stream.last_end, last)

    threads = [threading.Thread(target=sender, name=f"{stream.name}-{n}", daemon=True)
               for n in range(stream.threads)]
    for t in threads:
        t.start()
    return threads


# ---------------------------------------------------------------- the portal's changes


@dataclass
class Mutations:
    added: int = 0
    edited: int = 0
    deleted: int = 0


def mutate(p, until: float, stop: threading.Event, rng: random.Random, done: Mutations) -> None:
    """Users log, edit and delete time on random tasks (no event of their own)."""
    task_ids = sorted(p.tasks)
    staff = [user_id for user_id, _, _ in p.staff]
    mine: list[int] = []
    step = 0
    while not stop.is_set() and time.perf_counter() < until:
        step += 1
        if step % 10 == 0 and mine:
            p.delete_time(mine.pop(rng.randrange(len(mine))))
            done.deleted += 1
        elif step % 4 == 0 and mine:
            p.update_time(rng.choice(mine), seconds=rng.randrange(300, 7200, 60))
            done.edited += 1
        else:
            mine.append(p.add_time(rng.choice(task_ids), rng.choice(staff), rng.randrange(300, 7200, 60),
                                   datetime.now(timezone.utc), comment="bench load"))
            done.added += 1
        stop.wait(MUTATE_EVERY_S)


# ---------------------------------------------------------------- setup and checks


def wait_until(condition, timeout_s: float, what: str, procs: Processes | None = None) -> float:
    started = time.perf_counter()
    while not condition():
        if procs is not None:
            procs.check_alive()
        if time.perf_counter() - started > timeout_s:
            tails = "".join(f"\n--- {name} (last lines)\n" + "\n".join(procs.log_text(name).splitlines()[-15:])
                            for name, _ in procs.procs) if procs is not None else ""
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}{tails}")
        time.sleep(0.2)
    return time.perf_counter() - started


def healthy(port: int) -> bool:
    try:
        return call(port, request_bytes("GET", port, "/healthz"))[0] in (200, 503)
    except OSError:
        return False


def mirror(sessions, portal_id: int) -> dict[int, int]:
    from ledger.models import TimeEntry

    with sessions() as s:
        return dict(s.execute(select(TimeEntry.record_id, TimeEntry.duration_s).where(
            TimeEntry.portal_id == portal_id, TimeEntry.deleted.is_(False))).all())


def truth(p) -> dict[int, int]:
    return {int(r["ID"]): int(r["SECONDS"]) for r in p.records()}


def queue_idle(connection) -> bool:
    from rq import Queue
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    return (Queue(QUEUE, connection=connection).count == 0
            and StartedJobRegistry(QUEUE, connection=connection).count == 0
            and ScheduledJobRegistry(QUEUE, connection=connection).count == 0)


def jobs_done(procs: Processes) -> dict[str, int]:
    """Jobs the workers finished, by kind (hints-…, sync-…, close-periods, …)."""
    counts: dict[str, int] = {}
    for name, _ in procs.procs:
        if name.startswith("worker"):
            for job_id in JOB_OK.findall(procs.log_text(name)):
                kind = job_id.split("-")[0]
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def event_payloads(emu, p, port: int, rng: random.Random, count: int) -> list[bytes]:
    """ONTASKUPDATE as the emulator delivers it (emulators/bitrix24/events.py), one
    per task, then a seeded random sequence of them."""
    from emulators.bitrix24.php import flatten

    install = p.installs[CLIENT_ID]
    handlers = [b for b in install.bindings if b.event == "ONTASKUPDATE" and not b.offline]
    if not handlers:
        raise RuntimeError("the installer bound no online ONTASKUPDATE handler")
    binding = handlers[0]
    auth = emu.events._auth(p, install, "ONTASKUPDATE", 1, True)  # noqa: SLF001 - the emulator's own auth block
    path = "/" + binding.handler.split("/", 3)[3]
    per_task = []
    for task_id in sorted(p.tasks):
        payload = {"event": "ONTASKUPDATE", "event_handler_id": binding.id,
                   "data": {"FIELDS_BEFORE": {"ID": task_id}, "FIELDS_AFTER": {"ID": task_id}},
                   "ts": str(int(time.time())), "auth": auth}
        per_task.append(request_bytes("POST", port, path, urlencode(flatten(payload)).encode(), form=True))
    return [rng.choice(per_task) for _ in range(count)]


# ---------------------------------------------------------------- the run


def result(figure: str, measured, unit: str, target: str | None = None, passed: bool | None = None) -> dict:
    # Load figures have no ratio: the calls below give `passed` fifth.
    return common.result(figure, measured, unit, target, passed=passed)


def ms(ns: int) -> float:
    return round(ns / 1e6, 2)


def hint_cost(connection, n: int = 5000) -> list[dict]:
    """CPU per task hint while its portal's sync already waits — what nearly
    every event of a burst costs the web process — as handlers/events.py
    leaves it now (the task added to the portal's hints, the job's status
    read) beside what it did before (rq's `unique` enqueue of a job per
    task, the baseline), in this process, on the same Redis."""
    import gc
    import resource

    from rq import Queue, Retry
    from rq.exceptions import DuplicateJobError

    from jobs import tasks
    from jobs.hints import RedisHints
    from jobs.runner import RETRY_INTERVALS_S, RqRunner

    def cpu_s() -> float:
        used = resource.getrusage(resource.RUSAGE_SELF)
        return used.ru_utime + used.ru_stime

    runner, queue, hints = RqRunner(connection, QUEUE), Queue(QUEUE, connection=connection), RedisHints(connection)

    def baseline() -> None:
        try:
            queue.enqueue(tasks.sync_task, 1, 7, job_id="task-1-7", unique=True,
                          retry=Retry(max=len(RETRY_INTERVALS_S), interval=list(RETRY_INTERVALS_S)),
                          job_timeout=1800, result_ttl=0, failure_ttl=7 * 86400)
        except DuplicateJobError:
            pass

    def ours() -> None:
        hints.add(1, 7)
        runner.enqueue(tasks.sync_hinted_tasks, 1, job_id="hints-1")

    spent = {}
    for name, call in (("baseline", baseline), ("ours", ours)) * 2:  # the second round counts
        call()  # the job is queued: what follows is a hint while it waits
        gc.collect()  # the baseline's garbage is not charged to the next loop
        started = cpu_s()
        for _ in range(n):
            call()
        spent[name] = (cpu_s() - started) / n * 1e6
    connection.flushdb()
    return [result("a task hint while a sync waits, rq unique enqueue per task (baseline): CPU",
                   round(spent["baseline"], 1), "us"),
            common.result("a task hint while a sync waits, added to the portal's hints: CPU", round(spent["ours"], 1),
                          "us", "< baseline", round(spent["baseline"] / spent["ours"], 1),
                          spent["ours"] < spent["baseline"])]


def run(plan: Plan) -> list[dict]:
    from app import create_app
    from emulators.bitrix24 import Emulator, scenario
    from b24.models import SyncState
    from demo import setup_contracts
    from handlers.frames import Frame, issue
    from ledger.models import Portal
    from ledger.verify import verify

    rng = random.Random(SEED)
    load_before = round(os.getloadavg()[0], 2)
    connection = redis_lib.Redis.from_url(REDIS_URL)
    connection.flushdb()
    hints = hint_cost(connection)
    with ExitStack() as stack:
        stack.callback(connection.close)
        stack.callback(connection.flushdb)
        engine = stack.enter_context(database("postgresql", "load"))
        url = engine.url.render_as_string(hide_password=False)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hb-bench-load-")))
        emu = Emulator().start()
        stack.callback(emu.stop)
        now = datetime.now(timezone.utc)
        p = scenario.demo(emu, now=now)
        p.rate_limit = None
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        emu.register_app(CLIENT_ID, CLIENT_SECRET, public)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET,
               "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET,
               "B24_OAUTH_SERVER": emu.url + "/", "PUBLIC_URL": public, "START_RUNNER": "0",
               "INSTANCE_PATH": str(folder), "PYTHONUNBUFFERED": "1"}
        procs = Processes(folder)
        stack.callback(procs.stop_all)  # before the schema is dropped (LIFO)

        log(f"gunicorn on {public} (2 workers), PostgreSQL schema, {REDIS_URL}")
        procs.start("gunicorn", ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"], env)
        wait_until(lambda: healthy(port), 60, "gunicorn", procs)

        log(f"installing into {p.domain} ({len(p.tasks)} tasks, {len(p.time)} records) …")
        answer = emu.install(p, CLIENT_ID)
        if answer.status_code != 200 or "installFinish" not in answer.text:
            raise RuntimeError(f"install failed: {answer.status_code} {answer.text[:300]}")
        if not emu.flush_events(timeout=30):
            raise RuntimeError("ONAPPINSTALL was not delivered")
        app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET,
                          "INSTANCE_PATH": str(folder), "B24_CLIENT_ID": CLIENT_ID,
                          "B24_CLIENT_SECRET": CLIENT_SECRET, "B24_OAUTH_SERVER": emu.url + "/",
                          "PUBLIC_URL": public, "START_RUNNER": False})
        hb = app.extensions["hourbook"]
        stack.callback(hb.engine.dispose)
        with hb.sessions() as s, s.begin():
            portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
            accounts = setup_contracts(s, portal, p, now)
            portal_id, account_id = portal.id, accounts[0].id
        company_id = p.keys["companies"]["romashka"]
        with app.test_request_context():
            token = issue(Frame(portal_id, user_id=1, admin=True, manager=True, name="bench", lang="ru",
                                placement="CRM_COMPANY_DETAIL_TAB", entity_id=company_id))

        log("starting 2 rq workers; the first sync …")
        for n in range(2):
            procs.start(f"worker{n + 1}", ["worker"], env)

        def first_sync() -> bool:
            with hb.sessions() as s:
                state = s.get(SyncState, portal_id)
                return state is not None and state.first_sync_at is not None

        took = wait_until(first_sync, 60, "the first sync", procs)
        wait_until(lambda: queue_idle(connection), 120, "the queue after the first sync", procs)
        if mirror(hb.sessions, portal_id) != truth(p):
            raise RuntimeError("after the first sync the ledger is not the portal's")
        log(f"  first sync done in {took:.1f} s: {len(truth(p))} records")
        with hb.sessions() as s:
            baseline = {str(problem) for problem in verify(s)}
        for problem in sorted(baseline):
            log(f"  ledger verify after the first sync (before any load): {problem}")

        widget_path = f"/widget/{account_id}?t={token}"
        widget_payload = request_bytes("GET", port, widget_path)
        status, size = call(port, widget_payload)
        if status != 200:
            raise RuntimeError(f"the widget answers {status}")
        log(f"  widget {size / 1024:.1f} KB")
        events = event_payloads(emu, p, port, rng, 4096)
        status, _ = call(port, events[0])
        if status != 200:
            raise RuntimeError(f"an event is answered {status}")

        stop = threading.Event()
        # Warm-up: both gunicorn workers, their pools and the rq path, not measured.
        warm_ev, warm_w = Stream("warm-events", 100.0, events, 8), Stream("warm-widget", 10.0, [widget_payload], 2)
        t0 = time.perf_counter() + 0.1
        threads = run_stream(warm_ev, port, t0, t0 + 2, stop) + run_stream(warm_w, port, t0, t0 + 2, stop)
        for t in threads:
            t.join()
        wait_until(lambda: queue_idle(connection), 120, "the queue after warm-up", procs)
        before_jobs = jobs_done(procs)

        ev = Stream("events", plan.rate, events, SENDERS)
        wd = Stream("widget", plan.widget_rate, [widget_payload], WIDGET_READERS)
        changes = Mutations()
        log(f"load: {plan.rate:,.0f} events/s and {plan.widget_rate:g} widget reads/s for {plan.seconds:g} s …")
        cpu_before = cpu_snapshot(procs)
        rest_before = sum(emu.requests.values())
        wall0 = time.perf_counter()
        t0 = wall0 + 0.2
        t_end = t0 + plan.seconds
        threads = run_stream(ev, port, t0, t_end, stop) + run_stream(wd, port, t0, t_end, stop)
        mutator = threading.Thread(target=mutate, args=(p, t0 + 0.7 * plan.seconds, stop, rng, changes),
                                   daemon=True)
        mutator.start()
        try:
            for t in threads + [mutator]:
                while t.is_alive():
                    t.join(timeout=0.5)
        except BaseException:
            stop.set()
            raise
        wall = time.perf_counter() - wall0
        cpu_after = cpu_snapshot(procs)
        procs.check_alive()
        log(f"  sent {ev.sent:,} events ({ev.ok:,} 2xx), {wd.sent} widget reads ({wd.ok} 2xx); "
            f"portal changed: {changes.added} added, {changes.edited} edited, {changes.deleted} deleted")

        log("draining the queue …")
        drain_s = wait_until(lambda: queue_idle(connection), DRAIN_TIMEOUT_S, "the queue to drain", procs)
        rest_requests = sum(emu.requests.values()) - rest_before
        from rq.registry import FailedJobRegistry

        failed = FailedJobRegistry(QUEUE, connection=connection).count
        after_jobs = jobs_done(procs)
        task_jobs = after_jobs.get("hints", 0) - before_jobs.get("hints", 0)
        other_jobs = sum(after_jobs.values()) - sum(before_jobs.values()) - task_jobs
        ours, theirs = mirror(hb.sessions, portal_id), truth(p)
        missing = len(set(theirs) - set(ours))
        extra = len(set(ours) - set(theirs))
        differ = sum(1 for rid in set(ours) & set(theirs) if ours[rid] != theirs[rid])
        with hb.sessions() as s:
            problems = verify(s)
        new_problems = [str(problem) for problem in problems if str(problem) not in baseline]
        for problem in new_problems:
            log(f"  ledger verify, new after the load: {problem}")
        delivered = sum(1 for e in emu.events_sent if e["status_code"] and not 200 <= e["status_code"] < 300)

    # ---- figures
    rows: list[dict] = []
    window = plan.seconds
    offered = ev.sent / window
    rows.append(result(f"events offered (target {plan.rate:,.0f}/s for {plan.seconds:g} s)", round(offered, 1),
                       "/s", f">= {RATE_SHARE * plan.rate:,.0f} /s", offered >= RATE_SHARE * plan.rate))
    rows.append(result("events sent", ev.sent, "requests"))
    rows.append(result("events due but never sent in the window (senders all waiting on answers)",
                       max(0, int(plan.rate * plan.seconds) - ev.sent), "requests"))
    rows.append(result("events accepted (2xx)", ev.ok, "requests"))
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(ev.statuses.items()) if not 200 <= k < 300)
    exceptions = ", ".join(f"{k}: {v}" for k, v in sorted(ev.exceptions.items()))
    rows.append(result("event errors (non-2xx or no answer)" + (f" [{statuses}{'; ' if statuses and exceptions else ''}"
                                                                  f"{exceptions}]" if statuses or exceptions else ""),
                       ev.errors, "requests", "== 0", ev.errors == 0))
    if ev.answer_ns:
        rows.append(result("event answer time p50", ms(percentile(ev.answer_ns, 50)), "ms"))
        p99 = percentile(ev.answer_ns, 99)
        rows.append(result("event answer time p99", ms(p99), "ms", f"< {EVENTS_P99_MS:g} ms", p99 / 1e6 < EVENTS_P99_MS))
        rows.append(result("event answer time max", ms(max(ev.answer_ns)), "ms"))
        rows.append(result("event start behind schedule p99 (senders busy or client short of CPU)",
                           ms(percentile(ev.lag_ns, 99)), "ms", "< 50 ms (info)",
                           percentile(ev.lag_ns, 99) / 1e6 < 50))
    rows.append(result("widget reads sent", wd.sent, "requests"))
    rows.append(result("widget errors", wd.errors, "requests", "== 0", wd.errors == 0))
    if wd.answer_ns:
        rows.append(result("widget answer time p50 during the load", ms(percentile(wd.answer_ns, 50)), "ms"))
        p95 = percentile(wd.answer_ns, 95)
        rows.append(result("widget answer time p95 during the load", ms(p95), "ms", f"< {WIDGET_P95_MS:g} ms",
                           p95 / 1e6 < WIDGET_P95_MS))
    rows.append(result("hinted-task syncs run for the events (sync_hinted_tasks jobs)", task_jobs, "jobs"))
    rows.append(result("HTTP requests to the portal during the load and the drain (every sync and token)",
                       rest_requests, "requests"))
    rows.append(result("other jobs run meanwhile", other_jobs, "jobs"))
    rows.extend(hints)
    rows.append(result("queue drained after the load in", round(drain_s, 1), "s"))
    rows.append(result("failed jobs", failed, "jobs", "== 0", failed == 0))
    lost = missing + extra + differ
    rows.append(result(f"ledger vs portal after draining: {len(ours):,} vs {len(theirs):,} records, "
                       f"{sum(ours.values()):,} vs {sum(theirs.values()):,} s "
                       f"(missing {missing}, extra {extra}, different {differ})", lost, "records off", "== 0",
                       lost == 0))
    if baseline:
        rows.append(result(f"ledger verify problems already after the first sync: {'; '.join(sorted(baseline))}",
                           len(baseline), "problems"))
    rows.append(result("ledger verify problems new after the load", len(new_problems), "problems", "== 0",
                       not new_problems))
    rows.append(result("portal changes during the load (added/edited/deleted records)",
                       f"{changes.added}/{changes.edited}/{changes.deleted}", ""))
    if delivered:
        rows.append(result("emulator's own event deliveries refused", delivered, "events", "== 0", False))
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    share = {part: 100 * (cpu_after[part] - cpu_before[part]) / ticks / (wall * cores) for part in cpu_after}
    share["anything else on the machine"] = max(0.0, share["machine busy"] - sum(
        v for k, v in share.items() if k != "machine busy"))
    for part, value in share.items():
        rows.append(result(f"CPU {part} during the load ({cores} cores)", round(value, 1), "% of machine"))
    rows.append(result("load average (1 min) before the run", load_before, "load"))
    return rows


def _measured(row: dict) -> str:
    value, unit = row["measured"], row["unit"]
    if unit == "ms":
        return f"{value:.2f} ms"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:,.1f} {unit}".strip()
    return f"{value:,} {unit}".strip()


def format_table(rows: list[dict]) -> str:
    return common.figures_table(rows, _measured)


def main(argv: list[str] | None = None) -> int:
    parser = common.arguments("load", __doc__, f"{QUICK.seconds:g} s at {QUICK.rate:g} events/s")
    parser.add_argument("--rate", type=float, help="events per second")
    parser.add_argument("--seconds", type=float, help="length of the load")
    parser.add_argument("--widget-rate", type=float, help="widget reads per second")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    plan = Plan(args.rate or base.rate, args.seconds or base.seconds, args.widget_rate or base.widget_rate)
    # Ctrl-C and a plain kill both unwind: every process stopped, Redis db and schema emptied.
    # (also when started from a shell that had SIGINT ignored for background jobs)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.perf_counter()
    try:
        rows = run(plan)
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped and removed")
        return 130
    # A run at sizes of one's own keeps its own file: it never replaces the standard figures.
    name = "load" if plan == base else "load.custom"
    return common.finish(name, rows, format_table(rows), args.quick, started)


if __name__ == "__main__":
    sys.exit(main())
