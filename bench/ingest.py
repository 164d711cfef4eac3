"""First-import benchmark (issue 14): the ledger's bulk path beside a bare
insert, the first import end to end under the portal's rate limit, and
imports killed part-way.

    .venv/bin/python -m bench.ingest [--db sqlite|postgresql|both] [--quick] [--only ledger|e2e|kill]

1. **Ledger.** An integrator's portal: 200 accounts (each a CRM company on a
   40 h retainer for two years, every past month closed by the ledger's own
   close), 2,000 tasks bound to them, 30 staff on the team and 20 client
   users whose time is shown but never debited. 1,000,000 record snapshots go
   through `apply_entries`, 10,000 per transaction (four batch
   requests' worth): 950,000 records first seen (dated over the two years, so most
   are corrections into the open month) and then 50,000 later edits and
   deletions (most of them in closed months). Beside it, in the same run, a
   bare SQLAlchemy Core insert of 1,000,000 rows of the same generator into
   an empty database of the same schema, a page per transaction. Targets:
   the bulk path at >= 0.33 of the bare insert's rate (issue 14's baseline:
   `apply_entry` at 0.017 on SQLite, 0.022 on PostgreSQL), the process's
   peak memory under 500 MB, `ledger verify` clean, and the ledger equal,
   posting for posting, to the one-record path's on a 20,000-snapshot sample.
2. **End to end.** The emulator (its own process, the basic plan's leaky
   bucket on: 2 requests a second, 50 at most) holds the same portal with
   1,000,000 records; `Sync.run(reconcile=True, full=True)` imports them
   into an empty SQLite ledger, pacing itself as production does. Reported:
   requests, wall time and the floor (requests / 2 per second); target: wall
   time <= 1.5 x the floor.
3. **Killed.** 20 times: an import (20,000 records, its own process) killed
   with SIGKILL at a random moment, then run again to the end; the ledger
   must equal an import that was never interrupted, posting for posting.

`--quick`: 50,000 snapshots, 50,000 records end to end, 3 kills of 5,000.
"""
from __future__ import annotations

import json
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

import b24.models  # noqa: F401  (sync_state and the other b24 tables)
from bench.common import figures_table, finish, log, result, stop_on_problems
from bench.ledger import database  # a migrated, throwaway database (SQLite file or PostgreSQL schema)
from ledger import calendar as cal
from ledger import schema
from ledger.contracts import add_account, add_team_member, close_due, create_portal, set_retainer
from ledger.db import make_engine, make_session_factory
from ledger.entries import EntryDeleted, EntrySnapshot, apply_entries, apply_entry
from ledger.models import Account, Period, Portal, Posting, TimeEntry
from ledger.tasks import upsert_task
from ledger.verify import verify

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Moscow"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=cal.zone(TZ)).astimezone(timezone.utc)
MONTHS = 24
SEED = 0x1D6E57
PAGE = 10_000                # snapshots per transaction: four batch requests' worth (2,500 each)
ACCOUNTS = 200
TASKS = 2_000
STAFF = 30                   # on the team: their time is debited
CLIENT_USERS = 20            # the clients' own people: shown, never debited
EDIT_SHARE = 0.05            # of the snapshots, later edits and deletions
DELETE_SHARE = 1 / 3         # of those, deletions
DURATIONS_S = (600, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 1234)
RATE_TARGET = 0.33           # of the bare insert's rate
MEMORY_TARGET_MB = 500
E2E_TARGET = 1.5             # x the rate limit's floor
RATE_PER_S = 2.0
BASELINE = {"sqlite": (716, 42_717), "postgresql": (278, 12_540)}  # apply_entry vs bare insert, issue 14


@dataclass(frozen=True)
class Sizes:
    snapshots: int
    sample: int
    e2e_records: int
    kill_records: int
    kills: int


FULL = Sizes(1_000_000, 20_000, 1_000_000, 20_000, 20)
QUICK = Sizes(50_000, 5_000, 50_000, 5_000, 3)


# ---------------------------------------------------------------- the portal's records, from a seed


def mix(value: int) -> int:
    """splitmix64: a record's every field from its number, so any record can
    be made again (for its later edit) without keeping a million in memory."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


@dataclass(frozen=True)
class Ids:
    """The portal's ids: the ledger's bench invents them, the emulator hands
    out its own; the records are the same either way."""

    tasks: list[int]
    staff: list[int]
    clients: list[int]
    companies: list[int]


BENCH_IDS = Ids(list(range(1, TASKS + 1)), list(range(10, 10 + STAFF)),
                list(range(100, 100 + CLIENT_USERS)), list(range(5_000, 5_000 + ACCOUNTS)))
HISTORY_START = cal.local_midnight(cal.add_months(cal.month_start(cal.local_date(NOW, TZ)), -MONTHS + 1), TZ)
HISTORY_SPAN_S = int((NOW - timedelta(days=1) - HISTORY_START).total_seconds())


def record(ids: Ids, i: int, n: int, edit: int = 0) -> tuple[int, int, int, datetime]:
    """(task, user, seconds, worked at) of record number `i` of `n`, dated in
    order of number over the two years; `edit` > 0 changes its seconds."""
    h = mix(SEED * 10_000_019 + i)
    task = ids.tasks[h % len(ids.tasks)]
    users = ids.staff if (h >> 20) % 10 < 8 else ids.clients
    user = users[(h >> 24) % len(users)]
    seconds = DURATIONS_S[((h >> 32) + edit) % len(DURATIONS_S)] + (60 * edit if edit else 0)
    at = HISTORY_START + timedelta(seconds=HISTORY_SPAN_S * (i - 1) // n + (h >> 40) % 3_600)
    return task, user, seconds, at


def edits(n_new: int, n_edits: int) -> Iterator[tuple[int, bool]]:
    """(record number, deleted?) of the later changes: spread over every
    record, so most fall in closed months."""
    for k in range(n_edits):
        h = mix(SEED * 7 + k)
        yield 1 + h % n_new, (h >> 33) % 1000 < DELETE_SHARE * 1000


def split(total: int) -> tuple[int, int]:
    n_edits = int(total * EDIT_SHARE)
    return total - n_edits, n_edits


def snapshot_pages(portal_id: int, total: int, page: int = PAGE) -> Iterator[list]:
    """The `total` snapshots a page at a time: new records in ID order, then
    the later edits and deletions."""
    n_new, n_edits = split(total)
    batch: list = []
    for i in range(1, n_new + 1):
        task, user, seconds, at = record(BENCH_IDS, i, n_new)
        batch.append(EntrySnapshot(portal_id, i, task, user, seconds, at, "работа"))
        if len(batch) == page:
            yield batch
            batch = []
    for k, (i, deleted) in enumerate(edits(n_new, n_edits)):
        if deleted:
            batch.append(EntryDeleted(portal_id, i))
        else:
            task, user, seconds, at = record(BENCH_IDS, i, n_new, edit=1 + k % 5)
            batch.append(EntrySnapshot(portal_id, i, task, user, seconds, at, "работа"))
        if len(batch) == page:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- databases and the ledger


def setup_ledger(sessions: sessionmaker, ids: Ids, member_id: str, tasks: bool = True) -> int:
    """The integrator's ledger before its first import: accounts bound to
    their companies on two-year retainers, the team, the tasks (unless the
    sync reads them), every past month closed. Returns the portal's id."""
    setup_at = HISTORY_START
    with sessions() as s, s.begin():
        portal = create_portal(s, member_id, f"{member_id}.bitrix24.test", TZ, "integrator", actor="bench")
        for n, company in enumerate(ids.companies):
            account = add_account(s, portal, f"Клиент {n + 1}", company_id=company, actor="bench", now=setup_at)
            set_retainer(s, account, hours_s=40 * 3600, starts_on=cal.local_date(HISTORY_START, TZ),
                         actor="bench", now=setup_at)
        for user in ids.staff:
            add_team_member(s, portal, user, name=f"Staff {user}", actor="bench", now=setup_at)
        if tasks:
            for n, task in enumerate(ids.tasks):
                upsert_task(s, portal.id, task, title=f"Задача {task}", company_id=ids.companies[n % len(ids.companies)],
                            now=setup_at)
        portal_id = portal.id
    with sessions() as s, s.begin():
        close_due(s, NOW)
    return portal_id


def fingerprint(sessions: sessionmaker, portal_id: int) -> tuple[list, list]:
    """The portal's postings and entries with database ids replaced by what
    they stand for (record ids, account/period labels): two ledgers built
    in another order compare equal exactly when they hold the same things."""
    with sessions() as s:
        records = {e: r for e, r in s.execute(select(TimeEntry.id, TimeEntry.record_id)
                                              .where(TimeEntry.portal_id == portal_id))}
        periods = {p: f"{name}/{label}" for p, name, label in s.execute(
            select(Period.id, Account.name, Period.label).join(Account, Account.id == Period.account_id)
            .where(Account.portal_id == portal_id))}

        def key(k: str) -> str:
            parts = k.split(":")
            if parts[0] == "entry":
                _, entry, version, seq, period, origin = parts
                return f"entry:r{records[int(entry)]}:{version}:{seq}:{periods[int(period)]}:{periods[int(origin)]}"
            if parts[0] in ("alloc", "close"):
                parts[1] = periods.get(int(parts[1]), parts[1])
            return ":".join(parts)

        postings = sorted((key(k), kind, amount, periods[p], periods.get(o), records.get(e), v)
                          for k, kind, amount, p, o, e, v in s.execute(
                              select(Posting.key, Posting.kind, Posting.amount_s, Posting.period_id,
                                     Posting.origin_period_id, Posting.entry_id, Posting.entry_version)
                              .where(Posting.portal_id == portal_id)))
        entries = sorted((r, t, u, d, deleted, v, seq, state, counted, periods.get(p))
                         for r, t, u, d, deleted, v, seq, state, counted, p in s.execute(
                             select(TimeEntry.record_id, TimeEntry.task_id, TimeEntry.user_id, TimeEntry.duration_s,
                                    TimeEntry.deleted, TimeEntry.version, TimeEntry.post_seq, TimeEntry.state,
                                    TimeEntry.counted_s, TimeEntry.period_id)
                             .where(TimeEntry.portal_id == portal_id)))
    return postings, entries


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- 1. the ledger


def apply_all(sessions: sessionmaker, portal_id: int, total: int, bulk: bool = True) -> float:
    """Seconds to apply `total` snapshots a page per transaction, through
    the bulk path or (bulk False) one `apply_entry` at a time."""
    started = time.perf_counter()
    done = 0
    for page in snapshot_pages(portal_id, total):
        with sessions() as s, s.begin():
            if bulk:
                apply_entries(s, page, NOW)
            else:
                for snap in page:
                    apply_entry(s, snap, NOW)
        done += len(page)
        if bulk and done % 100_000 < PAGE:
            rate = done / (time.perf_counter() - started)
            log(f"    {done:,} snapshots, {rate:,.0f}/s, peak {peak_mb():.0f} MB")
    return time.perf_counter() - started


def bare_insert(db: str, total: int) -> float:
    """Seconds for a bare Core insert of `total` rows of the same generator
    into an empty database of the same schema, a page per transaction."""
    with database(db, "bare") as engine:
        with Session(engine) as s:
            portal_id = create_portal(s, "bench-bare", "bench-bare.bitrix24.test", TZ, "integrator", actor="bench").id
            s.commit()
        table = TimeEntry.__table__
        started = time.perf_counter()
        rows = []
        for i in range(1, total + 1):
            task, user, seconds, at = record(BENCH_IDS, i, total)
            rows.append(dict(portal_id=portal_id, record_id=i, task_id=task, user_id=user, duration_s=seconds,
                             work_at=at, comment="работа", deleted=False, version=1, post_seq=0, state="new",
                             counted_s=0, first_seen_at=NOW, updated_at=NOW))
            if len(rows) == PAGE or i == total:
                with engine.begin() as conn:
                    conn.execute(insert(table), rows)
                rows = []
        return time.perf_counter() - started


def run_ledger(db: str, sizes: Sizes) -> list[dict]:
    total = sizes.snapshots
    n_new, n_edits = split(total)
    with database(db, "bulk") as engine:
        sessions = make_session_factory(engine)
        log(f"{db}: the integrator's ledger ({ACCOUNTS} accounts, {TASKS:,} tasks, {MONTHS} months)")
        started = time.perf_counter()
        portal_id = setup_ledger(sessions, BENCH_IDS, "bench-bulk")
        log(f"  set up in {time.perf_counter() - started:.1f} s")
        log(f"{db}: {total:,} snapshots ({n_new:,} new, {n_edits:,} edits and deletions) through apply_entries")
        bulk_s = apply_all(sessions, portal_id, total)
        memory_mb = peak_mb()
        started = time.perf_counter()
        with sessions() as s:
            problems = verify(s)
            postings = s.execute(select(text("count(*)")).select_from(Posting.__table__)).scalar_one()
        stop_on_problems(problems, f"{db}: ledger verify found {len(problems)} problems after the bulk apply")
        log(f"  ledger verify: no problems ({time.perf_counter() - started:.1f} s); {postings:,} postings")
    log(f"{db}: bare Core insert of {total:,} rows of the same generator")
    bare_s = bare_insert(db, total)

    log(f"{db}: sample of {sizes.sample:,}: bulk path vs one record at a time")
    prints = {}
    for bulk in (True, False):
        with database(db, f"sample{int(bulk)}") as engine:
            sessions = make_session_factory(engine)
            portal_id = setup_ledger(sessions, BENCH_IDS, "bench-sample")
            took = apply_all(sessions, portal_id, sizes.sample, bulk=bulk)
            prints[bulk] = fingerprint(sessions, portal_id)
            log(f"  {'bulk' if bulk else 'one by one'}: {took:.1f} s, {len(prints[bulk][0]):,} postings")
    same = prints[True] == prints[False]
    if not same:
        a, b = set(prints[True][0]), set(prints[False][0])
        log(f"  DIFFERENT: {len(a - b)} postings only in bulk {sorted(a - b)[:3]}, {len(b - a)} only one by one")

    rate, bare_rate = total / bulk_s, total / bare_s
    base_apply, base_bare = BASELINE[db]
    ratio = rate / bare_rate
    label = f"{total // 1000:,}k" if total < 1_000_000 else f"{total // 1_000_000}M"
    return [
        result(f"{db}: apply_entries, {label} snapshots (baseline apply_entry {base_apply:,}/s)", round(rate, 1),
               "records/s", ratio=round(rate / base_apply, 1)),
        result(f"{db}: bare Core insert, {label} rows (baseline {base_bare:,}/s)", round(bare_rate, 1), "rows/s"),
        result(f"{db}: bulk / bare insert (baseline {base_apply / base_bare:.3f})", round(ratio, 3), "x",
               f">= {RATE_TARGET}", ratio=round(ratio / (base_apply / base_bare), 1), passed=ratio >= RATE_TARGET),
        result(f"{db}: peak memory of the bulk apply", round(memory_mb, 1), "MB", f"< {MEMORY_TARGET_MB} MB",
               passed=memory_mb < MEMORY_TARGET_MB),
        result(f"{db}: ledger verify after the bulk apply", len(problems), "problems", "0", passed=not problems),
        result(f"{db}: sample of {sizes.sample:,}, bulk = one by one, posting for posting",
               len(prints[True][0]), "postings", "equal", passed=same),
    ]


# ---------------------------------------------------------------- the emulator, in its own process


def serve_emulator(records: int, rate_limit: bool) -> None:
    """`--serve-emulator N`: the portal with N records, then serve until
    stdin closes. Prints one JSON line: the webhook and the portal's ids."""
    from emulators.bitrix24 import Emulator

    emu = Emulator().start()
    p = emu.add_portal("ingest.bitrix24.test", time_zone=TZ)
    if not rate_limit:
        p.rate_limit = None
    p.operating_limit_s = float("inf")  # the emulator's CPU time is not a portal's
    staff = [p.add_user(f"Staff{i}", "Bench") for i in range(STAFF)]
    clients = [p.add_user(f"Client{i}", "Bench") for i in range(CLIENT_USERS)]
    companies = [p.add_company(f"Компания {i}") for i in range(ACCOUNTS)]
    tasks = [p.add_task(f"Задача {n}", staff[n % STAFF], crm=[f"CO_{companies[n % ACCOUNTS]}"],
                        created_date=HISTORY_START) for n in range(TASKS)]
    ids = Ids(tasks, staff, clients, companies)
    for i in range(1, records + 1):
        task, user, seconds, at = record(ids, i, records)
        p.add_time(task, user, seconds, at, comment="работа")
    print(json.dumps({"webhook": p.webhook(1), "tasks": tasks, "staff": staff, "clients": clients,
                      "companies": companies}), flush=True)
    try:
        sys.stdin.read()
    finally:
        emu.stop()


@contextmanager
def emulator(records: int, rate_limit: bool) -> Iterator[tuple[str, Ids, subprocess.Popen]]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.ingest", "--serve-emulator", str(records)]
                            + ([] if rate_limit else ["--no-rate-limit"]),
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the emulator did not start")
        info = json.loads(line)
        yield info["webhook"], Ids(info["tasks"], info["staff"], info["clients"], info["companies"]), proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def sync_once(url: str, db_url: str, portal_id: int, paced: bool) -> dict:
    """One `Sync.run(reconcile=True, full=True)`, as the first import runs."""
    from b24.client import Rest, WebhookAuth
    from b24.limits import LocalBucket
    from jobs.sync import Sync

    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    rest = Rest(WebhookAuth(url), limiter=LocalBucket(RATE_PER_S, 50) if paced else None)
    started = time.perf_counter()
    report = Sync(sessions, rest, portal_id).run(reconcile=True, full=True)
    wall_s = time.perf_counter() - started
    engine.dispose()
    return {"requests": report.requests, "wall_s": wall_s, "new_records": report.new_records,
            "postings": report.postings, "bad": len(report.bad_records)}


# ---------------------------------------------------------------- 2. end to end


def run_e2e(sizes: Sizes) -> list[dict]:
    records = sizes.e2e_records
    log(f"end to end: the emulator with {records:,} records, rate limit on (2/s, 50)")
    started = time.perf_counter()
    with emulator(records, rate_limit=True) as (url, ids, _), tempfile.TemporaryDirectory(prefix="hb-e2e-") as tmp:
        log(f"  emulator ready in {time.perf_counter() - started:.0f} s")
        db_url = f"sqlite:///{tmp}/e2e.db"
        engine = make_engine(db_url)
        schema.upgrade(engine)
        sessions = make_session_factory(engine)
        portal_id = setup_ledger(sessions, ids, "ingest", tasks=False)
        with sessions() as s, s.begin():
            s.get(Portal, portal_id).member_id = "ingest"
        log("  first import (Sync.run(reconcile=True, full=True)), paced at 2 requests/s")
        done = sync_once(url, db_url, portal_id, paced=True)
        with sessions() as s:
            problems = verify(s)
            mirrored = s.execute(select(text("count(*)")).select_from(TimeEntry.__table__)).scalar_one()
        engine.dispose()
    stop_on_problems(problems, f"end to end: ledger verify found {len(problems)} problems")
    if mirrored != records or done["new_records"] != records:
        raise SystemExit(f"end to end: {mirrored:,} entries mirrored, {done['new_records']:,} read, of {records:,}")
    floor_s = done["requests"] / RATE_PER_S
    log(f"  {done['requests']} requests in {done['wall_s']:.1f} s; floor {floor_s:.1f} s; {mirrored:,} entries, "
        f"verify clean")
    label = f"{records // 1000:,}k" if records < 1_000_000 else f"{records // 1_000_000}M"
    return [
        result(f"e2e: first import of {label} records, requests (floor {-(-records // 2_500)} + the task list)",
               done["requests"], "requests"),
        result(f"e2e: first import of {label} records, wall time", round(done["wall_s"], 1), "s",
               f"<= {E2E_TARGET} x floor ({floor_s * E2E_TARGET:.0f} s)", ratio=round(done["wall_s"] / floor_s, 2),
               passed=done["wall_s"] <= E2E_TARGET * floor_s),
        result(f"e2e: rate-limit floor (requests / {RATE_PER_S:g} per s)", round(floor_s, 1), "s"),
        result(f"e2e: ledger verify after the import ({mirrored:,} entries)", len(problems), "problems", "0",
               passed=not problems),
    ]


# ---------------------------------------------------------------- 3. killed


def run_kills(sizes: Sizes) -> list[dict]:
    records, kills = sizes.kill_records, sizes.kills
    rng = random.Random(SEED)
    log(f"killed: {kills} imports of {records:,} records killed (SIGKILL) at random moments, then resumed")
    with emulator(records, rate_limit=False) as (url, ids, _), tempfile.TemporaryDirectory(prefix="hb-kill-") as tmp:
        template = Path(tmp) / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        schema.upgrade(engine)
        sessions = make_session_factory(engine)
        portal_id = setup_ledger(sessions, ids, "ingest", tasks=False)
        engine.dispose()

        def fresh(name: str) -> str:
            path = Path(tmp) / name
            path.write_bytes(template.read_bytes())
            return f"sqlite:///{path}"

        def child(db_url: str) -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "bench.ingest", "--sync-child", url, db_url,
                                     str(portal_id)], cwd=ROOT, stdout=subprocess.DEVNULL)

        reference_url = fresh("reference.db")
        started = time.perf_counter()
        if child(reference_url).wait() != 0:
            raise SystemExit("killed: the uninterrupted import failed")
        took_s = time.perf_counter() - started
        reference = fingerprint(make_session_factory(make_engine(reference_url)), portal_id)
        log(f"  uninterrupted: {took_s:.1f} s, {len(reference[0]):,} postings")
        same = 0
        killed_during = 0
        partials = []
        for n in range(kills):
            db_url = fresh(f"k{n}.db")
            proc = child(db_url)
            time.sleep(rng.uniform(0.3, 1.0) * took_s)  # anywhere: starting, reading, posting, finishing
            if proc.poll() is None:
                killed_during += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            engine = make_engine(db_url)
            with make_session_factory(engine)() as s:
                partial = s.execute(select(text("count(*)")).select_from(TimeEntry.__table__)).scalar_one()
            engine.dispose()
            partials.append(partial)
            if child(db_url).wait() != 0:
                raise SystemExit(f"killed: resume {n} failed")
            sessions = make_session_factory(make_engine(db_url))
            got = fingerprint(sessions, portal_id)
            with sessions() as s:
                problems = verify(s)
            ok = got == reference and not problems
            same += ok
            log(f"  kill {n + 1}: {partial:,} entries when killed; resumed: {'same ledger' if ok else 'DIFFERENT'}")
    return [
        result(f"killed: imports killed (SIGKILL) at random moments, then resumed ({killed_during} while running; "
               f"{sum(0 < p < records for p in partials)} with part of the records posted)", kills, "kills"),
        result(f"killed: resumed ledger = uninterrupted, posting for posting ({records:,} records)", same,
               "imports", f"{kills} of {kills}", passed=same == kills),
    ]


# ---------------------------------------------------------------- the run


def run(quick: bool = False, db: str = "sqlite", only: list[str] | None = None) -> list[dict]:
    sizes = QUICK if quick else FULL
    parts = only or ["ledger", "e2e", "kill"]
    rows: list[dict] = []
    if "ledger" in parts:
        if db == "both":
            # Each database in a process of its own: the peak memory measured
            # is then that database's import, not what an earlier one left.
            for name in ("sqlite", "postgresql"):
                out = subprocess.run([sys.executable, "-m", "bench.ingest", "--ledger-child", name]
                                     + (["--quick"] if quick else []), cwd=ROOT, stdout=subprocess.PIPE,
                                     text=True, check=True).stdout
                rows += json.loads(out.strip().splitlines()[-1])
        else:
            rows += run_ledger(db, sizes)
    if "e2e" in parts:
        rows += run_e2e(sizes)
    if "kill" in parts:
        rows += run_kills(sizes)
    return rows


def _measured(row: dict) -> str:
    value, unit = row["measured"], row["unit"]
    if unit == "x":
        return f"{value:.3f}x"
    if isinstance(value, float):
        return f"{value:,.1f} {unit}"
    return f"{value:,} {unit}"


def _ratio(row: dict) -> str:
    return "" if row["ratio"] is None else f"{row['ratio']:,}x"


def format_table(rows: list[dict]) -> str:
    return (figures_table(rows, _measured, _ratio)
            + "\n\nratio: rates against issue 14's baseline (apply_entry, one record at a time); "
              "the e2e wall time against its floor")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve-emulator"]:
        serve_emulator(int(argv[1]), rate_limit="--no-rate-limit" not in argv)
        return 0
    if argv[:1] == ["--ledger-child"]:
        print(json.dumps(run_ledger(argv[1], QUICK if "--quick" in argv else FULL)))
        return 0
    if argv[:1] == ["--sync-child"]:
        print(json.dumps(sync_once(argv[1], argv[2], int(argv[3]), paced=False)))
        return 0
    from bench.common import arguments

    parser = arguments("ingest", __doc__, "50k snapshots, 50k records end to end, 3 kills", db=True)
    parser.add_argument("--only", action="append", choices=("ledger", "e2e", "kill"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(quick=args.quick, db=args.db, only=args.only)
    return finish("ingest", rows, format_table(rows), args.quick, started)


if __name__ == "__main__":
    sys.exit(main())
