"""`python app.py plan …`: the development plan of an account from the
command line, as the manager's page edits it (show, add, move, state).
Every change is audited with the actor "cli"."""
from __future__ import annotations

import click
from sqlalchemy import select

from ledger import calendar as cal
from ledger.contracts import LedgerError
from ledger.devplan import PLAN_ITEM_STATES, add_item, forecast_months, ForecastItem, items, plan_status, reorder, \
    set_item_state
from ledger.hours import format_hm
from ledger.models import Direction, PlanItem, Portal

from .ledger import MAX_ID, CliContext, Hours, _account, emit, transaction

ACTOR = "cli"


@click.group(help="The development plan: directions, their tasks, planned hours, the client's order.")
def plan() -> None:
    pass


def _item(session, account, item_id: int) -> PlanItem:
    item = session.get(PlanItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or item.account_id != account.id:
        raise LedgerError(f"no plan item {item_id} in account {account.id}")
    return item


def _direction(session, account, ref: str) -> Direction:
    """A direction by its number or its exact name."""
    found = list(session.execute(select(Direction).where(Direction.account_id == account.id)).scalars())
    for d in found:
        if (ref.isdecimal() and d.id == int(ref)) or d.name == ref:
            return d
    names = ", ".join(f"{d.id} {d.name}" for d in found) or "none yet"
    raise LedgerError(f"no direction {ref!r} in account {account.id} (directions: {names})")


@plan.command("show")
@click.argument("account_id", type=click.IntRange(1, MAX_ID))
@click.option("--tariff", "tariff_s", type=Hours(), help="Hours a month for the forecast (e.g. 80).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def plan_show(ctx: CliContext, account_id: int, tariff_s: int | None, as_json: bool) -> None:
    """Each direction and task: priority, planned, spent, left, status, the month it is done."""
    if tariff_s is not None and tariff_s <= 0:
        raise click.BadParameter("a tariff is a positive number of hours", param_hint="--tariff")
    with transaction(ctx) as s:
        account = _account(s, account_id)
        now = ctx.now()
        status = plan_status(s, account.id, now, tariff_s=tariff_s)
        assert status is not None
        months = []
        if tariff_s:
            portal = s.get(Portal, account.portal_id)
            start = cal.month_start(cal.local_date(now, portal.time_zone))
            flat = sorted((i for d in status.directions for i in d.items), key=lambda i: i.priority)
            result = forecast_months([ForecastItem(i.item_id, 0 if i.state == "done" else i.planned_s, i.spent_s,
                                                   i.state == "paused") for i in flat], tariff_s)
            months = [{"month": cal.add_months(start, n).isoformat()[:7], "hours_s": sum(x for _, x in m)}
                      for n, m in enumerate(result.months[:36])]
    data = {"account": account_id, "planned_s": status.planned_s, "spent_s": status.spent_s,
            "left_s": status.left_s, "tariff_s": tariff_s, "months": months,
            "directions": [{"id": d.direction_id, "name": d.name, "planned_s": d.planned_s, "spent_s": d.spent_s,
                            "left_s": d.left_s, "status": d.status,
                            "finish": d.finish_month.isoformat()[:7] if d.finish_month else None,
                            "items": [{"id": i.item_id, "priority": i.priority, "task_id": i.task_id,
                                       "title": i.title, "state": i.state, "status": i.status,
                                       "planned_s": i.planned_s, "spent_s": i.spent_s, "left_s": i.left_s,
                                       "finish": i.finish_month.isoformat()[:7] if i.finish_month else None}
                                      for i in d.items]} for d in status.directions]}

    def human() -> None:
        click.echo(f"plan of account {account_id}: planned {format_hm(status.planned_s)}, spent "
                   f"{format_hm(status.spent_s)}, left {format_hm(status.left_s)}")
        for d in data["directions"]:
            finish = f"  done {d['finish']}" if d["finish"] else ""
            click.echo(f"\n  {d['name']}  [{d['status']}]  {format_hm(d['spent_s'])} of "
                       f"{format_hm(d['planned_s'])}{finish}")
            for i in d["items"]:
                name = i["title"] or f"task {i['task_id']}"
                task = f" (task {i['task_id']})" if i["task_id"] and i["title"] else ""
                click.echo(f"   {i['priority']:>3}. #{i['id']} {name}{task}  [{i['status']}]  planned "
                           f"{format_hm(i['planned_s'])}, spent {format_hm(i['spent_s'])}, left "
                           f"{format_hm(i['left_s'])}{'  ' + i['finish'] if i['finish'] else ''}")
        if months:
            click.echo(f"\n  at {format_hm(tariff_s or 0)} a month:")
            for m in months:
                click.echo(f"    {m['month']}  {format_hm(m['hours_s'])}")

    emit(data, as_json, human)


@plan.command("add")
@click.argument("account_id", type=click.IntRange(1, MAX_ID))
@click.option("--direction", "direction_ref", required=True, help="The direction's number or name.")
@click.option("--hours", "planned_s", type=Hours(), required=True, help="Planned hours, e.g. 16 or 2:30.")
@click.option("--task", "task_id", type=click.IntRange(1, MAX_ID), help="The portal's task number.")
@click.option("--title", default="", help="A title (for a task not created in the portal yet).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def plan_add(ctx: CliContext, account_id: int, direction_ref: str, planned_s: int, task_id: int | None, title: str,
             as_json: bool) -> None:
    """A task at the end of the plan (the lowest priority)."""
    with transaction(ctx) as s:
        account = _account(s, account_id)
        direction = _direction(s, account, direction_ref)
        item = add_item(s, account, direction_id=direction.id, task_id=task_id, title=title, planned_s=planned_s,
                        actor=ACTOR, now=ctx.now())
        data = {"id": item.id, "priority": item.position, "direction": direction.id}
    emit(data, as_json, lambda: click.echo(f"plan item {data['id']} added, priority {data['priority']}"))


@plan.command("move")
@click.argument("account_id", type=click.IntRange(1, MAX_ID))
@click.argument("item_id", type=click.IntRange(1, MAX_ID))
@click.option("--up", "where", flag_value="up", help="One place up.")
@click.option("--down", "where", flag_value="down", help="One place down.")
@click.option("--first", "where", flag_value="first", help="To the top.")
@click.option("--to", "position", type=click.IntRange(1, 10_000), help="To this priority (1 is first).")
@click.pass_obj
def plan_move(ctx: CliContext, account_id: int, item_id: int, where: str | None, position: int | None) -> None:
    """Change the client's order."""
    if (where is None) == (position is None):
        raise click.UsageError("say where: --up, --down, --first or --to N")
    with transaction(ctx) as s:
        account = _account(s, account_id)
        item = _item(s, account, item_id)
        order = [i.id for i in items(s, account.id)]
        at = order.index(item.id)
        order.pop(at)
        target = {"up": max(0, at - 1), "down": min(len(order), at + 1), "first": 0}.get(where or "",
                                                                                       (position or 1) - 1)
        order.insert(min(target, len(order)), item.id)
        reorder(s, account, order, actor=ACTOR, now=ctx.now())
        final = order.index(item.id) + 1
    click.echo(f"plan item {item_id} is now priority {final}")


@plan.command("state")
@click.argument("account_id", type=click.IntRange(1, MAX_ID))
@click.argument("item_id", type=click.IntRange(1, MAX_ID))
@click.argument("state", type=click.Choice(PLAN_ITEM_STATES))
@click.pass_obj
def plan_state(ctx: CliContext, account_id: int, item_id: int, state: str) -> None:
    """planned, active, paused or done."""
    with transaction(ctx) as s:
        account = _account(s, account_id)
        set_item_state(s, _item(s, account, item_id), state, actor=ACTOR, now=ctx.now())
    click.echo(f"plan item {item_id} is {state}")


@plan.command("direction")
@click.argument("account_id", type=click.IntRange(1, MAX_ID))
@click.argument("name")
@click.option("--hours", "planned_s", type=Hours(), default="0", show_default=True,
              help="Planned hours while it has no tasks listed.")
@click.option("--match", "match", default="", help="Its tasks: group:ID, tag:NAME or parent:TASK.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def plan_direction(ctx: CliContext, account_id: int, name: str, planned_s: int, match: str, as_json: bool) -> None:
    """A new direction of the plan."""
    from ledger.contracts import add_direction

    kind, _sep, value = match.partition(":")
    if kind not in ("group", "tag", "parent") or not value:
        raise click.BadParameter("group:ID, tag:NAME or parent:TASK", param_hint="--match")
    with transaction(ctx) as s:
        account = _account(s, account_id)
        made = add_direction(s, account, name, planned_s=planned_s, match_kind=kind, match_value=value, actor=ACTOR,
                             now=ctx.now())
        data = {"id": made.id, "name": made.name}
    emit(data, as_json, lambda: click.echo(f"direction {data['id']} «{data['name']}» added"))
