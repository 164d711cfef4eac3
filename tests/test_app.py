"""The app factory, its settings, its two pages, and `python app.py demo`."""
from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from ledger.example import seed

ROOT = Path(__file__).resolve().parent.parent
ENV_SETTINGS = ("INSTANCE_PATH", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MAX_CONTENT_LENGTH")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the environment: start every test without any."""
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def make_app(instance: Path, **config) -> Flask:
    app = create_app({"INSTANCE_PATH": str(instance), **config})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(tmp_path: Path):
    app = make_app(tmp_path / "instance")
    yield app
    app.extensions["hourbook"].engine.dispose()


# ---------------------------------------------------------------- pages


def test_healthz_answers_ok(app: Flask):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_home_page_shows_every_account_balance(app: Flask):
    with app.extensions["hourbook"].sessions() as s, s.begin():
        seed(s, datetime.now(timezone.utc))
    response = app.test_client().get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "ООО «Ромашка»" in page
    assert "Осталось / left" in page


def test_home_page_renders_without_accounts(app: Flask):
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "Hourbook" in response.get_data(as_text=True)


def test_unknown_route_is_404_not_500(app: Flask):
    assert app.test_client().get("/no/such/page").status_code == 404


def test_healthz_refuses_post(app: Flask):
    assert app.test_client().post("/healthz").status_code == 405


# ---------------------------------------------------------------- SECRET_KEY


def test_secret_key_is_generated_and_kept_private(tmp_path: Path):
    instance = tmp_path / "instance"
    app = make_app(instance)
    key_file = instance / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", app.config["SECRET_KEY"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in instance.iterdir() if p.name.startswith(".secret_key")] == []


def test_secret_key_survives_a_restart(tmp_path: Path):
    instance = tmp_path / "instance"
    assert make_app(instance).config["SECRET_KEY"] == make_app(instance).config["SECRET_KEY"]


def test_secret_key_differs_between_installations(tmp_path: Path):
    assert make_app(tmp_path / "a").config["SECRET_KEY"] != make_app(tmp_path / "b").config["SECRET_KEY"]


def test_secret_key_given_is_used_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    instance = tmp_path / "instance"
    assert make_app(instance).config["SECRET_KEY"] == "from-the-environment"
    assert not (instance / "secret_key").exists()


def test_secret_key_is_one_for_processes_starting_together(tmp_path: Path):
    """Several gunicorn workers starting at once must agree on one whole key."""
    import threading

    import settings

    def start_together(instance: Path, workers: int = 8) -> tuple[list[str], list[BaseException]]:
        barrier = threading.Barrier(workers)
        keys: list[str] = []
        errors: list[BaseException] = []

        def start_worker() -> None:
            barrier.wait()
            try:
                keys.append(settings.load({"INSTANCE_PATH": str(instance)})["SECRET_KEY"])
            except BaseException as err:  # noqa: BLE001 - every failure is the finding
                errors.append(err)

        threads = [threading.Thread(target=start_worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return keys, errors

    for attempt in range(10):  # the race is a matter of timing: give it several chances
        instance = tmp_path / f"instance-{attempt}"
        keys, errors = start_together(instance)
        assert errors == []
        assert len(keys) == 8 and len(set(keys)) == 1
        assert keys[0] == (instance / "secret_key").read_text().strip() != ""


def test_secret_key_is_never_a_constant_in_code():
    literal = re.compile(r"""SECRET_KEY['"]?\s*[:=]\s*[rbuf]?['"]""")
    sources = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts]
    assert sources
    offenders = [str(p.relative_to(ROOT)) for p in sources if literal.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


# ---------------------------------------------------------------- other settings


def test_database_defaults_to_sqlite_under_the_instance(tmp_path: Path):
    instance = tmp_path / "instance"
    app = make_app(instance)
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance.resolve() / 'hourbook.db'}"
    assert (instance / "hourbook.db").exists()  # created and migrated by the factory
    assert app.instance_path == str(instance.resolve())


def test_redis_unset_means_in_process_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert make_app(tmp_path / "a").config["REDIS_URL"] is None
    monkeypatch.setenv("REDIS_URL", "")
    assert make_app(tmp_path / "b").config["REDIS_URL"] is None


def test_environment_beats_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/0")
    app = make_app(tmp_path / "instance")
    assert (app.config["DATABASE_URL"], app.config["REDIS_URL"]) == (f"sqlite:///{db}", "redis://env:6379/0")
    assert db.exists()


def test_config_mapping_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/0")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "env-instance"))
    app = make_app(tmp_path / "instance", REDIS_URL="redis://override:6379/1", SECRET_KEY="override",
                   DATABASE_URL=f"sqlite:///{tmp_path / 'override.db'}")
    assert app.config["REDIS_URL"] == "redis://override:6379/1"
    assert app.config["SECRET_KEY"] == "override"
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'override.db'}"
    assert app.instance_path == str((tmp_path / "instance").resolve())
    assert (tmp_path / "override.db").exists() and not (tmp_path / "env.db").exists()


# ---------------------------------------------------------------- the demo


def test_demo_installs_into_the_emulator_syncs_and_prints_three_clients(tmp_path: Path):
    """`python app.py demo`: the emulator's integrator portal, Hourbook
    installed through the installer POST, synced, three balances printed."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS}
    env.update(INSTANCE_PATH=str(tmp_path), PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "app.py", "demo", "--no-serve", "--port", "0", "--emulator-port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for name in ("ООО «Ромашка»", "АО «Вектор»", "ИП Соколова"):
        assert name in done.stdout
    assert "/healthz" in done.stdout
    assert (tmp_path / "demo.db").exists()
    # Last month's act and a note from the weekly call wait for the manager and the client (issue 15).
    assert "last month's act" in done.stdout
    with sqlite3.connect(tmp_path / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM monthly_acts").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM call_notes").fetchone()[0] == 1
    # The demo's ledger obeys every rule: a stage finished back-dated after
    # the contracts were set up must not read as postings after its close.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    checked = subprocess.run([sys.executable, "app.py", "ledger", "verify"], cwd=ROOT, env=env,
                             capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_pages_do_not_wait_behind_a_sync_holding_the_write_lock(app: Flask):
    """A sync commits in chunks that hold SQLite's write lock for a while;
    pages read through a deferred, query-only connection meanwhile."""
    import time

    writer = app.extensions["hourbook"].sessions()
    writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours until rollback
    try:
        started = time.monotonic()
        response = app.test_client().get("/")
        assert response.status_code == 200
        assert time.monotonic() - started < 2
    finally:
        writer.rollback()
        writer.close()


def test_page_connections_cannot_write(app: Flask):
    from sqlalchemy.exc import DBAPIError

    reader = app.extensions["hourbook"].readers()
    with pytest.raises(DBAPIError):
        reader.execute(text("INSERT INTO audit_events (actor, action, before, after, at) "
                            "VALUES ('x', 'y', '{}', '{}', CURRENT_TIMESTAMP)"))
    reader.close()


def test_demo_serves_until_ctrl_c_and_healthz_waits_for_the_first_sync(tmp_path: Path):
    """The served demo: /healthz answers 200 once synced; Ctrl-C stops the app and the emulator."""
    import signal
    import socket
    import time
    import urllib.request

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    port, emu_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS}
    env.update(INSTANCE_PATH=str(tmp_path), PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, "app.py", "demo", "--port", str(port), "--emulator-port", str(emu_port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "ООО «Ромашка»" in page and "АО «Вектор»" in page and "ИП Соколова" in page
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
        assert code == 0, proc.stdout.read()[-3000:]
        for p in (port, emu_port):
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{p}/", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
