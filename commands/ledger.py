"""The ledger's command line: everything a manager can set, scriptable, with
`--json` for other tools. `commands` mounts these beside the app's own and hands
them a session factory and a clock through the click context; the ledger
package itself holds only the rules."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.balance import balance as period_balance
from ledger.contracts import (
    POLICY_FIELDS,
    LedgerError,
    Policies,
    active_contract,
    add_account,
    add_team_member,
    adjust,
    advance_stage,
    close_due,
    create_portal,
    current_stage,
    finish_project,
    mark_stage_paid,
    set_retainer,
    set_staged,
    set_time_zone,
    set_upfront,
    stages_of,
)
from ledger.hours import format_hm, parse_hours
from ledger.models import Account, AccountBinding, Contract, Portal, TeamMember
from ledger.periods import contract_at, term_for
from ledger.verify import verify


# Ids and prices are 64-bit integers in the database; a bigger number is a typo
# and must be refused here, not overflow in the driver.
MAX_ID = 2**63 - 1
MAX_MINOR = 10**15  # ten trillion in major units


@dataclass
class CliContext:
    sessions: Callable[[], Session]
    now: Callable[[], datetime]


@contextmanager
def transaction(ctx: CliContext) -> Iterator[Session]:
    """One transaction per command; a LedgerError rolls back and becomes a
    clean error message (exit 1), never a traceback."""
    session = ctx.sessions()
    try:
        with session.begin():
            yield session
    except LedgerError as err:
        raise click.ClickException(str(err)) from None
    finally:
        session.close()


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    else:
        human()


class Hours(click.ParamType):
    """Hours as people write them ("40", "1.5", "1:30", "90m") → seconds."""

    name = "hours"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_hours(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


class Money(click.ParamType):
    """A price in major units ("80000", "80 000,50") → integer minor units."""

    name = "money"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        from decimal import Decimal, InvalidOperation

        if isinstance(value, int):
            return value
        text = str(value).replace(" ", "").replace("\u00a0", "").replace(",", ".")
        try:
            amount = Decimal(text) * 100
        except InvalidOperation:
            self.fail(f"not an amount: {value!r}", param, ctx)
        if not amount.is_finite() or amount < 0 or amount != amount.to_integral_value():
            self.fail(f"not an amount: {value!r}", param, ctx)
        if amount > MAX_MINOR:
            self.fail(f"amount too large: {value!r}", param, ctx)
        return int(amount)


class Rounding(click.ParamType):
    """`none`, or MODE:STEP such as `up:15m`."""

    name = "rounding"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        if value == "none":
            return ("none", 0)
        mode, _, step = str(value).partition(":")
        if mode not in ("up", "down", "nearest") or not step:
            self.fail("rounding is none, or up|down|nearest:STEP (e.g. up:15m)", param, ctx)
        try:
            step_s = parse_hours(step if step[-1:].isalpha() else step + "m")
        except ValueError as err:
            self.fail(str(err), param, ctx)
        if step_s <= 0:
            self.fail("rounding step must be positive", param, ctx)
        return (mode, step_s)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value}") from None


def _portal(session: Session, portal_id: int | None) -> Portal:
    if portal_id is not None:
        portal = session.get(Portal, portal_id) if 0 < portal_id <= MAX_ID else None
        if portal is None:
            raise LedgerError(f"no portal {portal_id}")
        return portal
    portals = list(session.execute(select(Portal).order_by(Portal.id)).scalars())
    if len(portals) == 1:
        return portals[0]
    if not portals:
        raise LedgerError("no portal yet: add one with `portal add` or `account add`")
    raise LedgerError("several portals: name one with --portal")


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id) if 0 < account_id <= MAX_ID else None
    if account is None:
        raise LedgerError(f"no account {account_id}")
    return account


def _contract(session: Session, account: Account, now: datetime) -> Contract:
    portal = session.get(Portal, account.portal_id)
    found = contract_at(session, account.id, cal.local_date(now, portal.time_zone))
    if found is None:
        raise LedgerError(f"account {account.id} has no running contract")
    return found


def register(group: click.Group) -> None:
    for command in (portal, account, contract, team, adjust_cmd, close_periods, ledger):
        group.add_command(command)


# ---------------------------------------------------------------- portal


@click.group(help="Portals: Bitrix24 installations (one per member_id).")
def portal() -> None:
    pass


@portal.command("add")
@click.option("--member-id", required=True)
@click.option("--domain", required=True)
@click.option("--tz", "time_zone", default="Europe/Moscow", show_default=True)
@click.option("--integrator", is_flag=True, help="Each CRM company is an account.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def portal_add(ctx: CliContext, member_id: str, domain: str, time_zone: str, integrator: bool, as_json: bool) -> None:
    with transaction(ctx) as s:
        if s.execute(select(Portal.id).where(Portal.member_id == member_id)).first():
            raise LedgerError(f"portal {member_id} exists already")
        p = create_portal(s, member_id, domain, time_zone, "integrator" if integrator else "client", actor="cli")
        data = {"id": p.id, "member_id": p.member_id, "domain": p.domain, "time_zone": p.time_zone, "mode": p.mode}
    emit(data, as_json, lambda: click.echo(f"portal {data['id']}: {domain} ({data['mode']}, {time_zone})"))


@portal.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def portal_list(ctx: CliContext, as_json: bool) -> None:
    with transaction(ctx) as s:
        data = [{"id": p.id, "member_id": p.member_id, "domain": p.domain, "time_zone": p.time_zone,
                 "mode": p.mode, "active": p.active}
                for p in s.execute(select(Portal).order_by(Portal.id)).scalars()]
    emit(data, as_json, lambda: [click.echo(f"{p['id']:>4}  {p['domain']}  {p['mode']}  {p['time_zone']}") for p in data])


@portal.command("set-tz")
@click.argument("time_zone")
@click.option("--portal", "portal_id", type=int)
@click.pass_obj
def portal_set_tz(ctx: CliContext, time_zone: str, portal_id: int | None) -> None:
    with transaction(ctx) as s:
        set_time_zone(s, _portal(s, portal_id), time_zone, actor="cli")
    click.echo(f"time zone: {time_zone}")


# ---------------------------------------------------------------- account


@click.group(help="Accounts: the clients whose hours are counted.")
def account() -> None:
    pass


@account.command("add")
@click.option("--name", required=True)
@click.option("--portal", "portal_id", type=int)
@click.option("--company", "company_id", type=click.IntRange(1, MAX_ID), help="CRM company whose tasks count here.")
@click.option("--group", "group_ids", type=click.IntRange(1, MAX_ID), multiple=True, help="Workgroup whose tasks count here.")
@click.option("--lang", "language", type=click.Choice(["ru", "en"]), default="ru", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def account_add(ctx: CliContext, name: str, portal_id: int | None, company_id: int | None,
                group_ids: tuple[int, ...], language: str, as_json: bool) -> None:
    with transaction(ctx) as s:
        if portal_id is None and s.execute(select(Portal.id).limit(1)).first() is None:
            mode = "integrator" if company_id is not None or group_ids else "client"
            p = create_portal(s, "local", "localhost", mode=mode, actor="cli")
        else:
            p = _portal(s, portal_id)
        if p.mode == "client" and s.execute(select(Account.id).where(Account.portal_id == p.id)).first():
            raise LedgerError("a client's portal is one account; add accounts to an integrator's portal")
        a = add_account(s, p, name, company_id=company_id, group_ids=group_ids, language=language,
                        actor="cli", now=ctx.now())
        data = {"id": a.id, "portal_id": p.id, "name": a.name}
    emit(data, as_json, lambda: click.echo(f"account {data['id']}: {name}"))


@account.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def account_list(ctx: CliContext, as_json: bool) -> None:
    now = ctx.now()
    with transaction(ctx) as s:
        data = []
        for a in s.execute(select(Account).order_by(Account.id)).scalars():
            p = s.get(Portal, a.portal_id)
            c = contract_at(s, a.id, cal.local_date(now, p.time_zone))
            bindings = s.execute(select(AccountBinding).where(AccountBinding.account_id == a.id)).scalars()
            b = period_balance(s, a.id, now)
            data.append({
                "id": a.id, "portal_id": a.portal_id, "name": a.name,
                "contract": c.kind if c else None,
                "bindings": [{"kind": x.kind, "ref_id": x.ref_id} for x in bindings],
                "remaining_s": b.terms.remaining_s if b else None,
                "overage_s": b.terms.overage_s if b else None,
            })

    def human() -> None:
        for row in data:
            left = "—" if row["remaining_s"] is None else (
                f"overage {format_hm(row['overage_s'])}" if row["overage_s"] else f"left {format_hm(row['remaining_s'])}")
            click.echo(f"{row['id']:>4}  {row['name']:<32} {row['contract'] or '—':<9} {left}")

    emit(data, as_json, human)


# ---------------------------------------------------------------- contract


def _policies(base: Policies, expiry: str | None, cap: int | None, max_age: int | None, overage: str | None,
              rounding: tuple[str, int] | None) -> Policies:
    """`base` with the options that were given; an option left out keeps its value."""
    given = {"expiry_policy": expiry, "rollover_cap_s": cap, "rollover_max_age_months": max_age,
             "overage_policy": overage}
    if rounding is not None:
        given.update(rounding_mode=rounding[0], rounding_step_s=rounding[1])
    return replace(base, **{k: v for k, v in given.items() if v is not None})


@click.group(help="Contracts: what an account bought.")
def contract() -> None:
    pass


@contract.command("set")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--retainer", "retainer_s", type=Hours(), help="Hours per month (20, 40, 80, 120 or any).")
@click.option("--stage", "stages", multiple=True, metavar="NAME:HOURS[:PRICE]", help="A stage, in order (staged).")
@click.option("--upfront", "upfront_s", type=Hours(), help="Hours for the whole project.")
@click.option("--price", "price_minor", type=Money(),
              help="Monthly (retainer) or total (upfront) price [default: 0; a tariff change keeps the current one].")
@click.option("--start", "starts_on", help="YYYY-MM-DD; a retainer's tariff change needs none (next month).")
@click.option("--expiry", type=click.Choice(["burn", "rollover"]),
              help="[default: burn; a tariff change keeps the current policy, as for every policy option]")
@click.option("--rollover-cap", "cap_s", type=Hours(), help="Most hours carried to the next month.")
@click.option("--rollover-max-age", "max_age", type=click.IntRange(min=1), help="Months carried hours live.")
@click.option("--overage", type=click.Choice(["bill", "deduct"]), help="[default: bill]")
@click.option("--rounding", type=Rounding(), help="none, or up|down|nearest:STEP [default: none]")
@click.option("--title", default="")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def contract_set(ctx: CliContext, account_id: int, retainer_s: int | None, stages: tuple[str, ...],
                 upfront_s: int | None, price_minor: int | None, starts_on: str | None, expiry: str | None,
                 cap_s: int | None, max_age: int | None, overage: str | None, rounding: tuple[str, int] | None,
                 title: str, as_json: bool) -> None:
    kinds = [k for k, v in (("retainer", retainer_s), ("staged", stages), ("upfront", upfront_s)) if v]
    if len(kinds) != 1:
        raise click.UsageError("give exactly one of --retainer, --stage (repeatable) or --upfront")
    start = _date(starts_on)
    now = ctx.now()
    with transaction(ctx) as s:
        a = _account(s, account_id)
        base, current_price = Policies(), 0
        running = active_contract(s, a, now) if kinds == ["retainer"] else None
        if running is not None and running.kind == "retainer" and start in (None, running.starts_on):
            # A tariff change (set_retainer's own test): what is not given stays as it is.
            base = Policies(**{f: getattr(running, f) for f in POLICY_FIELDS})
            latest = term_for(s, running.id, date.max)
            current_price = latest.price_minor if latest else 0
        policies = _policies(base, expiry, cap_s, max_age, overage, rounding)
        price_minor = current_price if price_minor is None else price_minor
        if kinds == ["retainer"]:
            c = set_retainer(s, a, hours_s=retainer_s, price_minor=price_minor, starts_on=start,
                             policies=policies, title=title, actor="cli", now=now)
        elif kinds == ["upfront"]:
            c = set_upfront(s, a, budget_s=upfront_s, price_minor=price_minor, starts_on=start,
                            policies=policies, title=title, actor="cli", now=now)
        else:
            parsed = []
            for spec in stages:
                parts = spec.rsplit(":", 2) if spec.count(":") >= 2 else spec.rsplit(":", 1)
                if len(parts) < 2:
                    raise LedgerError(f"a stage is NAME:HOURS[:PRICE], got {spec!r}")
                try:
                    budget = parse_hours(parts[1])
                    price = Money().convert(parts[2], None, None) if len(parts) > 2 else 0
                except (ValueError, click.BadParameter) as err:
                    raise LedgerError(f"stage {spec!r}: {err}") from None
                parsed.append((parts[0], budget, price))
            c = set_staged(s, a, stages=parsed, starts_on=start, policies=policies, title=title,
                           actor="cli", now=now)
        data = {"id": c.id, "account_id": a.id, "kind": c.kind, "starts_on": c.starts_on.isoformat()}
    emit(data, as_json, lambda: click.echo(f"contract {data['id']}: {data['kind']} from {data['starts_on']}"))


@contract.command("advance")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--next-from", help="The day the next stage began (YYYY-MM-DD, the portal's zone); default: now.")
@click.pass_obj
def contract_advance(ctx: CliContext, account_id: int, next_from: str | None) -> None:
    """Finish the current stage and start the next."""
    with transaction(ctx) as s:
        a = _account(s, account_id)
        day = _date(next_from)
        ends_at = cal.local_midnight(day, s.get(Portal, a.portal_id).time_zone) if day else None
        nxt = advance_stage(s, _contract(s, a, ctx.now()), actor="cli", now=ctx.now(), ends_at=ends_at)
        name = nxt.name if nxt else None
    click.echo(f"now in stage: {name}" if name else "all stages finished")


@contract.command("stage-paid")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--stage", "position", type=int, help="Stage number (default: the current one).")
@click.option("--unpaid", is_flag=True)
@click.pass_obj
def contract_stage_paid(ctx: CliContext, account_id: int, position: int | None, unpaid: bool) -> None:
    with transaction(ctx) as s:
        c = _contract(s, _account(s, account_id), ctx.now())
        all_stages = stages_of(s, c)
        if position is None:
            found = current_stage(s, c)
            if found is None:
                raise LedgerError("no stage is in progress")
            stage = found[0]
        else:
            matches = [st for st in all_stages if st.position == position]
            if not matches:
                raise LedgerError(f"no stage {position}")
            stage = matches[0]
        mark_stage_paid(s, stage, not unpaid, actor="cli", now=ctx.now())
        label = stage.name
    click.echo(f"stage {label}: {'unpaid' if unpaid else 'paid'}")


@contract.command("finish")
@click.option("--account", "account_id", type=int, required=True)
@click.pass_obj
def contract_finish(ctx: CliContext, account_id: int) -> None:
    """End an upfront project now."""
    with transaction(ctx) as s:
        finish_project(s, _contract(s, _account(s, account_id), ctx.now()), actor="cli", now=ctx.now())
    click.echo("project finished")


# ---------------------------------------------------------------- team


@click.group(help="Team: the staff whose time is debited.")
def team() -> None:
    pass


@team.command("add")
@click.option("--user", "user_id", type=click.IntRange(1, MAX_ID), required=True, help="Portal user ID.")
@click.option("--name", default="")
@click.option("--role", default="specialist", show_default=True)
@click.option("--account", "account_id", type=int, help="Only for this account (default: all).")
@click.option("--portal", "portal_id", type=int)
@click.option("--from", "active_from")
@click.option("--until", "active_until")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def team_add(ctx: CliContext, user_id: int, name: str, role: str, account_id: int | None,
             portal_id: int | None, active_from: str | None, active_until: str | None, as_json: bool) -> None:
    with transaction(ctx) as s:
        a = _account(s, account_id) if account_id is not None else None
        p = s.get(Portal, a.portal_id) if a else _portal(s, portal_id)
        m = add_team_member(s, p, user_id, name=name, role=role, account=a, active_from=_date(active_from),
                            active_until=_date(active_until), actor="cli", now=ctx.now())
        data = {"id": m.id, "user_id": m.user_id, "role": m.role, "account_id": m.account_id}
    emit(data, as_json, lambda: click.echo(f"team member {user_id} ({role})"))


@team.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def team_list(ctx: CliContext, as_json: bool) -> None:
    with transaction(ctx) as s:
        data = [{"id": m.id, "portal_id": m.portal_id, "account_id": m.account_id, "user_id": m.user_id,
                 "name": m.name, "role": m.role}
                for m in s.execute(select(TeamMember).order_by(TeamMember.id)).scalars()]
    emit(data, as_json, lambda: [click.echo(f"{m['user_id']:>6}  {m['name']:<24} {m['role']}") for m in data])


# ---------------------------------------------------------------- adjust


@click.command("adjust", help="Add (or with a minus, take) hours in the current period, with a reason.")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--hours", "amount_s", type=Hours(), required=True)
@click.option("--reason", required=True)
@click.option("--author", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def adjust_cmd(ctx: CliContext, account_id: int, amount_s: int, reason: str, author: str, as_json: bool) -> None:
    with transaction(ctx) as s:
        adj = adjust(s, _account(s, account_id), amount_s, reason=reason, author=author, now=ctx.now())
        data = {"id": adj.id, "amount_s": adj.amount_s, "period_id": adj.period_id}
    emit(data, as_json, lambda: click.echo(f"adjusted {format_hm(amount_s)}: {reason}"))


# ---------------------------------------------------------------- close


@click.command("close-periods", help="Close every period whose end has passed (burn or roll over).")
@click.option("--dry-run", is_flag=True, help="Show what would close; write nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def close_periods(ctx: CliContext, dry_run: bool, as_json: bool) -> None:
    def progress(n: int) -> None:
        if not as_json and n % 50 == 0:
            click.echo(f"… {n} periods", err=True)

    with transaction(ctx) as s:
        run = close_due(s, ctx.now(), dry_run=dry_run, progress=progress)
        data = {
            "dry_run": dry_run,
            "closed": [{"period_id": p.period_id, "period": p.label, "burned_s": p.burned_s,
                        "carried_s": p.carried_s, "overage_s": p.overage_s} for p in run.closed],
        }

    def human() -> None:
        verb = "would close" if dry_run else "closed"
        for p in data["closed"]:
            click.echo(f"{verb} {p['period']}: burned {format_hm(p['burned_s'])}, "
                       f"carried {format_hm(p['carried_s'])}, overage {format_hm(p['overage_s'])}")
        click.echo(f"{len(data['closed'])} period(s) {verb}")

    emit(data, as_json, human)


# ---------------------------------------------------------------- ledger


@click.group(help="Balances and checks.")
def ledger() -> None:
    pass


@ledger.command("balance")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--period", help="YYYY-MM (default: the current period).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ledger_balance(ctx: CliContext, account_id: int, period: str | None, as_json: bool) -> None:
    if period is not None:
        try:
            cal.parse_month(period)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--period") from None
    with transaction(ctx) as s:
        a = _account(s, account_id)
        b = period_balance(s, a.id, ctx.now(), period)
        if b is None:
            raise LedgerError(f"account {account_id} has no period {period or 'now'}")
        data = {"account": a.name, **b.as_dict()}

    def human() -> None:
        click.echo(f"{data['account']} — {data['period']} ({data['status']})")
        for key in ("allocation_s", "rollover_in_s", "stage_budget_s", "adjustment_s", "consumption_s",
                    "expiry_s", "rollover_out_s", "overage_billed_s", "overage_carried_s",
                    "overage_deducted_s", "remaining_s", "overage_s"):
            if data[key] or key in ("remaining_s", "consumption_s"):
                click.echo(f"  {key[:-2]:<18} {format_hm(data[key]):>9}")

    emit(data, as_json, human)


@ledger.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ledger_verify(ctx: CliContext, as_json: bool) -> None:
    """Recompute running totals from postings and check every rule; exit 1 on any difference."""
    with transaction(ctx) as s:
        if not as_json:
            click.echo("checking totals, closed periods and entries …", err=True)
        problems = verify(s)
    data = {"ok": not problems, "problems": [str(p) for p in problems]}
    emit(data, as_json, lambda: click.echo("ok: no differences" if not problems else "\n".join(data["problems"])))
    if problems:
        sys.exit(1)


def now_option(value: str | None) -> Callable[[], datetime]:
    """The clock for commands: real time, or a fixed instant (`--now`) for
    scripts that replay history."""
    if not value:
        return lambda: datetime.now(timezone.utc)
    try:
        fixed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"--now is not an ISO 8601 instant: {value}") from None
    if fixed.tzinfo is None:
        raise click.BadParameter("--now needs an offset, e.g. 2026-11-30T21:00:00+00:00")
    return lambda: fixed
