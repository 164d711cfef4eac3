"""The command line (`python app.py …`): the app's own commands (demo,
connect, sync, doctor, worker, scheduler, report, act, serve) and the ledger's
(`commands.ledger`). It builds the app through `app.create_app` only when a
command needs the database."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

import settings
from commands import ledger as ledger_cli
from commands import plan as plan_cli

APP_PY = Path(__file__).resolve().parent.parent / "app.py"


class AppContext(ledger_cli.CliContext):
    """The CLI's context: builds the app only when a command needs the database."""

    def __init__(self, now: str | None, overrides: Mapping[str, Any] | None = None) -> None:
        self._app: Flask | None = None
        self._overrides = overrides
        self.now = ledger_cli.now_option(now)

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = _create_app(self._overrides)
        return self._app

    def sessions(self) -> Session:  # type: ignore[override]
        return self.app.extensions["hourbook"].sessions()

    def record_to(self, folder: str | None) -> None:
        """`--record DIR`: the portal exchanges of this command go to DIR,
        redacted (b24/recording.py). Said before the app is built."""
        if folder:
            assert self._app is None, "record_to() must come before the app is built"
            self._overrides = {**(self._overrides or {}), "RECORD_DIR": folder}


RECORD_OPTION = click.option("--record", "record_dir", type=click.Path(file_okay=False),
                             help="Save every REST request and answer here, redacted, one file per call.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--now", hidden=True, help="Run as if it were this instant (ISO 8601 with offset).")
@click.pass_context
def cli(ctx: click.Context, now: str | None) -> None:
    """Hourbook: exact hour ledgers for Bitrix24 support retainers."""
    ctx.obj = AppContext(now)


ledger_cli.register(cli)
cli.add_command(plan_cli.plan)


@cli.command()
@click.option("--port", default=5000, show_default=True, help="The app's port.")
@click.option("--emulator-port", default=5001, show_default=True, help="The portal emulator's port.")
@click.option("--amocrm-port", type=int, default=None,
              help="The amoCRM emulator's consent page (default: the portal emulator's port + 1, or any free port "
                   "with --emulator-port 0); the client's amoCRM account takes the next port.")
@click.option("--serve/--no-serve", default=True, help="Keep serving after the first sync (Ctrl-C stops).")
def demo(port: int, emulator_port: int, amocrm_port: int | None, serve: bool) -> None:
    """A local Bitrix24 portal with four clients, Hourbook installed into it and synced; the fourth client's amoCRM."""
    import demo as demo_module

    demo_module.run(_create_app, port, emulator_port, Path(settings.load().get("INSTANCE_PATH")), serve,
                    amocrm_port=amocrm_port)


@cli.command()
@click.option("--webhook", "url", required=True, help="Incoming webhook URL (https://x.bitrix24.ru/rest/1/secret/).")
@click.option("--integrator", is_flag=True, help="Each CRM company is an account (else the portal is one).")
@click.option("--events-token", help="The outgoing webhook's application token, to accept its events.")
@click.pass_obj
def connect(ctx: AppContext, url: str, integrator: bool, events_token: str | None) -> None:
    """Single-portal mode: connect a portal through its incoming webhook."""
    from b24 import portals
    from b24.client import RestError
    from ledger.contracts import LedgerError

    hb = ctx.app.extensions["hourbook"]
    try:
        connected = portals.connect_webhook(hb.sessions, hb.box, url, integrator=integrator,
                                            events_token=events_token)
    except (LedgerError, RestError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"portal {connected.portal_id} connected ({'integrator' if integrator else 'client'} mode)")


@cli.command()
@click.option("--full", is_flag=True, help="Also re-read the open periods and every task's metadata.")
@click.option("--portal", "portal_id", type=int, help="Only this portal.")
@RECORD_OPTION
@click.pass_obj
def sync(ctx: AppContext, full: bool, portal_id: int | None, record_dir: str | None) -> None:
    """Sync time records from the portal(s) now."""
    ctx.record_to(record_dir)
    from b24.client import RestError
    from jobs.context import context as job_context
    from jobs.sync import Sync
    from jobs.tasks import active_portals

    ctx.app  # configures the jobs of this process
    jc = job_context()
    ids = [portal_id] if portal_id else active_portals()
    if not ids:
        raise click.ClickException("no portal connected: `python app.py connect --webhook URL` first")
    for pid in ids:
        bar = ProgressBar(f"portal {pid}")
        try:
            report = Sync(jc.sessions, jc.rest(pid), pid, progress=bar.message, on_progress=bar.update).run(
                reconcile=full, full=full)
        except RestError as err:
            raise click.ClickException(f"portal {pid}: {err}") from None
        finally:
            bar.close()
        click.echo(f"portal {pid}: {report.new_records} new records, {report.tasks_reread} tasks re-read, "
                   f"{report.deleted} deleted, {report.postings} postings, {report.requests} requests")


class ProgressBar:
    """`sync`'s progress on a terminal (tqdm): records read of the portal's
    total, posted, requests, rate and time left. Quiet when stderr is not a
    terminal (a cron job, a log file): the final line says it all there."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=label, unit=" records", unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                        disable=None, leave=True)

    def message(self, text: str) -> None:
        if self.bar.disable:
            return
        self.bar.set_description_str(text[:60], refresh=False)

    def update(self, counts: Any) -> None:
        if self.bar.disable:
            return
        if counts.total is not None and self.bar.total != counts.total:
            self.bar.total = counts.total
        self.bar.set_postfix(posted=f"{counts.posted:,}", requests=counts.requests, refresh=False)
        self.bar.update(counts.read - self.bar.n)

    def close(self) -> None:
        self.bar.close()


@cli.command()
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@click.option("--with-scheduler/--no-scheduler", default=True, show_default=True)
@click.option("--schedule-every", "every_s", type=float, default=20.0, show_default=True,
              help="Seconds between the scheduler's ticks.")
@click.pass_obj
def worker(ctx: AppContext, burst: bool, with_scheduler: bool, every_s: float) -> None:
    """An rq worker (REDIS_URL), with the schedule (one scheduler runs, others stand by)."""
    import os
    import subprocess

    import redis as redis_lib
    from rq import Worker

    conf = ctx.app.config
    if not conf.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside `serve`/`demo`")
    # The schedule runs in a process of its own, not a thread of this one:
    # rq forks a work-horse per job, and a fork taken while a thread holds a
    # lock (logging's, a connection pool's) leaves the child waiting forever;
    # nor may the two share a Redis connection (its socket timeout ended the
    # worker's idle wait).
    schedule = None
    if with_scheduler and not burst:
        schedule = subprocess.Popen([sys.executable, str(APP_PY), "scheduler",
                                     "--parent", str(os.getpid()), "--every", str(every_s)])
    try:
        Worker(["hourbook"], connection=redis_lib.Redis.from_url(conf["REDIS_URL"]),
               maintenance_interval=60).work(burst=burst, with_scheduler=True)
    finally:
        if schedule is not None:
            schedule.terminate()
            schedule.wait(10)


@cli.command()
@click.option("--parent", type=int, hidden=True, help="Stop when this process is gone (the worker that started it).")
@click.option("--every", "every_s", type=float, default=20.0, show_default=True, help="Seconds between ticks.")
@click.pass_obj
def scheduler(ctx: AppContext, parent: int | None, every_s: float) -> None:
    """The schedule alone: queue syncs, closes, reports and alerts when due (one leader across processes)."""
    import os
    import signal

    import redis as redis_lib

    from jobs.runner import RqRunner
    from jobs.schedule import Scheduler

    conf = ctx.app.config
    if not conf.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, the schedule runs inside `serve`/`demo`")
    connection = redis_lib.Redis.from_url(conf["REDIS_URL"])
    schedule = Scheduler(RqRunner(connection), connection, every_s=every_s)
    signal.signal(signal.SIGTERM, lambda *_: schedule.stopped.set())
    if parent:
        # A worker killed with SIGKILL cannot stop its scheduler: it notices
        # the orphaning itself, so restarts never pile up schedulers.
        schedule.alive = lambda: os.getppid() == parent
    schedule.run()


@cli.command()
@click.option("--account", "account_id", type=int, required=True, help="The account's id (`account list`).")
@click.option("--week", required=True, help="ISO week, e.g. 2026-W47 (Monday to Sunday in the portal's zone).")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to write report.html, report.txt, report.xlsx, report.eml and report.json.")
@click.pass_obj
def report(ctx: AppContext, account_id: int, week: str, out: str) -> None:
    """Render an account's weekly report without sending it."""
    from b24.links import task_url
    from ledger.access import recipients
    from ledger.calendar import parse_week
    from reports import render
    from reports.build import build_report
    from reports.mail import message

    try:
        monday = parse_week(week)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--week") from None
    with ctx.sessions() as s:
        try:
            data = build_report(s, account_id, monday, task_url, now=ctx.now())
        except LookupError as err:
            raise click.ClickException(str(err)) from None
        to = [(r.name, r.email) for r in recipients(s, account_id)]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sender = ctx.app.config["MAIL_FROM"]
    files = {
        "report.html": render.html(data).encode(), "report.txt": render.text(data).encode(),
        "report.xlsx": render.xlsx(data), "report.json": data.to_json().encode(),
        "report.eml": bytes(message(data, f"preview:{account_id}:{data.week}", to, sender)),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    click.echo(f"{data.account} {data.week}: {len(data.lines)} records, {len(files)} files in {folder}")


@cli.command()
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option("--workers", default=2, show_default=True)
def serve(bind: str, workers: int) -> None:
    """The production web server (gunicorn)."""
    import os

    os.environ.setdefault("START_RUNNER", "1")  # without Redis, jobs run in the web process
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
                               "--access-logfile", "-", "--logger-class", "app.QuietAccessLog",
                               # the path without its query string: frame tokens ride there
                               "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s',
                               "app:create_app()"])


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="app.py", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0




def _create_app(overrides: Mapping[str, Any] | None) -> Flask:
    from app import create_app

    return create_app(overrides)


from commands.doctor import doctor  # noqa: E402  (needs RECORD_OPTION and AppContext above)

cli.add_command(doctor)

from commands.acts import act  # noqa: E402

cli.add_command(act)

from commands.export import export  # noqa: E402  (issue 16: the handover package)

cli.add_command(export)

from commands.amocrm import amocrm  # noqa: E402

cli.add_command(amocrm)
