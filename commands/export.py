"""`python app.py export --account ID --out DIR`: the handover package of
one account (issue 16), XLSX and JSON, for the client or the next contractor."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--account", "account_id", type=click.IntRange(1, 2**31 - 1), required=True,
              help="The account's id (`account list`).")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to write handover-ID.xlsx, handover-ID.json and the monthly acts (act-*.pdf, act-*.xlsx).")
@click.pass_obj
def export(ctx, account_id: int, out: str) -> None:
    """Everything done for an account so far: scope, stages, payments, tasks, work log."""
    from b24.links import task_url
    from ledger.handover import package
    from ledger.models import Account, Portal
    from reports.handover import files, with_acts

    with ctx.sessions() as s:
        account = s.get(Account, account_id)
        if account is None:
            raise click.ClickException(f"no account {account_id}")
        domain = s.get(Portal, account.portal_id).domain
        data = package(s, account_id, lambda task_id, responsible: task_url(domain, task_id, responsible),
                       now=ctx.now())
        data, acts = with_acts(s, data)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = files(data, acts)
    for name, content in written.items():
        (folder / name).write_bytes(content)
    click.echo(f"{data['account']['name']}: {data['totals']['records']} records, {len(data['tasks'])} tasks, "
               f"{len(data['scope'])} scope items, {len(acts)} acts; {', '.join(written)} in {folder}")
