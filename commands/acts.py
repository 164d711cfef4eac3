"""`python app.py act`: the monthly act of an account's closed month, as PDF,
XLSX and the JSON it is kept as; made (and kept) first when the month has
none yet, so this is also the backfill of one month on demand."""
from __future__ import annotations

from pathlib import Path

import click

from commands import AppContext


@click.command()
@click.option("--account", "account_id", type=int, required=True, help="The account's id (`account list`).")
@click.option("--period", required=True, help="The month, e.g. 2026-11 (closed: an open month still changes).")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to write act-<number>.pdf, .xlsx and .json.")
@click.pass_obj
def act(ctx: AppContext, account_id: int, period: str, out: str) -> None:
    """Write an account's monthly act of work done (made and kept if it was not yet)."""
    from sqlalchemy import select

    from ledger.calendar import month_label, parse_month
    from ledger.models import Account, Period
    from reports import act as acts
    from reports import act_render

    try:
        label = month_label(parse_month(period))
    except ValueError:
        raise click.BadParameter(f"not a month such as 2026-11: {period}", param_hint="--period") from None
    with ctx.sessions() as s, s.begin():
        if s.get(Account, account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        found = s.execute(select(Period).where(Period.account_id == account_id, Period.label == label,
                                               Period.kind == "month")).scalar_one_or_none()
        if found is None:
            raise click.ClickException(f"account {account_id} has no month {label}")
        try:
            row = acts.make_act(s, found.id, made_by="cli")
        except acts.NotClosed:
            raise click.ClickException(f"{label} is not closed yet: its act is made when it closes") from None
        data = acts.stored(row)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {act_render.filename(data, "pdf"): act_render.pdf(data),
             act_render.filename(data, "xlsx"): act_render.xlsx(data),
             act_render.filename(data, "json"): data.to_json().encode()}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    click.echo(f"{data.account} {data.period}: act {data.number}, {len(data.tasks)} tasks, "
               f"{len(files)} files in {folder}")
