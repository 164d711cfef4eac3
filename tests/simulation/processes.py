"""The production shape, running a simulation story: two web processes
(gunicorn, `app.py serve --workers 2`) and two rq workers, each with its
scheduler process (`app.py worker`), on the real PostgreSQL and Redis.

`ScaleOut` plays a seed's story as `World` does, with the differences real
processes make: the clocks are not moved (the story happens now; the
contracts began months ago, so the first tick closes those months and
back-dated records become corrections), the schedulers tick by themselves,
a job is killed by SIGKILL of the worker process that runs it, a restart is
the web processes' restart, and e-mail goes to a real SMTP server so that
each message can be counted.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import redis as redis_lib
import requests
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from sqlalchemy import func, select

from emulators.bitrix24 import Emulator
from jobs import tasks
from jobs.runner import RqRunner
from ledger import calendar as cal
from ledger.db import make_engine, make_session_factory
from ledger.models import Account
from reports.models import AlertSent, SentReport
from tests.live import CLIENT_ID, CLIENT_SECRET, SECRET_KEY
from tests.smtp import Inbox, free_port

from .world import SENDER, World

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "hourbook"


class Cluster:
    """The web processes and the workers, as the Procfile starts them."""

    def __init__(self, folder: Path, database_url: str, redis_url: str, emu: Emulator, smtp_url: str,
                 workers: int = 2) -> None:
        self.folder, self.redis = folder, redis_lib.Redis.from_url(redis_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET_KEY,
                    "INSTANCE_PATH": str(folder / "instance"), "B24_CLIENT_ID": CLIENT_ID,
                    "B24_CLIENT_SECRET": CLIENT_SECRET, "B24_OAUTH_SERVER": emu.url + "/", "PUBLIC_URL": self.url,
                    "SMTP_URL": smtp_url, "MAIL_FROM": SENDER, "B24_RATE_PER_S": "100000", "B24_BURST": "1000000",
                    "PYTHONUNBUFFERED": "1"}
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.started = 0
        self.want = workers

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        self.started += 1
        with open(self.folder / f"{name}-{self.started}.log", "wb") as log:
            # A session of its own: the whole group (the worker, its work-horse,
            # its scheduler, rq's own scheduler) can be killed together.
            return subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> Cluster:
        self.start_web()
        for _ in range(self.want):
            self.start_worker()
        return self

    def start_web(self) -> None:
        self.web = self._spawn("web", "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2")
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and self.web.poll() is None, "the web processes did not start"
            time.sleep(0.1)

    def restart_web(self) -> None:
        assert self.web is not None
        self.web.send_signal(signal.SIGTERM)
        self.web.wait(timeout=30)
        self.start_web()

    def start_worker(self) -> None:
        before = len(self.live_workers())
        self.workers.append(self._spawn("worker", "worker", "--schedule-every", "1"))
        deadline = time.monotonic() + 60
        while len(self.live_workers()) <= before:
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)

    def kill_worker(self, n: int) -> None:
        """SIGKILL to a worker and everything it started, mid-job or not."""
        proc = self.workers.pop(n % len(self.workers))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def live_workers(self) -> list[Worker]:
        pids = {proc.pid for proc in self.workers if proc.poll() is None}
        return [w for w in Worker.all(connection=self.redis) if w.pid in pids]

    def idle(self) -> bool:
        """Nothing queued, nothing due for a retry soon, every live worker idle."""
        queue = Queue(QUEUE, connection=self.redis)
        if queue.count:
            return False
        scheduled = ScheduledJobRegistry(QUEUE, connection=self.redis)
        soon = time.time() + 30
        if any((scheduled.get_scheduled_time(j).timestamp() < soon) for j in scheduled.get_job_ids()):
            return False
        return all(w.get_state() != "busy" for w in self.live_workers())

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:  # idle three looks in a row: a job may be between dequeue and start
            assert time.monotonic() < deadline, f"the workers did not settle; logs in {self.folder}"
            quiet = quiet + 1 if self.idle() else 0
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in [*self.workers, *([self.web] if self.web else [])]:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in [*self.workers, *([self.web] if self.web else [])]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


class ScaleOut(World):
    """A seed's story against the cluster (see the module's docstring)."""

    STEPS = 8

    def __init__(self, seed: int, emu: Emulator, cluster: Cluster, database_url: str, inbox: Inbox) -> None:
        super().__init__(seed, emu, None, database_url, cluster.folder / "instance")
        self.cluster, self.inbox = cluster, inbox
        self.faults["timeout_calls"] = 0.0  # a worker's client waits 30 s for an answer: no use here
        self._engine = make_engine(database_url)
        self._db = make_session_factory(self._engine)

    @property
    def db(self) -> Any:
        return self._db

    # -------------------------------------------------------- time is real

    def start_clock(self) -> None:
        today = cal.local_date(datetime.now(timezone.utc), self.tz)
        self.starts_on = cal.add_months(cal.month_start(today), -self.months)
        self.at = datetime.now(timezone.utc)

    def worked_at(self, back: bool) -> datetime:
        self.at = datetime.now(timezone.utc) - timedelta(minutes=5)
        return super().worked_at(back)

    def advance(self) -> None:
        self.at = datetime.now(timezone.utc)

    def going(self) -> bool:
        return self.out.steps < self.STEPS

    # -------------------------------------------------------- processes do the work

    def boot(self) -> None:
        pass  # the cluster runs already

    def restart(self) -> None:
        self.cluster.restart_web()
        self.say("the web processes restart")

    def act(self, action: str) -> None:
        if action == "kill":
            self.cluster.kill_worker(self.rng.randrange(len(self.cluster.workers)))
            self.cluster.start_worker()
            self.out.kills += 1
            self.say("a worker is killed (SIGKILL) and another started")
        else:
            super().act(action)

    def drain(self) -> None:
        self.cluster.wait_idle()

    def tick(self) -> None:
        time.sleep(1.2)  # the schedulers tick every second by themselves
        self.cluster.wait_idle()

    def final_sync(self) -> None:
        # Its own job id: a killed worker's job keeps the usual id until rq's
        # maintenance finds it dead (60-90 s), refusing a second like it.
        RqRunner(self.cluster.redis).enqueue(tasks.sync_portal, self.portal_id, True, True,
                                            job_id=f"final-{self.portal_id}")
        self.cluster.wait_idle()

    def finish(self) -> None:
        kills = self.out.kills
        super().finish()
        self.out.kills = kills

    def job_failures(self) -> list[tuple[str, str]]:
        """Jobs that used up their retries, with the last line of their error
        ("b24.client.Transient: …" reads as "Transient(" for World.check)."""
        out = []
        for job_id in FailedJobRegistry(QUEUE, connection=self.cluster.redis).get_job_ids():
            info = (self.cluster.redis.hget(f"rq:job:{job_id}", "exc_info") or b"").decode(errors="replace")
            last = (info.strip().splitlines() or [""])[-1]
            out.append((job_id, "Transient(" + last if "Transient" in last else last))
        return out

    def check(self) -> list[str]:
        """World's checks, and each chat message once: one per report and
        alert that says its chat message went out, no more."""
        problems = super().check()
        with self.db() as s:
            reports = s.execute(select(func.count()).select_from(SentReport).join(
                Account, Account.id == SentReport.account_id).where(
                Account.portal_id == self.portal_id, SentReport.chat_sent_at.is_not(None))).scalar_one()
            alerts = s.execute(select(func.count()).select_from(AlertSent).join(
                Account, Account.id == AlertSent.account_id).where(
                Account.portal_id == self.portal_id, AlertSent.chat_sent_at.is_not(None))).scalar_one()
        posted = sum(1 for m in self.emu.messages if m["domain"] == self.p.domain)
        if posted != reports + alerts:
            problems.append(f"{posted} chat messages for {reports} reports and {alerts} alerts")
        return problems

    def compare_mail(self, key: str, again: bytes) -> list[str]:
        """Sent once: exactly one message with the report's Message-ID
        reached the SMTP server, and it is the report rendered again."""
        wanted = message_from_bytes(again, policy=policy.default)
        got = [m for m in self.inbox.messages() if m["Message-ID"] == wanted["Message-ID"]]
        if len(got) != 1:
            return [f"report {key}: {len(got)} e-mails sent"]
        if got[0].get_body(("plain",)).get_content() != wanted.get_body(("plain",)).get_content():
            return [f"report {key}: the e-mail sent is not reproducible"]
        return []

    def close(self) -> None:
        self._engine.dispose()
