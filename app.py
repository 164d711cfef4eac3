"""Hourbook: the app factory and the command line (`python app.py …`)."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import handlers
import jobs.context as jobs_context
import jobs.tasks as jobs_tasks
import settings
from b24.connection import AppCredentials
from b24.secrets import SecretBox
from jobs.runner import InProcessRunner, RqRunner
from handlers import db as request_db
from ledger import cli as ledger_cli
from ledger import schema
from ledger.db import make_engine, make_session_factory


@dataclass
class Hourbook:
    """What the app shares with handlers: the database, the token box, the
    job runner and the job functions it runs."""

    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    runner: Any
    app_credentials: AppCredentials | None
    jobs: Any


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the environment (tests, scripts)."""
    conf = settings.load(config)
    app = Flask(__name__, instance_path=conf["INSTANCE_PATH"])
    app.config.update(conf)
    engine = make_engine(conf["DATABASE_URL"])
    if conf.get("AUTO_MIGRATE", True):
        schema.upgrade(engine)
    jobs_context.configure(conf)
    if conf.get("REDIS_URL"):
        import redis

        runner: Any = RqRunner(redis.Redis.from_url(conf["REDIS_URL"]))
    else:
        runner = InProcessRunner()
        if conf.get("START_RUNNER", True):
            runner.start()
    app.extensions["hourbook"] = Hourbook(engine, make_session_factory(engine), SecretBox(conf["SECRET_KEY"]),
                                          runner, jobs_context.app_credentials(conf), jobs_tasks)
    app.teardown_appcontext(request_db.close)
    handlers.register(app)
    return app


class AppContext(ledger_cli.CliContext):
    """The CLI's context: builds the app only when a command needs the database."""

    def __init__(self, now: str | None, overrides: Mapping[str, Any] | None = None) -> None:
        self._app: Flask | None = None
        self._overrides = overrides
        self.now = ledger_cli.now_option(now)

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = create_app(self._overrides)
        return self._app

    def sessions(self) -> Session:  # type: ignore[override]
        return self.app.extensions["hourbook"].sessions()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--now", hidden=True, help="Run as if it were this instant (ISO 8601 with offset).")
@click.pass_context
def cli(ctx: click.Context, now: str | None) -> None:
    """Hourbook: exact hour ledgers for Bitrix24 support retainers."""
    ctx.obj = AppContext(now)


ledger_cli.register(cli)


@cli.command()
@click.option("--port", default=5000, show_default=True)
@click.option("--serve/--no-serve", default=True, help="Serve the app after seeding (Ctrl-C stops).")
def demo(port: int, serve: bool) -> None:
    """Seed the example client on a fresh SQLite file, print its balances, serve."""
    from ledger.balance import history
    from ledger.example import seed
    from ledger.hours import format_hours
    from ledger.plan import tariff_options

    def h(seconds: int) -> str:
        return format_hours(seconds) if seconds else "—"

    instance = Path(settings.load().get("INSTANCE_PATH"))
    db_file = instance / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    app = create_app({"DATABASE_URL": f"sqlite:///{db_file}"})
    sessions = app.extensions["hourbook"].sessions
    with sessions() as s, s.begin():
        example = seed(s, datetime.now(timezone.utc))
        account_name = "ООО «Ромашка»"
        click.echo(f"\n{account_name}: Сопровождение 40 ч/мес / 40 h a month retainer\n")
        click.echo(f"{'период':<9} {'пакет':>8} {'перенос':>8} {'корр.':>7} {'потрачено':>10} "
                   f"{'сгорело':>8} {'перерасход':>10} {'осталось':>9}")
        for b in history(s, example.account_id):
            t = b.terms
            billed = t.overage_billed_s or t.overage_s
            click.echo(f"{b.label:<9} {h(t.allocation_s):>8} {h(t.rollover_in_s):>8} "
                       f"{h(t.adjustment_s):>7} {h(t.consumption_s):>10} {h(t.expiry_s):>8} "
                       f"{h(billed):>10} {h(t.remaining_s):>9}  "
                       f"{'закрыт' if b.status == 'closed' else 'открыт'}")
        click.echo("\nПлан развития 160 ч / a 160 h development plan (2 500 ₽/ч):")
        for o in tariff_options(160 * 3600, 2_500_00):
            if o.months:
                click.echo(f"  {o.tariff_h:>3} ч × {o.months} мес = {o.total_price_minor // 100:,} ₽"
                           f" ({o.monthly_price_minor // 100:,} ₽/мес)".replace(",", " "))
    if not serve:
        return
    click.echo(f"\nHourbook: http://127.0.0.1:{port}/   (health: http://127.0.0.1:{port}/healthz; Ctrl-C stops)")
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="app.py", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
