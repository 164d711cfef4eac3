"""REST economy benchmark: how many HTTP requests the sync spends, against
what a small Bitrix24 timesheet app spends on the same portal.

    .venv/bin/python -m bench.rest_economy [--quick]

An emulated client portal (emulators/bitrix24, in-process, over real HTTP) with
2,000 tasks, 50,000 time records dated in the twelve months before this one
(history; the ledger has closed those months) and 10,000 in this month (the
open period). One account, a running 40 h retainer since twelve months ago,
every staff user a team member, time zone Europe/Moscow. The data is made
through the emulator's Python API; only the syncs and the baseline go over
HTTP. Requests are counted by the emulator (`emu.requests`, one per HTTP
request, a batch is one) and cross-checked with `Rest.requests_made` and
`SyncReport.requests`.

Figures:

1. the first full sync, `run(reconcile=True, full=True)` on an empty ledger
   (target: the floor, every record read once at 2,500 a request plus the
   task list; it spent 58 before the first import skipped its re-read);
2. a sync when nothing changed, `run()` (target ≤ 2);
3. the reconcile, `run(reconcile=True)`: every record dated in the open
   month plus the lookback is re-read (target ≤ 8);
4. a sync after 100 random edits and deletions over 80 random tasks, about a
   third of them on records in closed months, `run()` (target ≤ 6);
5. the baseline: list every task (`tasks.task.list`, 50 a page, `start`
   paging) and one `task.elapseditem.getlist` per task, as small timesheet
   apps do on every sync; its ratio to each of ours (target ≥ 100× against
   the regular syncs 2 and 4).

Each request count is also shown as the time the portal's rate limit alone
would impose on it (basic plan: the bucket drains 2 requests a second; the
emulator's limit is off during the run so that nothing waits or retries).

After every sync the ledger's mirror must equal the portal's records exactly
and `ledger verify` must find nothing, or the run stops: a request count of
a wrong sync means nothing. The baseline's records must equal them too.

`--quick` (CI smoke): 200 tasks, 5,000 + 1,000 records. The request targets
still count; the ratio targets are shown as "(info)" and do not fail the
run, since the baseline grows with the tasks and ours does not. Its rows go
to rest_economy.quick.json, so a smoke run never replaces the full figures.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

import b24.models  # noqa: F401  (SyncState and the other b24 tables must be mapped)
from b24.client import Rest, WebhookAuth
from emulators.bitrix24 import Emulator
from emulators.bitrix24.state import Portal as EmuPortal
from jobs.sync import LOOKBACK, Sync, SyncReport
from bench import common
from bench.common import figures_table, log, stop_on_problems
from ledger import calendar as cal
from ledger import schema
from ledger.contracts import add_account, add_team_member, close_due, create_portal, set_retainer
from ledger.db import make_engine, make_session_factory
from ledger.models import Period, TimeEntry
from ledger.verify import verify

TZ = "Europe/Moscow"
SEED = 20261123
RATE_PER_S = 2.0        # basic plan: the leaky bucket drains 2 requests a second (facts §6)
RETAINER_S = 40 * 3600
HISTORY_MONTHS = 12
STAFF = 12
DELETE_SHARE = 0.3      # of the changes, deletions; the rest change the record's seconds
CLOSED_SHARE = 1 / 3    # of the changes, on records dated in closed months
TARGET_QUIET = 2        # nothing changed
TARGET_RECONCILE = 8    # the open month
TARGET_EDITS = 6        # after the edits
TARGET_RATIO = 100.0    # baseline / ours
FIRST_BEFORE = 58       # the first full sync's requests before the first import read at the floor (issue 14)


@dataclass(frozen=True)
class Sizes:
    tasks: int
    open_records: int
    history_records: int
    changes: int
    changed_tasks: int


FULL = Sizes(2_000, 10_000, 50_000, 100, 80)
QUICK = Sizes(200, 1_000, 5_000, 100, 80)


def rate_time(requests: float) -> str:
    seconds = requests / RATE_PER_S
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{seconds:,.0f} s ({seconds / 60:.0f} min)"


# ---------------------------------------------------------------- the portal


@dataclass
class World:
    emu: Emulator
    p: EmuPortal
    staff: list[int]
    tasks: list[int]
    month_start: datetime      # the open month's first instant (aware, UTC)
    history_start: datetime    # the first closed month's first instant
    now: datetime


def build_portal(sizes: Sizes, rng: random.Random) -> World:
    """The portal, filled through the emulator's Python API (no HTTP)."""
    emu = Emulator().start()
    p = emu.add_portal("rest-economy.bitrix24.test", time_zone=TZ)
    p.rate_limit = None               # nothing waits or retries: every request counted is a needed one
    p.operating_limit_s = float("inf")  # the emulator's CPU time is not a portal's; no 429s from it
    staff = [p.add_user(f"Staff{i}", "Bench", work_position="Специалист") for i in range(1, STAFF + 1)]
    # Tasks exist before the history: created at the start of it.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    today = cal.local_date(now, TZ)
    first_open = cal.month_start(today)
    first_history = cal.add_months(first_open, -HISTORY_MONTHS)
    month_start = cal.local_midnight(first_open, TZ)
    history_start = cal.local_midnight(first_history, TZ)
    tasks = [p.add_task(f"Задача {n}", rng.choice(staff), created_date=history_start)
             for n in range(1, sizes.tasks + 1)]

    def instants(count: int, start: datetime, end: datetime) -> list[datetime]:
        span = int((end - start).total_seconds())
        return sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(count))

    # Record IDs follow the dates, as records are logged while the work goes on.
    dates = instants(sizes.history_records, history_start, month_start) + \
        instants(sizes.open_records, month_start, now)
    for worked in dates:
        seconds = rng.choice((rng.randrange(5, 241) * 60, rng.randrange(60, 4 * 3600)))  # manual or timer
        p.add_time(rng.choice(tasks), rng.choice(staff), seconds, worked.astimezone(timezone.utc),
                   comment="работа")
    return World(emu, p, staff, tasks, month_start, history_start, now)


# ---------------------------------------------------------------- the ledger


def build_ledger(tmp: str, world: World) -> tuple[Any, Any, int]:
    """A migrated SQLite ledger with the client portal, its account on a
    40 h retainer since the history began, the staff as its team, and every
    past month closed by the ledger's own periodic close."""
    engine = make_engine(f"sqlite:///{tmp}/rest_economy.db")
    schema.upgrade(engine)
    sessions = make_session_factory(engine)
    p = world.p
    with sessions() as s, s.begin():
        portal = create_portal(s, p.member_id, p.domain, TZ, "client", actor="bench")
        account = add_account(s, portal, "Клиент", actor="bench")
        set_retainer(s, account, hours_s=RETAINER_S, starts_on=cal.local_date(world.history_start, TZ),
                     title="Поддержка", actor="bench")
        for uid in world.staff:
            add_team_member(s, portal, uid, name=p.users[uid].full_name, account=account, actor="bench")
        close_due(s, datetime.now(timezone.utc))
        portal_id = portal.id
    with sessions() as s:
        periods = Counter(s.execute(select(Period.status)).scalars())
    if periods != Counter({"closed": HISTORY_MONTHS, "open": 1}):
        raise SystemExit(f"expected {HISTORY_MONTHS} closed months and 1 open, got {dict(periods)}")
    return engine, sessions, portal_id


# ---------------------------------------------------------------- checks


def truth(p: EmuPortal) -> dict[int, int]:
    return {int(r["ID"]): int(r["SECONDS"]) for r in p.records()}


def check_ledger(sessions, portal_id: int, p: EmuPortal, label: str) -> None:
    """The mirror equals the portal, and the ledger verifies; else stop."""
    with sessions() as s:
        mirror = {rid: dur for rid, dur in s.execute(
            select(TimeEntry.record_id, TimeEntry.duration_s)
            .where(TimeEntry.portal_id == portal_id, TimeEntry.deleted.is_(False)))}
        problems = verify(s)
    portal = truth(p)
    if mirror != portal:
        missing = sorted(set(portal) - set(mirror))
        extra = sorted(set(mirror) - set(portal))
        wrong = sorted(r for r in set(portal) & set(mirror) if portal[r] != mirror[r])
        raise SystemExit(f"{label}: the mirror differs from the portal: {len(missing)} missing "
                         f"{missing[:10]}, {len(extra)} not on the portal {extra[:10]}, "
                         f"{len(wrong)} with other seconds {wrong[:10]}")
    stop_on_problems(problems, f"{label}: ledger verify found {len(problems)} problems")
    log(f"  {label}: mirror = portal ({len(portal):,} records), ledger verify: no problems")


# ---------------------------------------------------------------- measuring


@dataclass
class Measured:
    requests: int
    seconds: float
    http: Counter      # HTTP requests by method, as the emulator served them
    commands: Counter  # method executions, each batch command included
    report: SyncReport | None = None


class TimedHttp:
    """`Rest.http` that adds up the time spent waiting for answers, so a
    run's wall time splits into the portal's (here the emulator's) and ours."""

    def __init__(self, http: Any) -> None:
        self.http, self.waited_s = http, 0.0

    def post(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.http.post(*args, **kwargs)
        finally:
            self.waited_s += time.perf_counter() - started


def timed_rest(url: str) -> Rest:
    rest = Rest(WebhookAuth(url))
    rest.http = TimedHttp(rest.http)  # type: ignore[assignment]
    return rest


def measure(world: World, rest: Rest, label: str, action) -> Measured:
    """Run `action` and count its HTTP requests three ways; they must agree."""
    emu = world.emu
    emu.reset_counts()
    before = sum(rest.requests_made.values())
    waited = rest.http.waited_s
    started = time.perf_counter()
    report = action()
    seconds = time.perf_counter() - started
    waited = rest.http.waited_s - waited
    http = Counter(emu.requests)
    served = sum(http.values())
    made = sum(rest.requests_made.values()) - before
    counts = {"emulator": served, "Rest.requests_made": made}
    if isinstance(report, SyncReport):
        counts["SyncReport.requests"] = report.requests
    if len(set(counts.values())) != 1:
        raise SystemExit(f"{label}: request counts disagree: {counts}")
    log(f"  {label}: {served} requests in {seconds:.1f} s ({waited:.1f} s of it waiting for the emulator); "
        f"HTTP {dict(http)}; commands {dict(Counter(emu.calls))}")
    return Measured(served, seconds, http, Counter(emu.calls), report if isinstance(report, SyncReport) else None)


def sync(world: World, sessions, rest: Rest, portal_id: int, label: str, **kwargs) -> Measured:
    done = measure(world, rest, label, lambda: Sync(sessions, rest, portal_id).run(**kwargs))
    report = done.report
    assert report is not None
    log(f"    {report}")
    if report.bad_records:
        raise SystemExit(f"{label}: unreadable records {report.bad_records[:5]}")
    check_ledger(sessions, portal_id, world.p, label)
    return done


@dataclass
class Changes:
    edits: int
    deletions: int
    closed: int   # of the changes, on records dated in closed months
    tasks: int


def change_records(world: World, sizes: Sizes, rng: random.Random) -> Changes:
    """`sizes.changes` edits and deletions over `sizes.changed_tasks` random
    tasks: every chosen task gets at least one, about a third fall on records
    dated in closed months. Made as users make them in the UI (no events)."""
    p = world.p
    by_task: dict[int, list] = {}
    for rec in p.time.values():
        by_task.setdefault(rec.task_id, []).append(rec)
    chosen = rng.sample(sorted(by_task), sizes.changed_tasks)
    order = chosen + [rng.choice(chosen) for _ in range(sizes.changes - len(chosen))]
    rng.shuffle(order)
    wants_closed = [i < round(sizes.changes * CLOSED_SHARE) for i in range(sizes.changes)]
    rng.shuffle(wants_closed)
    gone: set[int] = set()
    result = Changes(0, 0, 0, len(chosen))
    for task_id, closed in zip(order, wants_closed):
        live = [r for r in by_task[task_id] if r.id not in gone]
        old = [r for r in live if r.created_date < world.month_start]
        new = [r for r in live if r.created_date >= world.month_start]
        pool = (old or new) if closed else (new or old)
        rec = rng.choice(pool)
        if rec.created_date < world.month_start:
            result.closed += 1
        if rng.random() < DELETE_SHARE:
            p.delete_time(rec.id)
            gone.add(rec.id)
            result.deletions += 1
        else:
            seconds = rec.seconds
            while seconds == rec.seconds:
                seconds = rng.randrange(5, 241) * 60
            p.update_time(rec.id, seconds=seconds)
            result.edits += 1
    return result


def baseline(world: World, rest: Rest) -> int:
    """What small timesheet apps do on every sync: page through the task
    list, then ask each task for its records, one request each. Returns
    the records it read, which must be the portal's."""
    task_ids: list[int] = []
    start = 0
    while True:
        answer = rest.call("tasks.task.list", {"order": {"ID": "asc"}, "select": ["ID", "TITLE"], "start": start})
        task_ids.extend(int(t["id"]) for t in answer["result"]["tasks"])
        if answer.get("next") is None:
            break
        start = int(answer["next"])
    seen: dict[int, int] = {}
    for task_id in task_ids:
        # TASKID and no NAV_PARAMS: every record of the task in one answer (facts §4.1).
        for row in rest.call("task.elapseditem.getlist", [task_id])["result"]:
            seen[int(row["ID"])] = int(row["SECONDS"])
    if len(task_ids) != len(world.p.tasks) or seen != truth(world.p):
        raise SystemExit(f"baseline: read {len(task_ids)} tasks and {len(seen)} records, "
                         f"not the portal's {len(world.p.tasks)} and {len(world.p.time)}")
    return len(seen)


# ---------------------------------------------------------------- the run


def result(figure: str, measured: float, unit: str, target: str | None = None,
           ratio: float | None = None, passed: bool | None = None, seconds: float | None = None) -> dict:
    row = common.result(figure, measured, unit, target, ratio, passed)
    if unit == "requests":
        row["rate_limit_s"] = measured / RATE_PER_S   # what the rate limit alone would impose
        row["wall_s"] = round(seconds, 2) if seconds is not None else None  # against the emulator, here
    return row


def run(quick: bool = False) -> list[dict]:
    """Every figure of the benchmark, as a list of {figure, target,
    measured, unit, ratio, pass} (request rows add rate_limit_s and wall_s)."""
    sizes = QUICK if quick else FULL
    rng = random.Random(SEED)
    log(f"portal: {sizes.tasks:,} tasks, {sizes.history_records:,} records in {HISTORY_MONTHS} closed months, "
        f"{sizes.open_records:,} in the open month")
    started = time.perf_counter()
    world = build_portal(sizes, rng)
    log(f"  built in {time.perf_counter() - started:.1f} s")
    try:
        with tempfile.TemporaryDirectory(prefix="hb-rest-") as tmp:
            engine, sessions, portal_id = build_ledger(tmp, world)
            try:
                rows = measure_all(world, sessions, portal_id, sizes, rng)
            finally:
                engine.dispose()
    finally:
        world.emu.stop()
    return rows


def measure_all(world: World, sessions, portal_id: int, sizes: Sizes, rng: random.Random) -> list[dict]:
    rest = timed_rest(world.p.webhook(1))   # the admin's webhook: every task is readable
    first = sync(world, sessions, rest, portal_id, "first full sync", reconcile=True, full=True)
    quiet = sync(world, sessions, rest, portal_id, "nothing changed")
    reconcile = sync(world, sessions, rest, portal_id, "reconcile (open month)", reconcile=True)
    for label, done in (("nothing changed", quiet), ("reconcile", reconcile)):
        if done.report.postings:
            raise SystemExit(f"{label}: {done.report.postings} postings written with nothing changed")
    window = sum(1 for r in world.p.time.values() if r.created_date >= world.month_start - LOOKBACK)
    log(f"    the reconcile window held {window:,} records (open month + {LOOKBACK.days}-day lookback)")

    changes = change_records(world, sizes, rng)
    log(f"  changed: {changes.edits} edits, {changes.deletions} deletions over {changes.tasks} tasks, "
        f"{changes.closed} in closed months")
    edits = sync(world, sessions, rest, portal_id, "after the edits")
    if edits.report.deleted != changes.deletions:
        raise SystemExit(f"after the edits: {edits.report.deleted} deletions posted, {changes.deletions} made")

    plain = timed_rest(world.p.webhook(1))
    base = measure(world, plain, "baseline", lambda: baseline(world, plain))

    b = base.requests
    # The floor (issue 14): every record once, 50 pages of 50 a request, and
    # the task list (its own 50 pages a request, the short page included).
    records = sizes.history_records + sizes.open_records
    floor = -(-records // 2_500) + -(-(len(world.p.tasks) + 1) // 2_500)
    edits_label = (f"sync after {changes.edits + changes.deletions} edits/deletions over {changes.tasks} tasks "
                   f"({changes.closed} in closed months)")
    ratio_note = " (info)" if sizes is QUICK else ""  # the baseline grows with the tasks; ours does not
    ratio_target = f">= {TARGET_RATIO:g}x{ratio_note}"
    first_n, quiet_n, rec_n, edits_n = first.requests, quiet.requests, reconcile.requests, edits.requests
    return [
        result(f"first full sync (reconcile, full), floor {floor}: {records:,} records / 2,500 + the task list"
               f" (was {FIRST_BEFORE})", first_n, "requests", f"<= {floor}", round(b / first_n, 1),
               first_n <= floor, first.seconds),
        result("sync, nothing changed", quiet_n, "requests", f"<= {TARGET_QUIET}", round(b / quiet_n, 1),
               quiet_n <= TARGET_QUIET, quiet.seconds),
        result(f"reconcile, open month ({reconcile.report.window_records:,} records re-read)", rec_n, "requests",
               f"<= {TARGET_RECONCILE}", round(b / rec_n, 1), rec_n <= TARGET_RECONCILE, reconcile.seconds),
        result(edits_label, edits_n, "requests", f"<= {TARGET_EDITS}", round(b / edits_n, 1),
               edits_n <= TARGET_EDITS, edits.seconds),
        result(f"baseline: task list + getlist per task ({len(world.p.tasks):,} tasks)", b, "requests",
               seconds=base.seconds),
        result("baseline / nothing changed", round(b / quiet_n, 1), "x", ratio_target,
               passed=b / quiet_n >= TARGET_RATIO),
        result("baseline / after the edits", round(b / edits_n, 1), "x", ratio_target,
               passed=b / edits_n >= TARGET_RATIO),
        result("baseline / reconcile", round(b / rec_n, 1), "x", f"{ratio_target.split(' (')[0]} (info)",
               passed=b / rec_n >= TARGET_RATIO),
        result("baseline / first full sync", round(b / first_n, 1), "x", "(info)"),
    ]


def _measured(row: dict) -> str:
    if row["unit"] == "x":
        return f"{row['measured']:,.1f}x"
    unit = row["unit"][:-1] if row["unit"] == "requests" and row["measured"] == 1 else row["unit"]
    return f"{row['measured']:,} {unit}"


def _ratio(row: dict) -> str:
    return "" if row["ratio"] is None else f"{row['ratio']:,.1f}x"


def _limit(row: dict) -> str:
    return rate_time(row["measured"]) if row["unit"] == "requests" else ""


def format_table(rows: list[dict]) -> str:
    return (figures_table(rows, _measured, _ratio, after=[("rate limit alone (2/s)", _limit)])
            + "\n\nratio: baseline requests / this figure's requests")


def main(argv: list[str] | None = None) -> int:
    return common.command("rest_economy", __doc__, run, format_table, argv, "200 tasks, 6k records: a smoke run")


if __name__ == "__main__":
    sys.exit(main())
