"""The sync against a misbehaving portal, over real HTTP (the emulator).

PRODUCT.md rules 1 and 2: failed and late calls, expiring tokens, lost,
repeated and reordered events change nothing in the end; once a clean sync
has run, the ledger mirrors every record of the portal to the second and
each entry's posted consumption is exactly what it counts.
"""
from __future__ import annotations

import random
import shutil
import tempfile
import threading
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from b24.client import AuthDead, Rest, Transient
from emulators.bitrix24 import Emulator, Faults, scenario
from b24.models import PortalAuth, SyncState
from jobs import tasks
from jobs.runner import InProcessRunner
from jobs.schedule import tick
from ledger import calendar as cal
from ledger.contracts import add_account, add_team_member, close_due, set_retainer
from ledger.db import make_engine, make_session_factory
from ledger.models import Account, Portal
from tests.live import (CLIENT_ID, CLIENT_SECRET, SECRET_KEY, Wired, assert_converged, jobs_configured,
                        ledger_mirror, portal_truth, serve_app, wire_portal)

# Against injected faults: a client that gives up on a hung call after half a
# second and retries almost at once, so the faults cost milliseconds, not the
# production backoff. Where no fault is injected, the usual timeout (a busy
# machine must not turn a slow answer into a failed test).
FAST = {"timeout_s": 0.5, "backoff_s": (0.01, 0.02, 0.05), "retries": 8}
CLEAN = {"backoff_s": (0.01, 0.02, 0.05)}


@pytest.fixture
def sessions(tmp_path, sqlite_template):
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


def one_task_portal(emu, records: int = 5):
    p = emu.add_portal("romashka.bitrix24.test")
    p.rate_limit = None
    staff = p.add_user("Анна", "Орлова")
    p.staff.append((staff, "Анна Орлова", "руководитель проекта"))
    task = p.add_task("Воронка", staff)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for i in range(records):
        p.add_time(task, staff, 600 + i, now - timedelta(hours=i + 1))
    return p, staff, task


def stored_auth(sessions, portal_id: int) -> PortalAuth:
    with sessions() as s:
        return s.get(PortalAuth, portal_id)


def oauth_token(emu, **params) -> requests.Response:
    return requests.get(emu.url + "/oauth/token/", timeout=10, params={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **params})


# ---------------------------------------------------------------- tokens


def test_expired_token_is_refreshed_once_and_the_call_retried(emu, sessions):
    """expired_token → one refresh → the same call again. The rotated pair
    is saved sealed; the spent refresh token is refused by the portal."""
    p, _, _ = one_task_portal(emu)
    w = wire_portal(emu, p, sessions)
    before = stored_auth(sessions, w.portal_id)
    old_access, old_refresh = w.box.open(before.access_token), w.box.open(before.refresh_token)
    rest = w.rest(**CLEAN)
    assert rest.call("server.time")["result"]
    emu.expire_tokens(p)
    emu.reset_counts()

    assert rest.call("server.time")["result"]

    assert emu.requests["oauth/token"] == 1
    assert emu.requests["server.time"] == 2  # refused, then retried with the new token
    after = stored_auth(sessions, w.portal_id)
    new_access, new_refresh = w.box.open(after.access_token), w.box.open(after.refresh_token)
    assert (new_access, new_refresh) != (old_access, old_refresh) and new_refresh != old_refresh
    assert new_refresh not in after.refresh_token and new_access not in after.access_token  # sealed
    assert after.refresh_count == 1 and after.status == "ok"
    refused = oauth_token(emu, grant_type="refresh_token", refresh_token=old_refresh)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # A job started after the refresh reads the new pair from the row and needs no refresh of its own.
    emu.reset_counts()
    w.sync(**CLEAN).run(reconcile=True, full=True)
    assert emu.requests["oauth/token"] == 0
    assert_converged(w)


def test_two_workers_hitting_an_expired_token_refresh_it_once(emu, engine):
    """Refresh tokens are single use: two workers refreshing at once would
    leave one of them (and the portal) with a spent token. The row lock
    makes the second one wait and take the first one's new token."""
    sessions = make_session_factory(engine)
    p, _, _ = one_task_portal(emu)
    w = wire_portal(emu, p, sessions)
    workers = [w.rest(**CLEAN), w.rest(**CLEAN)]
    for rest in workers:
        assert rest.auth.token()  # each has loaded the current token
    emu.expire_tokens(p)
    emu.reset_counts()
    emu.faults.slow_s = 0.3  # both requests are in flight before either learns the token expired
    barrier = threading.Barrier(len(workers))
    results, errors = [], []

    def work(rest: Rest) -> None:
        try:
            barrier.wait()
            results.append(rest.call("server.time")["result"])
        except BaseException as err:  # collected, asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(rest,)) for rest in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 2
    assert emu.requests["server.time"] == 4  # each: refused once, then served
    assert emu.requests["oauth/token"] == 1
    assert workers[0].auth.token() == workers[1].auth.token()
    auth = stored_auth(sessions, w.portal_id)
    assert auth.refresh_count == 1 and auth.status == "ok"
    assert w.box.open(auth.access_token) == workers[0].auth.token()


@pytest.fixture
def ctx(emu, tmp_path, sqlite_template):
    """The job functions of this process, on a ledger of their own."""
    path = tmp_path / "jobs.db"
    shutil.copy(sqlite_template, path)
    with jobs_configured({"DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": str(tmp_path), "REDIS_URL": None,
                          "SECRET_KEY": SECRET_KEY, "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET,
                          "B24_OAUTH_SERVER": emu.url + "/", "B24_RATE_PER_S": 1000.0,
                          "B24_BURST": 100000}) as context:
        yield context


@pytest.mark.parametrize("refusal", ["PAYMENT_REQUIRED", "invalid_grant"])
def test_refused_credentials_mark_the_portal_dead_and_the_schedule_keeps_retrying_it(emu, ctx, refusal):
    """A portal that refuses us is marked dead with the reason (the manager
    sees it), the job fails loudly, and every tick still queues the portal:
    once the portal is paid for again, the sync resumes by itself."""
    p, staff, task = one_task_portal(emu)
    w = wire_portal(emu, p, ctx.sessions)
    tasks.sync_portal(w.portal_id, True, True)
    assert ledger_mirror(ctx.sessions, w.portal_id) == portal_truth(p)

    if refusal == "PAYMENT_REQUIRED":
        p.payment_expired = True
    else:  # our refresh token was spent elsewhere (a restored backup, a second copy of the app)
        spent = w.box.open(stored_auth(ctx.sessions, w.portal_id).refresh_token)
        assert oauth_token(emu, grant_type="refresh_token", refresh_token=spent).status_code == 200
    emu.expire_tokens(p)
    p.add_time(task, staff, 777, datetime.now(timezone.utc) - timedelta(minutes=5))

    with pytest.raises(AuthDead) as raised:
        tasks.sync_portal(w.portal_id, False, False)
    assert raised.value.code == refusal
    auth = stored_auth(ctx.sessions, w.portal_id)
    assert auth.status == "dead" and refusal in (auth.dead_reason or "") and auth.dead_since is not None
    with ctx.sessions() as s:
        state = s.get(SyncState, w.portal_id)
        assert state.failures == 1 and refusal in state.last_error

    runner = InProcessRunner(retry_intervals_s=())
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    queued = tick(runner, later)
    assert f"sync-{w.portal_id}" in queued  # dead, still scheduled
    if refusal == "PAYMENT_REQUIRED":
        p.payment_expired = False  # paid: the spent-nowhere refresh token works again
        assert runner.drain() == len(queued) and runner.failed == []
        assert stored_auth(ctx.sessions, w.portal_id).status == "ok"
        assert ledger_mirror(ctx.sessions, w.portal_id) == portal_truth(p)
    else:  # only a reinstall helps: every tick tries, fails visibly, and stays scheduled
        assert runner.drain() == len(queued)
        assert [key for key, _ in runner.failed] == [f"sync-{w.portal_id}"]
        assert stored_auth(ctx.sessions, w.portal_id).status == "dead"
        assert f"sync-{w.portal_id}" in tick(runner, later + timedelta(minutes=2))


# ---------------------------------------------------------------- history


def test_full_sync_finds_closed_month_changes_that_keep_the_task_total(emu, sessions):
    """Two records of a closed month swap durations, a third moves to
    another day of the closed months: the task's TIME_SPENT_IN_LOGS does
    not move and none of them is in the open-period window. Only the
    nightly full sync can see it, and it must (rule 2)."""
    p, staff, task = one_task_portal(emu, records=0)
    w = wire_portal(emu, p, sessions)
    month = cal.add_months(cal.month_start(cal.local_date(datetime.now(timezone.utc), p.time_zone)), -2)
    at = datetime.combine(month.replace(day=10), time(11, 7, 13), tzinfo=cal.zone(p.time_zone))
    a, b, c = (p.add_time(task, staff, seconds, at + timedelta(days=i)) for i, seconds in enumerate((601, 1203, 905)))
    w.sync(**CLEAN).run(reconcile=True, full=True)
    with sessions() as s, s.begin():
        assert str(month)[:7] in [x.label for x in close_due(s).closed]

    p.update_time(a, seconds=1203)
    p.update_time(b, seconds=601)
    p.update_time(c, created_date=at + timedelta(days=20, seconds=17))
    w.sync(**CLEAN).run(reconcile=True, full=True)

    assert_converged(w)


# ---------------------------------------------------------------- random faults, random changes

STEPS = ("add", "add", "edit", "edit", "redate", "delete", "delete_task", "move_task", "expire_tokens",
         "run", "run", "reconcile", "hint", "close")


@st.composite
def fault_settings(draw) -> dict:
    return {
        "fail_calls": draw(st.sampled_from([0.0, 0.05, 0.1, 0.2])),
        "timeout_calls": draw(st.sampled_from([0.0, 0.02, 0.04])),
        "timeout_sleep_s": 0.6,  # past the client's 0.5 s: the answer comes, but too late
        "token_ttl_s": draw(st.sampled_from([3600.0, 3.0])),
        "seed": draw(st.integers(0, 2**16)),
    }


def worked_at(rng: random.Random, w: Wired, now: datetime) -> datetime:
    """Any moment from the contracts' first day to an hour ago, to the second:
    closed months as often as the open one."""
    first = cal.local_midnight(w.starts, w.p.time_zone)
    span = int((now - timedelta(hours=1) - first).total_seconds())
    return (first + timedelta(seconds=rng.randrange(span))).replace(microsecond=0)


def change_portal(w: Wired, step: str, rng: random.Random, now: datetime) -> None:
    """A change people make in the portal (no event for time: facts §4.3)."""
    p = w.p
    records, task_ids = sorted(p.time), sorted(p.tasks)
    users = sorted(p.users)
    if step == "add" and task_ids:
        for _ in range(rng.randint(1, 5)):
            p.add_time(rng.choice(task_ids), rng.choice(users), rng.randint(1, 4 * 3600), worked_at(rng, w, now))
    elif step == "edit" and records:
        p.update_time(rng.choice(records), seconds=rng.randint(0, 4 * 3600))
    elif step == "redate" and records:
        p.update_time(rng.choice(records), created_date=worked_at(rng, w, now))
    elif step == "delete" and records:
        for record in rng.sample(records, min(len(records), rng.randint(1, 3))):
            p.delete_time(record)
    elif step == "delete_task" and len(task_ids) > 1:
        p.delete_task(rng.choice(task_ids))
    elif step == "move_task" and task_ids and w.company_accounts:
        p.update_task(rng.choice(task_ids), uf_crm_task=[f"CO_{rng.choice(sorted(w.company_accounts))}"])


def sync_step(w: Wired, step: str, rng: random.Random) -> None:
    """A run as the schedule or an event hint makes it. A run may give up on
    a portal that keeps failing (its job is retried); it must never go wrong."""
    try:
        if step == "run":
            w.sync(**FAST).run()
        elif step == "reconcile":
            w.sync(**FAST).run(reconcile=True)
        elif step == "hint" and w.p.tasks:
            w.sync(**FAST).sync_task(rng.choice(sorted(w.p.tasks) + [max(w.p.tasks) + 1]))
    except Transient:
        pass  # retries exhausted: stopped part-way, as a killed job would


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), tasks_n=st.integers(2, 6), records=st.integers(0, 300),
       mode=st.sampled_from(["client", "integrator"]), faults=fault_settings(),
       steps=st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 2**32)), min_size=4, max_size=14))
def test_faults_and_changes_in_any_order_converge_after_a_clean_sync(sqlite_template, seed, tasks_n, records,
                                                                     mode, faults, steps):
    """Whatever failed on the way, one clean full sync brings the ledger to
    the portal's exact state (rules 1, 2)."""
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp, Emulator(Faults(**faults)) as emu:
        p = scenario.generate(emu, seed, companies=2, tasks=tasks_n, months=2, records=records)
        p.rate_limit = None  # the portal's own 503s are the Faults' business here
        path = Path(tmp) / "ledger.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            w = wire_portal(emu, p, make_session_factory(engine), mode=mode, now=now)
            for step, r in steps:
                rng = random.Random(r)
                if step == "expire_tokens":
                    emu.expire_tokens(p)
                elif step == "close":  # the month-end job, at any point of the story
                    with w.sessions() as s, s.begin():
                        close_due(s, datetime.now(timezone.utc))
                elif step in ("run", "reconcile", "hint"):
                    sync_step(w, step, rng)
                else:
                    change_portal(w, step, rng, now)
            emu.faults = Faults()  # the portal behaves again
            w.sync(**CLEAN).run(reconcile=True, full=True)
            assert_converged(w)
        finally:
            engine.dispose()


# ---------------------------------------------------------------- events are hints


def client_setup(app, p) -> int:
    """The manager's setup of a client portal: one account, a retainer, the team."""
    hb = app.extensions["hourbook"]
    now = datetime.now(timezone.utc)
    starts = cal.month_start(cal.local_date(now - timedelta(days=90), p.time_zone))
    with hb.sessions() as s, s.begin():
        portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
        account = add_account(s, portal, "Клиент", now=now)
        set_retainer(s, account, hours_s=40 * 3600, starts_on=starts, now=now)
        for user_id, name, role in p.staff:
            add_team_member(s, portal, user_id, name=name, role=role, now=now)
        return portal.id


def event_story(emu, p, app) -> None:
    """Changes with task events after them (as when someone logs time and
    then touches the task), each followed by whatever events arrived."""
    rng = random.Random(7)
    hb = app.extensions["hourbook"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    staff = [user_id for user_id, _, _ in p.staff]
    for round_ in range(6):
        task_ids = sorted(p.tasks)
        touched = rng.sample(task_ids, 2)
        for task in touched:
            for record in [r for r in sorted(p.time) if p.time[r].task_id == task][:2]:
                p.update_time(record, seconds=rng.randint(60, 7200))
            p.add_time(task, rng.choice(staff), rng.randint(60, 7200), now - timedelta(days=rng.randint(0, 40)))
            p.update_task(task, title=f"{p.tasks[task].title} ·")  # ONTASKUPDATE
        if round_ == 2:
            p.delete_task(touched[0])  # ONTASKDELETE
        if round_ == 4:
            new = p.add_task("Новая задача", staff[0])  # ONTASKADD
            p.add_time(new, staff[0], 1234, now - timedelta(hours=3))
            p.update_task(new, title="Новая задача ·")
        emu.flush_events()
        hb.runner.drain()


@pytest.mark.parametrize("event_faults", [
    {},
    {"drop_events": 0.5},
    {"duplicate_events": 0.7},
    {"reorder_events": True, "delay_events_s": 0.05},
    {"drop_events": 0.3, "duplicate_events": 0.3, "reorder_events": True},
], ids=["clean", "dropped", "duplicated", "reordered", "all"])
def test_lost_repeated_or_reordered_events_never_change_the_final_ledger(tmp_path, event_faults):
    """Events only say "look at this task sooner". The same story told with
    every event, half of them, each twice or shuffled ends in the same
    ledger once the scheduled reconcile has run."""
    with Emulator(Faults(seed=11, **event_faults)) as emu, \
            serve_app(emu, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
                            "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": SECRET_KEY}) as (app, url):
        p = scenario.generate(emu, 42, companies=1, tasks=6, months=2, records=120, domain="events.bitrix24.test")
        p.rate_limit = None
        assert emu.install(p, CLIENT_ID).status_code == 200
        emu.flush_events()
        hb = app.extensions["hourbook"]
        portal_id = client_setup(app, p)
        hb.runner.drain()  # the first full sync the installer queued
        event_story(emu, p, app)
        if event_faults.get("drop_events"):
            assert emu.events_dropped
        if event_faults.get("duplicate_events"):
            tokens = [e["payload"]["auth"].get("access_token") for e in emu.events_sent]  # one per emitted event
            assert len(tokens) > len(set(tokens))
        assert hb.runner.failed == [] and hb.runner.done > 1  # hints did run
        if not event_faults.get("drop_events"):  # every hint arrived (once, twice, in any order): already exact
            assert ledger_mirror(hb.sessions, portal_id) == portal_truth(p)

        hb.jobs.sync_portal(portal_id, True, True)  # the scheduled reconcile

        w = Wired(emu, p, hb.sessions, hb.box, hb.app_credentials, portal_id)
        with hb.sessions() as s:
            w.client_account = s.execute(select(Account.id).where(Account.portal_id == portal_id)).scalar_one()
        assert_converged(w)
