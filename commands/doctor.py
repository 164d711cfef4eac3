"""`python app.py doctor`: check a connected portal, read-only."""
from __future__ import annotations

import click

from commands import RECORD_OPTION, AppContext

@click.command()
@click.option("--portal", "portal_id", type=int, help="Only this portal (default: every connected one).")
@click.option("--json", "as_json", is_flag=True, help="The same rows as JSON.")
@RECORD_OPTION
@click.pass_obj
def doctor(ctx: AppContext, portal_id: int | None, as_json: bool, record_dir: str | None) -> None:
    """Check a connected portal against every assumption the sync relies on (writes nothing to it)."""
    import json

    from b24 import doctor as checks
    from b24.client import RestError
    from jobs.doctor import diagnose
    from jobs.tasks import active_portals

    ctx.record_to(record_dir)
    ctx.app  # configures the jobs of this process
    ids = [portal_id] if portal_id else active_portals()
    if not ids:
        raise click.ClickException("no portal connected: `python app.py connect --webhook URL` first")
    results = {}
    for pid in ids:
        try:
            results[pid] = diagnose(pid)
        except RestError as err:
            raise click.ClickException(f"portal {pid}: {err}") from None
    if as_json:
        click.echo(json.dumps({str(pid): json.loads(checks.as_json(rows)) for pid, rows in results.items()},
                              ensure_ascii=False, indent=2))
    else:
        for pid, rows in results.items():
            click.echo(f"portal {pid}: {checks.worst(rows).upper()}")
            click.echo(checks.as_table(rows))
    if any(checks.worst(rows) == checks.FAIL for rows in results.values()):
        raise SystemExit(1)

