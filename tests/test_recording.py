"""`--record DIR`: every REST exchange the gateway makes, one redacted file
per call (b24/recording.py), from the command line and from the web process."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from b24.client import Rest, WebhookAuth
from b24.recording import REDACTED, Recorder, redact
from commands import cli
from emulators.bitrix24 import Emulator, Faults


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'hb.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("HOURBOOK_RECORD_DIR", raising=False)
    with Emulator() as emu:
        p = emu.add_portal("secret-client.bitrix24.test")
        p.rate_limit = None
        staff = p.add_user("Анна", "Личная", email="anna.private@example.org")
        task = p.add_task("Настройка воронки для Иванова", staff)
        now = datetime.now(timezone.utc)
        for i in range(70):
            p.add_time(task, staff, 300 + i, now - timedelta(hours=3 * i), comment=f"Созвон с Петровым {i}")
        yield emu, p


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_sync_record_writes_one_redacted_file_per_request(world, tmp_path):
    emu, p = world
    hook = p.webhook(1)
    run("connect", "--webhook", hook)
    served_before = sum(emu.requests.values())
    folder = tmp_path / "rec"
    run("sync", "--full", "--record", str(folder))
    files = sorted(folder.glob("*.json"))
    assert len(files) == sum(emu.requests.values()) - served_before > 0
    secret = hook.rstrip("/").rsplit("/", 1)[1]
    forbidden = [secret, p.domain, p.member_id, "Анна", "Личная", "anna.private", "Иванова", "Петровым"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for value in forbidden:
            assert value not in text, (path.name, value)
        record = json.loads(text)
        assert set(record) == {"method", "request", "response", "source", "recorded_at"}
        assert record["response"]["status"] == 200
    methods = [json.loads(f.read_text())["method"] for f in files]
    assert "batch" in methods
    # Shapes survive redaction: a record's comment is still a string, its ids are kept.
    batches = [json.loads(f.read_text()) for f in files if json.loads(f.read_text())["method"] == "batch"]
    rows = [row for b in batches for result in b["response"]["body"]["result"]["result"].values()
            if isinstance(result, list) for row in result if isinstance(row, dict) and "COMMENT_TEXT" in row]
    assert rows and all(r["COMMENT_TEXT"] == REDACTED and r["ID"].isdigit() for r in rows)


def test_retries_and_errors_are_recorded_too(world, tmp_path):
    emu, p = world
    emu.faults = Faults(fail_calls=1.0, fail_kinds=("QUERY_LIMIT_EXCEEDED",))
    rest = Rest(WebhookAuth(p.webhook(1)), retries=2, sleep=lambda s: None, recorder=Recorder(tmp_path / "r"))
    with pytest.raises(Exception):
        rest.call("profile")
    records = [json.loads(f.read_text()) for f in sorted((tmp_path / "r").glob("*.json"))]
    assert [r["response"]["status"] for r in records] == [503, 503, 503]
    assert records[0]["response"]["body"]["error"] == "QUERY_LIMIT_EXCEEDED"


def test_the_web_process_records_when_the_environment_says(world, tmp_path, monkeypatch):
    emu, p = world
    monkeypatch.setenv("HOURBOOK_RECORD_DIR", str(tmp_path / "web"))
    Rest(WebhookAuth(p.webhook(1))).call("server.time")
    (only,) = list((tmp_path / "web").glob("*.json"))
    assert json.loads(only.read_text())["method"] == "server.time"


def test_redaction_keeps_types_and_cuts_secrets_out_of_any_string():
    answer = {"result": {"ID": "1", "NAME": "Иван", "ADMIN": True, "EMAIL": "",
                         "responsible": {"id": "5", "name": "Мария", "icon": "/x.png"},
                         "PERSONAL_PHOTO": None, "URL": "https://p.bitrix24.ru/rest/1/s3cr3tcode/"},
              "auth": {"access_token": "tok123456", "member_id": "abcdef0123"}}
    out = redact(answer, ["s3cr3tcode", "p.bitrix24.ru"])
    assert out["result"]["NAME"] == REDACTED and out["result"]["EMAIL"] == "" and out["result"]["ADMIN"] is True
    assert out["result"]["responsible"] == {"id": "5", "name": REDACTED, "icon": REDACTED}
    assert out["result"]["PERSONAL_PHOTO"] is None
    assert "s3cr3tcode" not in out["result"]["URL"] and "p.bitrix24.ru" not in out["result"]["URL"]
    assert out["auth"] == {"access_token": REDACTED, "member_id": REDACTED}
