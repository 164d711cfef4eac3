"""Single-portal mode: REST through an incoming webhook, events from an
outgoing webhook checked against its own token; `connect` and `sync` from
the command line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from commands import cli
from emulators.bitrix24 import Emulator
from ledger.models import Base, Portal, TimeEntry
from tests.live import serve_app

EVENTS_TOKEN = "outgoing-webhook-token"


@pytest.fixture
def world(tmp_path, monkeypatch):
    db = tmp_path / "hb.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with Emulator() as emu:
        p = emu.add_portal("webhook.bitrix24.test")
        p.rate_limit = None
        staff = p.add_user("Анна")
        task = p.add_task("Настройка", staff)
        now = datetime.now(timezone.utc)
        for i in range(70):
            p.add_time(task, staff, 300 + i, now - timedelta(hours=3 * i))
        yield emu, p, task, db


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_connect_and_sync_from_the_command_line(world):
    emu, p, task, db = world
    out = run("connect", "--webhook", p.webhook(1), "--events-token", EVENTS_TOKEN).output
    assert "connected (client mode)" in out
    out = run("sync", "--full").output
    assert "70 new records" in out
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        mirror = dict(conn.execute(select(TimeEntry.record_id, TimeEntry.duration_s)).all())
    engine.dispose()
    assert mirror == {int(r["ID"]): int(r["SECONDS"]) for r in p.records()}
    assert "0 new records" in run("sync").output


def test_connect_refuses_a_url_that_is_not_a_webhook(world):
    result = CliRunner().invoke(cli, ["connect", "--webhook", "https://example.com/not-a-hook"])
    assert result.exit_code != 0 and "webhook URL looks like" in result.output


def test_outgoing_webhook_events_are_checked_against_their_own_token(world, tmp_path):
    emu, p, task, db = world
    with serve_app(emu, {"DATABASE_URL": f"sqlite:///{db}", "INSTANCE_PATH": str(tmp_path)}) as (app, url):
        from b24.portals import connect_webhook

        hb = app.extensions["hourbook"]
        connect_webhook(hb.sessions, hb.box, p.webhook(1), events_token=EVENTS_TOKEN)
        event = {"event": "ONTASKUPDATE", "data[FIELDS_AFTER][ID]": str(task), "ts": "1",
                 "auth[domain]": p.domain, "auth[client_endpoint]": p.client_endpoint,
                 "auth[server_endpoint]": emu.url + "/rest/", "auth[member_id]": p.member_id,
                 "auth[application_token]": "wrong"}

        def rows() -> dict[str, int]:
            with hb.sessions() as s:
                return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                        for t in Base.metadata.sorted_tables}

        before = rows()
        assert requests.post(url + "/events", data=event, timeout=10).status_code == 401
        assert rows() == before and hb.runner.queue.qsize() == 0
        event["auth[application_token]"] = EVENTS_TOKEN
        assert requests.post(url + "/events", data=event, timeout=10).status_code == 200
        assert hb.runner.drain() == 1 and hb.runner.failed == []
        with hb.sessions() as s:
            assert s.execute(select(func.count()).select_from(TimeEntry)).scalar_one() == 70
            assert s.execute(select(Portal.member_id)).scalar_one().startswith("webhook:")
