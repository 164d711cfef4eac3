"""Jobs are plain functions that build their own session and can run twice."""
from __future__ import annotations

from datetime import date, datetime, timezone

from ledger.db import make_engine, make_session_factory
from ledger import schema
from ledger.contracts import add_account, create_portal, set_retainer


def test_close_periods_job_is_idempotent(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    engine = make_engine(url)
    schema.upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        portal = create_portal(s, "m", "m.bitrix24.ru")
        account = add_account(s, portal, "A")
        set_retainer(s, account, hours_s=3600, starts_on=date(2026, 1, 1),
                     now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    from jobs.tasks import close_periods
    from jobs.context import configure

    configure({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)})

    first = close_periods(datetime(2026, 3, 1, tzinfo=timezone.utc))
    again = close_periods(datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert first["closed"] == ["2026-01", "2026-02"]
    assert again["closed"] == []
