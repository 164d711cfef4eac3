"""The app served over real HTTP on a free port, for flows where a portal
(the emulator) calls us: installs, events, frames. And a ledger wired to an
emulated portal without the app, for the sync's own tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from werkzeug.serving import make_server

from b24.client import Rest
from b24.connection import AppCredentials, OAuthAuth, store_tokens
from b24.models import PortalAuth
from b24.secrets import SecretBox
from jobs import context as jobs_context
from jobs.sync import Sync
from ledger import calendar as cal
from ledger.contracts import add_account, add_team_member, create_portal, set_retainer
from ledger.models import Posting, TimeEntry
from ledger.verify import verify

CLIENT_ID = "app.hourbook.test"
CLIENT_SECRET = "test-client-secret"


@contextmanager
def serve_app(emu, config: Mapping[str, Any]) -> Iterator[tuple[Any, str]]:
    """create_app() behind a real server whose URL the app knows (PUBLIC_URL)."""
    from app import create_app

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({
        "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET,
        "B24_OAUTH_SERVER": emu.url + "/", "PUBLIC_URL": url, "START_RUNNER": False,
        "B24_RATE_PER_S": 1000.0, "B24_BURST": 100000, **config,
    })
    holder["app"] = app
    emu.register_app(CLIENT_ID, CLIENT_SECRET, url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, url
    finally:
        server.shutdown()
        app.extensions["hourbook"].engine.dispose()


# ---------------------------------------------------------------- a ledger wired to an emulated portal
# For sync tests without the Flask app: the portal row, its contracts and team
# as a manager would set them up, and OAuth credentials stored exactly as
# b24.portals.install stores them (sealed), from the emulator's own grant.

SECRET_KEY = "test-secret-key-for-sealed-tokens"


@dataclass
class Wired:
    """Our side of one emulated portal: the ledger's sessions and how to call it."""

    emu: Any
    p: Any
    sessions: Any
    box: SecretBox
    app: AppCredentials
    portal_id: int
    company_accounts: dict = field(default_factory=dict)   # emulator company id -> account id
    group_accounts: dict = field(default_factory=dict)     # emulator group id -> account id
    client_account: int | None = None
    starts: date | None = None  # the contracts' first day

    def rest(self, **options: Any) -> Rest:
        """The REST gateway as a job builds it (OAuth from the stored, sealed row)."""
        return Rest(OAuthAuth(self.sessions, self.portal_id, self.box, self.app), **options)

    def sync(self, **options: Any) -> Sync:
        return Sync(self.sessions, self.rest(**options), self.portal_id)

    def expected_account(self, task_id: int) -> int | None:
        """The account the portal's current task data says its time counts for."""
        if self.client_account is not None:
            return self.client_account
        seen = set()
        while task_id and task_id not in seen and task_id in self.p.tasks:
            seen.add(task_id)
            task = self.p.tasks[task_id]
            for ref in task.crm:
                if ref.startswith("CO_") and int(ref[3:]) in self.company_accounts:
                    return self.company_accounts[int(ref[3:])]
            if task.group_id in self.group_accounts:
                return self.group_accounts[task.group_id]
            task_id = task.parent_id
        return None


def wire_portal(emu, p, sessions, *, mode: str = "client", client_id: str = CLIENT_ID,
                client_secret: str = CLIENT_SECRET, now: datetime | None = None) -> Wired:
    """Connect a ledger to portal `p` over OAuth, with a 40 h retainer per
    account starting three months back and every staff user in the team."""
    now = now or datetime.now(timezone.utc)
    if client_id not in emu.apps:
        emu.register_app(client_id, client_secret, "http://127.0.0.1:9")  # no app server: nothing is bound
    box = SecretBox(SECRET_KEY)
    answer = emu.grant_tokens(p, client_id)
    starts = cal.month_start(cal.local_date(now - timedelta(days=90), p.time_zone))
    wired = Wired(emu, p, sessions, box, AppCredentials(client_id, client_secret, emu.url + "/oauth/token/"), 0,
                  starts=starts)
    with sessions() as s, s.begin():
        portal = create_portal(s, p.member_id, p.domain, p.time_zone, mode)
        auth = PortalAuth(portal_id=portal.id, kind="oauth", installed=True, refresh_count=0,
                          client_endpoint=answer["client_endpoint"])
        store_tokens(auth, box, answer)
        auth.refresh_count = 0
        auth.application_token = box.digest(answer["application_token"])
        s.add(auth)
        if mode == "client":
            account = add_account(s, portal, "Клиент", now=now)
            set_retainer(s, account, hours_s=40 * 3600, starts_on=starts, now=now)
            wired.client_account = account.id
        else:
            groups = p.keys.get("groups", {})
            for key, company_id in p.keys.get("companies", {}).items():
                # The scenarios name a company's workgroup after it: c0 → g0, romashka → g_romashka.
                group_ids = tuple(gid for gkey, gid in groups.items() if gkey in ("g" + key[1:], "g_" + key))
                account = add_account(s, portal, f"Клиент {key}", company_id=company_id, group_ids=group_ids,
                                      now=now)
                set_retainer(s, account, hours_s=40 * 3600, starts_on=starts, now=now)
                wired.company_accounts[company_id] = account.id
                for gid in group_ids:
                    wired.group_accounts[gid] = account.id
        for user_id, name, role in p.staff:
            add_team_member(s, portal, user_id, name=name, role=role, now=now)
        wired.portal_id = portal.id
    return wired


def ledger_mirror(sessions, portal_id: int) -> dict[int, tuple[int, datetime]]:
    """record id -> (seconds, the instant worked) of every entry we hold as live."""
    with sessions() as s:
        return {e.record_id: (e.duration_s, e.work_at) for e in s.execute(
            select(TimeEntry).where(TimeEntry.portal_id == portal_id, TimeEntry.deleted.is_(False))).scalars()}


def portal_truth(p) -> dict[int, tuple[int, datetime]]:
    """The same, as the portal has it (CREATED_DATE is the instant worked)."""
    return {int(r["ID"]): (int(r["SECONDS"]), datetime.fromisoformat(r["CREATED_DATE"]).astimezone(timezone.utc))
            for r in p.records()}


def assert_converged(w: Wired) -> None:
    """Rules 1 and 2 after a clean sync: the mirror is the portal, to the
    second; each entry counts what a team member logged on it, posted exactly."""
    assert ledger_mirror(w.sessions, w.portal_id) == portal_truth(w.p)
    staff = {user_id for user_id, _, _ in w.p.staff}
    truth = {int(r["ID"]): r for r in w.p.records()}
    with w.sessions() as s:
        posted = dict(s.execute(
            select(Posting.entry_id, func.sum(Posting.amount_s))
            .where(Posting.kind == "consumption", Posting.entry_id.is_not(None))
            .group_by(Posting.entry_id)).all())
        for e in s.execute(select(TimeEntry).where(TimeEntry.portal_id == w.portal_id)).scalars():
            assert -int(posted.get(e.id, 0)) == e.counted_s, f"record {e.record_id}"
            if e.deleted:
                assert e.record_id not in truth and e.counted_s == 0, f"record {e.record_id}"
                continue
            record = truth[e.record_id]
            expected = int(record["SECONDS"]) if int(record["USER_ID"]) in staff else 0
            assert e.counted_s == expected, f"record {e.record_id}"
            assert e.account_id == w.expected_account(int(record["TASK_ID"])), f"record {e.record_id}"
        assert verify(s) == []
        assert s.get(PortalAuth, w.portal_id).status == "ok"


@contextmanager
def jobs_configured(config: Mapping[str, Any]) -> Iterator[Any]:
    """The job functions of this process run with `config` (as create_app
    would set them up); what was configured before comes back afterwards."""
    saved = jobs_context._overrides, jobs_context._context
    jobs_context.configure(config)
    try:
        yield jobs_context.context()
    finally:
        if jobs_context._context is not None:
            jobs_context._context[1].sessions.kw["bind"].dispose()
        jobs_context._overrides, jobs_context._context = saved
