"""`sync --full` on an existing ledger, killed part-way (SIGKILL), resumes
where it stopped: the records it re-read before the kill are not read
again, and the ledger ends equal, posting for posting, to a full sync that
was never interrupted (issue 14; PRODUCT.md rules 1, 2 and 5)."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from b24.client import Rest, WebhookAuth
from b24.models import SyncState
from bench.ingest import fingerprint
from jobs.sync import Sync
from ledger import calendar as cal
from ledger.contracts import add_account, add_team_member, close_due, create_portal, set_retainer
from ledger.db import make_engine, make_session_factory
from ledger.verify import verify

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 7_600  # four batch requests of 50 x 50 records: the kill falls between two of them


def full_sync_child(url: str, path: Path, portal_id: int) -> subprocess.Popen:
    """`Sync.run(reconcile=True, full=True)` in a process of its own, as
    `python app.py sync --full` runs it (bench.ingest's child)."""
    return subprocess.Popen([sys.executable, "-m", "bench.ingest", "--sync-child", url, f"sqlite:///{path}",
                             str(portal_id)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def full_cursor(path: Path, portal_id: int) -> int | None:
    engine = make_engine(f"sqlite:///{path}", read_only=True)
    try:
        with make_session_factory(engine)() as s:
            return s.execute(select(SyncState.full_cursor).where(SyncState.portal_id == portal_id)).scalar()
    finally:
        engine.dispose()


def test_full_sync_killed_part_way_resumes_where_it_stopped(emu, sqlite_template, tmp_path):
    p = emu.add_portal("full.bitrix24.test")
    p.rate_limit = None
    staff = p.add_user("Анна", "Орлова")
    tasks = [p.add_task(f"Задача {n}", staff) for n in range(20)]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    first = cal.add_months(cal.month_start(cal.local_date(now, p.time_zone)), -3)
    start = cal.local_midnight(first, p.time_zone)
    span_s = int((now - timedelta(hours=1) - start).total_seconds())
    records = [p.add_time(tasks[i % len(tasks)], staff, 600 + i % 7 * 300, start + timedelta(seconds=span_s * i // RECORDS))
               for i in range(RECORDS)]
    url = p.webhook(1)

    base = tmp_path / "base.db"
    shutil.copy(sqlite_template, base)
    engine = make_engine(f"sqlite:///{base}")
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        portal = create_portal(s, p.member_id, p.domain, p.time_zone, "client")
        account = add_account(s, portal, "Клиент", now=now)
        set_retainer(s, account, hours_s=400 * 3600, starts_on=first, now=now)
        add_team_member(s, portal, staff, name="Анна Орлова", now=now)
        portal_id = portal.id
    Sync(sessions, Rest(WebhookAuth(url)), portal_id).run(reconcile=True, full=True)  # the first import
    with sessions() as s, s.begin():
        assert close_due(s, datetime.now(timezone.utc)).closed  # the months before this one are closed: their changes are corrections
    engine.dispose()

    # What no total and no window shows: edits and deletions all over the history.
    for n, record in enumerate(records[::25]):
        if n % 3:
            p.update_time(record, seconds=900 + n)
        else:
            p.delete_time(record)

    reference = tmp_path / "reference.db"
    shutil.copy(base, reference)
    run = full_sync_child(url, reference, portal_id)
    whole = json.loads(run.communicate(timeout=300)[0].strip().splitlines()[-1])
    assert run.returncode == 0
    expected = fingerprint(make_session_factory(make_engine(f"sqlite:///{reference}")), portal_id)

    killed = tmp_path / "killed.db"
    shutil.copy(base, killed)
    run = full_sync_child(url, killed, portal_id)
    deadline = time.monotonic() + 300
    while not full_cursor(killed, portal_id) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)  # part-way through the pass over every record
    run.wait()
    at_kill = full_cursor(killed, portal_id)
    assert at_kill and at_kill < max(records), "killed before the pass began or after it ended"

    run = full_sync_child(url, killed, portal_id)
    resumed = json.loads(run.communicate(timeout=300)[0].strip().splitlines()[-1])
    assert run.returncode == 0
    sessions = make_session_factory(make_engine(f"sqlite:///{killed}"))
    assert fingerprint(sessions, portal_id) == expected
    with sessions() as s:
        assert verify(s) == []
        assert s.get(SyncState, portal_id).full_cursor is None  # the pass is complete
    # It went on from the kill: the records before the cursor were not read again.
    assert resumed["requests"] < whole["requests"]
