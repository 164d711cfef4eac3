"""Install, events, sync and uninstall against the emulator, over real HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select, text

from b24.models import PortalAuth
from ledger.models import Base, Portal, TimeEntry
from tests.live import CLIENT_ID, serve_app


@pytest.fixture
def live(emu, tmp_path):
    with serve_app(emu, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
                         "INSTANCE_PATH": str(tmp_path)}) as (app, url):
        yield app, url


def small_portal(emu):
    p = emu.add_portal("romashka.bitrix24.test")
    p.rate_limit = None
    staff = p.add_user("Анна", admin=False)
    task = p.add_task("Воронка", staff)
    now = datetime.now(timezone.utc)
    for i in range(60):
        p.add_time(task, staff, 600 + i, now - timedelta(hours=i))
    return p, staff, task


def installed_and_synced(emu, app, p):
    """The admin installs the app; its first (full) sync runs."""
    emu.install(p, CLIENT_ID)
    emu.flush_events()
    hb = app.extensions["hourbook"]
    hb.runner.drain()
    return hb


def counts(app) -> dict[str, int]:
    with app.extensions["hourbook"].sessions() as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def mirror(app) -> dict[int, int]:
    with app.extensions["hourbook"].sessions() as s:
        return {e.record_id: e.duration_s for e in s.execute(
            select(TimeEntry).where(TimeEntry.deleted.is_(False))).scalars()}


def truth(p) -> dict[int, int]:
    return {int(r["ID"]): int(r["SECONDS"]) for r in p.records()}


def test_install_stores_sealed_tokens_binds_and_syncs(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    response = emu.install(p, CLIENT_ID)
    assert response.status_code == 200 and "installFinish" in response.text
    assert emu.flush_events()
    install = p.installs[CLIENT_ID]
    assert install.installed
    assert {b.event for b in install.bindings} >= {"ONAPPINSTALL", "ONTASKUPDATE", "ONAPPUNINSTALL"}
    assert {b.placement for b in install.placements} == {"CRM_COMPANY_DETAIL_TAB", "CRM_DEAL_DETAIL_TAB"}
    hb = app.extensions["hourbook"]
    with hb.sessions() as s:
        portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
        auth = s.get(PortalAuth, portal.id)
        raw = s.execute(text("SELECT access_token, refresh_token, application_token FROM portal_auth")).one()
    assert auth.installed and auth.client_endpoint == p.client_endpoint
    assert install.application_token not in raw and all(v and len(v) > 40 for v in raw)  # sealed / hashed
    hb.runner.drain()
    assert mirror(app) == truth(p)


def test_reinstall_binds_nothing_twice_and_keeps_history(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    emu.install(p, CLIENT_ID)
    emu.flush_events()
    app.extensions["hourbook"].runner.drain()
    bindings = len(p.installs[CLIENT_ID].bindings)
    emu.install(p, CLIENT_ID)  # the admin opens the installer again
    assert len(p.installs[CLIENT_ID].bindings) == bindings
    emu.uninstall(p, CLIENT_ID)
    emu.flush_events()
    with app.extensions["hourbook"].sessions() as s:
        portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
        assert portal.active is False
        assert s.execute(select(func.count()).select_from(TimeEntry)).scalar_one() == 60
    emu.install(p, CLIENT_ID)
    emu.flush_events()
    with app.extensions["hourbook"].sessions() as s:
        assert s.execute(select(Portal.active).where(Portal.member_id == p.member_id)).scalar_one() is True


def test_task_event_queues_a_resync_of_that_task(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    hb = installed_and_synced(emu, app, p)
    first = p.records()[0]
    p.update_time(int(first["ID"]), seconds=4321)
    p.update_task(task, title="Воронка (переименована)")  # fires ONTASKUPDATE
    assert emu.flush_events()
    # Two hints for one change: the online event (re-read the task) and
    # ONOFFLINEEVENT (drain the portal's offline queue, which names it too).
    assert hb.runner.drain() == 2 and hb.runner.failed == []
    assert mirror(app) == truth(p)
    assert p.installs[CLIENT_ID].offline == []  # the offline queue was taken and cleared


@pytest.mark.parametrize("case", ["forged_token", "unknown_member", "no_auth", "not_form", "broken_keys",
                                  "huge"])
def test_bad_events_are_refused_and_change_nothing(emu, live, case):
    app, url = live
    p, staff, task = small_portal(emu)
    emu.install(p, CLIENT_ID)
    emu.flush_events()
    before, queued = counts(app), app.extensions["hourbook"].runner.queue.qsize()
    form = {"event": "ONTASKUPDATE", "data[FIELDS_AFTER][ID]": str(task), "auth[member_id]": p.member_id,
            "auth[application_token]": "forged-token", "auth[domain]": "evil.example.com",
            "auth[client_endpoint]": "http://evil.example.com/rest/"}
    expected = 403
    kwargs = {"data": form}
    if case == "unknown_member":
        form["auth[member_id]"], expected = "0" * 32, 401
    elif case == "no_auth":
        kwargs = {"data": {"event": "ONTASKUPDATE"}}
        expected = 400
    elif case == "not_form":
        kwargs, expected = {"json": form}, 415
    elif case == "broken_keys":
        kwargs, expected = {"data": {**form, "auth[member_id][x]": "1"}}, 400
    elif case == "huge":
        kwargs, expected = {"data": {**form, "pad": "x" * (2 * 1024 * 1024)}}, 413
    response = requests.post(url + "/events", timeout=10, **kwargs)
    assert response.status_code == expected, response.text
    assert "Traceback" not in response.text
    assert app.extensions["hourbook"].runner.queue.qsize() == queued
    assert counts(app) == before


def test_forged_install_is_refused(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    before = counts(app)
    response = requests.post(url + "/install?DOMAIN=evil.example.com", timeout=10, data={
        "member_id": p.member_id, "AUTH_ID": "not-a-token", "REFRESH_ID": "x"})
    assert response.status_code == 403
    assert requests.post(url + "/install", timeout=10, data={"member_id": "x"}).status_code == 400
    assert counts(app) == before


def test_a_portal_refusing_our_tokens_is_marked_and_shown(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    hb = installed_and_synced(emu, app, p)
    p.payment_expired = True  # the refresh will answer PAYMENT_REQUIRED
    emu.expire_tokens(p)
    from jobs.tasks import sync_portal

    with hb.sessions() as s:
        portal_id = s.execute(select(Portal.id).where(Portal.member_id == p.member_id)).scalar_one()
    with pytest.raises(Exception):
        sync_portal(portal_id)
    with hb.sessions() as s:
        auth = s.get(PortalAuth, portal_id)
        assert auth.status == "dead" and "PAYMENT_REQUIRED" in auth.dead_reason
    page = requests.get(url + "/", timeout=10).text
    assert "PAYMENT_REQUIRED" in page and "refuses our credentials" in page
    from jobs.schedule import tick

    queued = tick(hb.runner, datetime.now(timezone.utc) + timedelta(minutes=2))
    assert f"sync-{portal_id}" in " ".join(queued)  # dead portals are retried, never skipped


def test_app_update_brings_a_new_application_token_which_replaces_the_old(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    hb = installed_and_synced(emu, app, p)
    old_token = p.installs[CLIENT_ID].application_token
    emu.update_app(p, CLIENT_ID)  # ONAPPUPDATE with the new token, proven by its access token
    assert emu.flush_events()
    new_token = p.installs[CLIENT_ID].application_token
    assert new_token != old_token
    assert hb.runner.drain() == 1 and hb.runner.failed == []  # the rebind job: nothing missing, nothing doubled
    assert len({(b.event, b.handler, b.offline) for b in p.installs[CLIENT_ID].bindings}) == \
        len(p.installs[CLIENT_ID].bindings)
    event = {"event": "ONTASKUPDATE", "data[FIELDS_AFTER][ID]": str(task), "auth[member_id]": p.member_id}
    assert requests.post(url + "/events", data={**event, "auth[application_token]": old_token},
                         timeout=10).status_code == 403
    assert requests.post(url + "/events", data={**event, "auth[application_token]": new_token},
                         timeout=10).status_code == 200


def test_a_forged_update_cannot_replace_the_application_token(emu, live):
    app, url = live
    p, staff, task = small_portal(emu)
    installed_and_synced(emu, app, p)
    before = counts(app)
    forged = {"event": "ONAPPUPDATE", "auth[member_id]": p.member_id, "auth[application_token]": "attacker",
              "auth[access_token]": "not-a-real-token", "auth[refresh_token]": "x"}
    assert requests.post(url + "/events", data=forged, timeout=10).status_code == 403
    assert counts(app) == before


def test_a_burst_of_task_events_checks_the_token_with_the_database_once(emu, live):
    """Once a portal's application token has matched, each web process
    remembers it for a minute: the next task events touch no table and still
    queue their hints. A forged token is never remembered; after
    ONAPPUNINSTALL the database is asked again."""
    from sqlalchemy import event as sa_event

    app, url = live
    p, staff, task = small_portal(emu)
    hb = installed_and_synced(emu, app, p)
    token = p.installs[CLIENT_ID].application_token
    form = {"event": "ONTASKUPDATE", "auth[member_id]": p.member_id, "auth[application_token]": token,
            "auth[domain]": p.domain}
    statements: list[str] = []

    def record(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    def send(task_id: int, **extra: str) -> requests.Response:
        return requests.post(url + "/events", data={**form, "data[FIELDS_AFTER][ID]": str(task_id), **extra},
                             timeout=10)

    sa_event.listen(hb.engine, "before_cursor_execute", record)
    try:
        assert send(task).status_code == 200
        assert statements  # the first one is checked with the database
        statements.clear()
        for n in range(1, 10):
            assert send(task + n).status_code == 200
        assert statements == []
        assert send(task, **{"auth[application_token]": "forged"}).status_code == 403
        assert statements  # a token that does not match is always asked of the database
    finally:
        sa_event.remove(hb.engine, "before_cursor_execute", record)
    portal_id = hb.known_tokens.portal(p.member_id, hb.box.digest(token))
    assert portal_id is not None
    assert hb.hints.waiting[portal_id] == {task + n for n in range(10)}  # ten tasks named, one job
    assert [k for k in hb.runner.pending if k.startswith("hints-")] == [f"hints-{portal_id}"]
    emu.uninstall(p, CLIENT_ID)
    emu.flush_events()
    assert hb.known_tokens.portal(p.member_id, hb.box.digest(token)) is None


def test_known_tokens_are_shared_by_web_processes_through_redis():
    """Two web processes (two KnownTokens on one Redis): what one proved the
    other uses; a token change seen by either drops it for both."""
    from handlers.events import KnownTokens
    from tests.conftest import empty_redis

    with empty_redis("redis://127.0.0.1:6379/12") as connection:
        first, second = KnownTokens(connection), KnownTokens(connection)
        first.remember("member", "digest-a", 7)
        assert second.portal("member", "digest-a") == 7
        assert second.portal("member", "digest-b") is None  # another token: the database decides
        assert 0 < connection.ttl("hourbook:events:member") <= KnownTokens.KEEP_S
        second.forget("member")  # ONAPPUPDATE arrived at the second process
        assert first.portal("member", "digest-a") is None


def test_the_fast_path_answers_a_proven_task_event_as_flask_does(emu, live):
    """TaskEventsFastPath (WSGI, before Flask) answers what `events()` would:
    the same status, body and hint; what it does not know goes to Flask."""
    app, url = live
    p, staff, task = small_portal(emu)
    hb = installed_and_synced(emu, app, p)
    token = p.installs[CLIENT_ID].application_token
    form = {"event": "ONTASKUPDATE", "data[FIELDS_AFTER][ID]": str(task), "auth[member_id]": p.member_id,
            "auth[application_token]": token, "auth[domain]": p.domain}
    by_flask = requests.post(url + "/events", data=form, timeout=10)  # not proven yet: Flask checks it
    assert hb.known_tokens.portal(p.member_id, hb.box.digest(token)) is not None
    hb.runner.drain()
    by_fast_path = requests.post(url + "/events", data=form, timeout=10)
    assert (by_fast_path.status_code, by_fast_path.content, by_fast_path.headers["Content-Type"]) == \
        (by_flask.status_code, by_flask.content, by_flask.headers["Content-Type"])
    assert [key for key in hb.runner.pending if key.startswith("hints-")] == ["hints-1"]
    assert hb.hints.waiting[1] == {task}
    # Passed on to Flask, which refuses them as before:
    assert requests.post(url + "/events?x=1", data={**form, "auth[application_token]": "forged"},
                         timeout=10).status_code == 403
    assert requests.post(url + "/events", data={**form, "auth[application_token]": "forged"},
                         timeout=10).status_code == 403
    repeated = [*form.items(), ("event", "ONTASKADD")]  # a field twice: Flask's form reading decides
    assert requests.post(url + "/events", data=repeated, timeout=10).status_code in (200, 400)


def test_the_access_log_leaves_out_accepted_events_only():
    from types import SimpleNamespace

    from app import GunicornLogger, QuietAccessLog

    logged = []
    original = GunicornLogger.access
    GunicornLogger.access = lambda self, resp, req, environ, t: logged.append((environ["PATH_INFO"], resp.status_code))
    try:
        quiet = QuietAccessLog.__new__(QuietAccessLog)
        for path, status in (("/events", 200), ("/events", 403), ("/widget", 200), ("/events", None)):
            quiet.access(SimpleNamespace(status_code=status), None, {"PATH_INFO": path}, 0)
    finally:
        GunicornLogger.access = original
    assert logged == [("/events", 403), ("/widget", 200), ("/events", None)]
