"""The command line (`python app.py …`), end to end through `commands.cli`.

Every command runs against a fresh SQLite file under tmp_path (DATABASE_URL
and INSTANCE_PATH in the environment, which `settings.load` reads) and a
fixed clock (`--now`). Bad input must end with a clear message and a
non-zero exit, never a traceback, and must leave every table as it was.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select, text

import app
import commands
from ledger.models import Base

H = 3600
NOW = "2026-03-10T09:00:00+00:00"  # 12:00 in Moscow, the default portal zone
APRIL = "2026-04-01T00:00:00+00:00"  # 03:00 on 1 April in Moscow: March has ended
TERMS = ("allocation_s", "rollover_in_s", "stage_budget_s", "adjustment_s", "consumption_s",
         "expiry_s", "remaining_s", "overage_s")


class Hourbook:
    """`commands.cli` on one temporary database, with a fixed clock."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "x.db"
        self.runner = CliRunner()

    def run(self, *args: str, now: str | None = NOW) -> Result:
        argv = (["--now", now] if now else []) + list(args)
        return self.runner.invoke(commands.cli, argv)

    def ok(self, *args: str, now: str | None = NOW) -> Result:
        result = self.run(*args, now=now)
        assert result.exit_code == 0, result.output
        assert result.exception is None
        return result

    def json(self, *args: str, now: str | None = NOW) -> object:
        return json.loads(self.ok(*args, "--json", now=now).stdout)

    def fails(self, *args: str, now: str | None = NOW) -> Result:
        """Run a command that must be refused cleanly and write nothing."""
        before = self.counts()
        result = self.run(*args, now=now)
        assert result.exit_code != 0, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        assert "Error" in result.output
        assert self.counts() == before
        return result

    def counts(self) -> dict[str, int]:
        """Rows in every table of the ledger."""
        engine = create_engine(f"sqlite:///{self.db}")
        try:
            with engine.connect() as conn:
                return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                        for t in Base.metadata.sorted_tables}
        finally:
            engine.dispose()

    def sql(self, statement: str, **params: object) -> list:
        engine = create_engine(f"sqlite:///{self.db}")
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()

    def balance(self, account: int, period: str | None = None, now: str | None = NOW) -> dict:
        args = ["ledger", "balance", "--account", str(account)] + (["--period", period] if period else [])
        return self.json(*args, now=now)

    def retainer(self, *options: str, hours: str = "40") -> int:
        """A client's account on a running retainer; returns its id."""
        account = self.json("account", "add", "--name", "ООО «Ромашка»")["id"]
        self.ok("contract", "set", "--account", str(account), "--retainer", hours, *options)
        return account


@pytest.fixture
def hb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    for name in ("SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    # Each command builds its own app and engine; dispose of them after the
    # test so SQLite files are not left open.
    apps = []
    real_create_app = app.create_app

    def create_app(config=None):
        apps.append(real_create_app(config))
        return apps[-1]

    monkeypatch.setattr(app, "create_app", create_app)
    yield Hourbook(tmp_path)
    for built in apps:
        built.extensions["hourbook"].engine.dispose()


# ---------------------------------------------------------------- portal


def test_portal_add_and_list(hb: Hourbook):
    added = hb.json("portal", "add", "--member-id", "m1", "--domain", "romashka.bitrix24.ru")
    assert added == {"id": 1, "member_id": "m1", "domain": "romashka.bitrix24.ru",
                     "time_zone": "Europe/Moscow", "mode": "client"}
    hb.ok("portal", "add", "--member-id", "m2", "--domain", "agency.bitrix24.ru",
          "--tz", "Asia/Novosibirsk", "--integrator")
    listed = hb.json("portal", "list")
    assert [(p["domain"], p["mode"], p["time_zone"], p["active"]) for p in listed] == [
        ("romashka.bitrix24.ru", "client", "Europe/Moscow", True),
        ("agency.bitrix24.ru", "integrator", "Asia/Novosibirsk", True),
    ]


def test_portal_set_tz_with_one_portal_needs_no_portal_option(hb: Hourbook):
    hb.ok("portal", "add", "--member-id", "m1", "--domain", "a.bitrix24.ru")
    assert "Asia/Yekaterinburg" in hb.ok("portal", "set-tz", "Asia/Yekaterinburg").output
    assert hb.json("portal", "list")[0]["time_zone"] == "Asia/Yekaterinburg"


def test_portal_set_tz_names_the_portal_when_there_are_several(hb: Hourbook):
    hb.ok("portal", "add", "--member-id", "m1", "--domain", "a.bitrix24.ru")
    hb.ok("portal", "add", "--member-id", "m2", "--domain", "b.bitrix24.ru")
    assert "--portal" in hb.fails("portal", "set-tz", "Europe/Samara").output
    hb.ok("portal", "set-tz", "Europe/Samara", "--portal", "2")
    assert [p["time_zone"] for p in hb.json("portal", "list")] == ["Europe/Moscow", "Europe/Samara"]


def test_portal_add_refuses_a_member_id_already_installed(hb: Hourbook):
    """A second install under the same member_id is a clean error, not an IntegrityError."""
    hb.ok("portal", "add", "--member-id", "m1", "--domain", "a.bitrix24.ru")
    assert "m1" in hb.fails("portal", "add", "--member-id", "m1", "--domain", "a.bitrix24.ru").output


# ---------------------------------------------------------------- account


def test_account_add_creates_a_client_portal_for_the_first_account(hb: Hourbook):
    added = hb.json("account", "add", "--name", "ООО «Ромашка»")
    assert added == {"id": 1, "portal_id": 1, "name": "ООО «Ромашка»"}
    assert [p["mode"] for p in hb.json("portal", "list")] == ["client"]


def test_client_portal_holds_only_one_account(hb: Hourbook):
    hb.ok("account", "add", "--name", "ООО «Ромашка»")
    assert "one account" in hb.fails("account", "add", "--name", "ООО «Лютик»").output


def test_account_with_company_creates_an_integrator_portal_and_binds_it(hb: Hourbook):
    first = hb.json("account", "add", "--name", "Ромашка", "--company", "5", "--group", "11", "--group", "12")
    second = hb.json("account", "add", "--name", "Лютик", "--portal", "1", "--company", "6")
    assert hb.json("portal", "list")[0]["mode"] == "integrator"
    listed = {a["id"]: a for a in hb.json("account", "list")}
    assert listed[first["id"]]["bindings"] == [{"kind": "company", "ref_id": 5}, {"kind": "group", "ref_id": 11},
                                               {"kind": "group", "ref_id": 12}]
    assert listed[second["id"]]["bindings"] == [{"kind": "company", "ref_id": 6}]


def test_a_company_belongs_to_one_account(hb: Hourbook):
    hb.ok("account", "add", "--name", "Ромашка", "--company", "5")
    assert "company 5" in hb.fails("account", "add", "--name", "Лютик", "--portal", "1", "--company", "5").output


def test_account_list_shows_contract_and_what_is_left(hb: Hourbook):
    account = hb.retainer(hours="40")
    row = hb.json("account", "list")[0]
    assert row["id"] == account
    assert (row["contract"], row["remaining_s"], row["overage_s"]) == ("retainer", 40 * H, 0)
    assert "left 40:00" in hb.ok("account", "list").output


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("hours,seconds", [("40", 40 * H), ("1.5", 90 * 60), ("1:30", 90 * 60)])
def test_retainer_hours_as_people_write_them(hb: Hourbook, hours: str, seconds: int):
    account = hb.retainer(hours=hours)
    b = hb.balance(account)
    assert (b["period"], b["kind"], b["status"]) == ("2026-03", "month", "open")
    assert b["allocation_s"] == b["remaining_s"] == seconds


def test_retainer_policies_are_stored(hb: Hourbook):
    hb.retainer("--expiry", "rollover", "--rollover-cap", "10", "--rollover-max-age", "2",
                "--overage", "deduct", "--rounding", "up:15m")
    assert hb.sql("SELECT expiry_policy, rollover_cap_s, rollover_max_age_months, overage_policy, "
                  "rounding_mode, rounding_step_s FROM contracts") == [("rollover", 10 * H, 2, "deduct", "up", 900)]


def test_rollover_policy_carries_at_most_the_cap(hb: Hourbook):
    account = hb.retainer("--expiry", "rollover", "--rollover-cap", "10")
    closed = hb.json("close-periods", now=APRIL)["closed"]
    assert [(p["period"], p["carried_s"], p["burned_s"]) for p in closed] == [("2026-03", 10 * H, 30 * H)]
    april = hb.balance(account, "2026-04", now=APRIL)
    assert (april["allocation_s"], april["rollover_in_s"], april["remaining_s"]) == (40 * H, 10 * H, 50 * H)


def test_tariff_change_takes_effect_next_month(hb: Hourbook):
    account = hb.retainer(hours="40")
    hb.ok("contract", "set", "--account", str(account), "--retainer", "80")
    assert hb.balance(account)["allocation_s"] == 40 * H
    hb.ok("close-periods", now=APRIL)
    march = hb.balance(account, "2026-03", now=APRIL)
    april = hb.balance(account, "2026-04", now=APRIL)
    assert (march["status"], march["allocation_s"], march["expiry_s"]) == ("closed", 40 * H, 40 * H)
    assert (april["status"], april["allocation_s"]) == ("open", 80 * H)


def test_tariff_change_keeps_policies_and_price_not_given(hb: Hourbook):
    """Changing only the hours must not silently reset rollover to burn or the price to 0."""
    account = hb.retainer("--price", "80000", "--expiry", "rollover", "--rollover-cap", "10", "--overage", "deduct")
    hb.ok("contract", "set", "--account", str(account), "--retainer", "80")
    assert hb.sql("SELECT expiry_policy, rollover_cap_s, overage_policy FROM contracts") == [
        ("rollover", 10 * H, "deduct")]
    assert hb.sql("SELECT effective_on, hours_s, price_minor FROM contract_terms ORDER BY effective_on") == [
        ("2026-03-10", 40 * H, 80_000_00), ("2026-04-01", 80 * H, 80_000_00)]
    hb.ok("contract", "set", "--account", str(account), "--retainer", "80", "--price", "150000", "--expiry", "burn")
    assert hb.sql("SELECT expiry_policy, rollover_cap_s FROM contracts") == [("burn", 10 * H)]
    assert hb.sql("SELECT price_minor FROM contract_terms WHERE effective_on = '2026-04-01'") == [(150_000_00,)]


def test_staged_contract_from_repeated_stage_options(hb: Hourbook):
    account = hb.json("account", "add", "--name", "Внедрение")["id"]
    made = hb.json("contract", "set", "--account", str(account), "--stage", "Аудит:10:50000",
                   "--stage", "Настройка:1.5", "--stage", "Обучение:8:40 000")
    assert (made["kind"], made["starts_on"]) == ("staged", "2026-03-10")
    assert hb.sql("SELECT position, name, budget_s, price_minor, paid FROM stages ORDER BY position") == [
        (1, "Аудит", 10 * H, 50_000_00, 0), (2, "Настройка", 90 * 60, 0, 0), (3, "Обучение", 8 * H, 40_000_00, 0)]
    b = hb.balance(account)
    assert (b["kind"], b["stage_budget_s"], b["allocation_s"], b["remaining_s"]) == ("stage", 10 * H, 0, 10 * H)


def test_contract_advance_walks_through_the_stages(hb: Hourbook):
    account = hb.json("account", "add", "--name", "Внедрение")["id"]
    hb.ok("contract", "set", "--account", str(account), "--stage", "Аудит:10", "--stage", "Настройка:30")
    assert "Настройка" in hb.ok("contract", "advance", "--account", str(account)).output
    b = hb.balance(account)
    assert (b["stage_budget_s"], b["remaining_s"]) == (30 * H, 30 * H)
    # `ledger balance --period` takes months only, so the closed stage is read from its rows.
    assert hb.sql("SELECT label, status FROM periods ORDER BY id") == [("stage:1", "closed"), ("stage:2", "open")]
    assert hb.sql("SELECT amount_s FROM postings WHERE kind = 'expiry'") == [(-10 * H,)]
    assert "all stages finished" in hb.ok("contract", "advance", "--account", str(account)).output
    assert "no running contract" in hb.fails("contract", "advance", "--account", str(account)).output


def test_contract_advance_as_of_the_day_the_next_stage_began(hb: Hourbook):
    account = str(hb.json("account", "add", "--name", "Внедрение")["id"])
    hb.ok("contract", "set", "--account", account, "--stage", "Аудит:10", "--stage", "Настройка:30",
          "--start", "2026-03-01")
    assert "in the future" in hb.fails("contract", "advance", "--account", account, "--next-from", "2026-03-11").output
    assert "before it began" in hb.fails("contract", "advance", "--account", account,
                                         "--next-from", "2026-02-27").output
    assert "Настройка" in hb.ok("contract", "advance", "--account", account, "--next-from", "2026-03-05").output
    ends, closed = hb.sql("SELECT ends_at, closed_at FROM periods WHERE label = 'stage:1'")[0]
    assert str(ends).startswith("2026-03-04 21:00") and str(closed).startswith("2026-03-10 09:00")  # Moscow


def test_contract_stage_paid_marks_the_current_or_a_numbered_stage(hb: Hourbook):
    account = str(hb.json("account", "add", "--name", "Внедрение")["id"])
    hb.ok("contract", "set", "--account", account, "--stage", "Аудит:10", "--stage", "Настройка:30")
    assert "Аудит: paid" in hb.ok("contract", "stage-paid", "--account", account).output
    hb.ok("contract", "stage-paid", "--account", account, "--stage", "2")
    assert hb.sql("SELECT position, paid FROM stages ORDER BY position") == [(1, 1), (2, 1)]
    assert "unpaid" in hb.ok("contract", "stage-paid", "--account", account, "--stage", "2", "--unpaid").output
    assert hb.sql("SELECT position, paid, paid_at IS NULL FROM stages ORDER BY position") == [(1, 1, 0), (2, 0, 1)]
    assert "no stage 9" in hb.fails("contract", "stage-paid", "--account", account, "--stage", "9").output


def test_upfront_project_and_contract_finish(hb: Hourbook):
    account = str(hb.json("account", "add", "--name", "Проект")["id"])
    made = hb.json("contract", "set", "--account", account, "--upfront", "100", "--price", "250000")
    b = hb.balance(int(account))
    assert (b["kind"], b["period"], b["allocation_s"], b["ends_at"]) == ("project", f"project:{made['id']}", 100 * H,
                                                                          None)
    hb.ok("adjust", "--account", account, "--hours", "-30", "--reason", "часть бюджета на другой проект")
    assert "finished" in hb.ok("contract", "finish", "--account", account).output
    assert hb.sql("SELECT label, status FROM periods") == [(f"project:{made['id']}", "closed")]
    assert hb.sql("SELECT amount_s FROM postings WHERE kind = 'expiry'") == [(-70 * H,)]
    assert "no period now" in hb.fails("ledger", "balance", "--account", account).output
    assert "no running contract" in hb.fails("contract", "finish", "--account", account).output


def test_advance_and_finish_refuse_a_retainer(hb: Hourbook):
    account = str(hb.retainer())
    assert "staged" in hb.fails("contract", "advance", "--account", account).output
    assert "upfront" in hb.fails("contract", "finish", "--account", account).output
    assert "no stage" in hb.fails("contract", "stage-paid", "--account", account).output


# ---------------------------------------------------------------- team


def test_team_add_and_list(hb: Hourbook):
    account = hb.retainer()
    everyone = hb.json("team", "add", "--user", "101", "--name", "Анна Петрова", "--role", "руководитель проекта")
    assert everyone == {"id": 1, "user_id": 101, "role": "руководитель проекта", "account_id": None}
    hb.ok("team", "add", "--user", "102", "--account", str(account), "--from", "2026-03-01", "--until", "2026-12-31")
    assert [(m["user_id"], m["name"], m["role"], m["account_id"]) for m in hb.json("team", "list")] == [
        (101, "Анна Петрова", "руководитель проекта", None), (102, "", "specialist", account)]
    assert hb.sql("SELECT active_from, active_until FROM team_members WHERE user_id = 102") == [
        ("2026-03-01", "2026-12-31")]


# ---------------------------------------------------------------- adjust


def test_adjust_adds_hours_with_a_reason(hb: Hourbook):
    account = hb.retainer()
    made = hb.json("adjust", "--account", str(account), "--hours", "2", "--reason", "Бонус за задержку",
                   "--author", "Мария")
    assert made["amount_s"] == 2 * H
    b = hb.balance(account)
    assert (b["adjustment_s"], b["remaining_s"]) == (2 * H, 42 * H)
    assert hb.sql("SELECT kind, amount_s, author, reason FROM postings WHERE kind = 'adjustment'") == [
        ("adjustment", 2 * H, "Мария", "Бонус за задержку")]


@pytest.mark.parametrize("argv", [["--hours=-1"], ["--hours", "-1"], ["--hours=-1:00"]])
def test_adjust_takes_hours_away_with_a_minus(hb: Hourbook, argv: list[str]):
    account = hb.retainer()
    hb.ok("adjust", "--account", str(account), *argv, "--reason", "ошибка в прошлом месяце")
    b = hb.balance(account)
    assert (b["adjustment_s"], b["remaining_s"]) == (-H, 39 * H)


# ---------------------------------------------------------------- close-periods


def test_close_periods_dry_run_reports_and_writes_nothing(hb: Hourbook):
    account = hb.retainer()
    before = hb.counts()
    report = hb.json("close-periods", "--dry-run", now=APRIL)
    assert report["dry_run"] is True
    assert [(p["period"], p["burned_s"]) for p in report["closed"]] == [("2026-03", 40 * H)]
    assert "would close 2026-03" in hb.ok("close-periods", "--dry-run", now=APRIL).output
    assert hb.counts() == before
    assert hb.balance(account, "2026-03", now=APRIL)["status"] == "open"


def test_close_periods_closes_once(hb: Hourbook):
    account = hb.retainer()
    first = hb.json("close-periods", now=APRIL)
    assert [(p["period"], p["burned_s"], p["carried_s"], p["overage_s"]) for p in first["closed"]] == [
        ("2026-03", 40 * H, 0, 0)]
    after_first = hb.counts()
    assert "0 period(s) closed" in hb.ok("close-periods", now=APRIL).output
    assert hb.json("close-periods", now=APRIL)["closed"] == []
    assert hb.counts() == after_first
    assert hb.balance(account, "2026-03", now=APRIL)["status"] == "closed"


def test_close_periods_does_nothing_before_the_month_ends(hb: Hourbook):
    hb.retainer()
    assert hb.json("close-periods", now="2026-03-31T20:59:59+00:00")["closed"] == []  # 23:59:59 in Moscow


# ---------------------------------------------------------------- ledger


def test_balance_json_gives_every_term_in_integer_seconds(hb: Hourbook):
    account = hb.retainer()
    b = hb.balance(account)
    for term in TERMS:
        assert type(b[term]) is int, term
    assert {k: b[k] for k in TERMS} == {"allocation_s": 40 * H, "rollover_in_s": 0, "stage_budget_s": 0,
                                        "adjustment_s": 0, "consumption_s": 0, "expiry_s": 0,
                                        "remaining_s": 40 * H, "overage_s": 0}


def test_overdrawn_balance_shows_overage_never_a_negative_remainder(hb: Hourbook):
    account = hb.retainer()
    hb.ok("adjust", "--account", str(account), "--hours=-50", "--reason", "перенос часов на другой договор")
    b = hb.balance(account)
    assert (b["remaining_s"], b["overage_s"]) == (0, 10 * H)
    human = hb.ok("ledger", "balance", "--account", str(account)).output
    assert "overage" in human and "10:00" in human


def test_balance_human_output_names_account_and_period(hb: Hourbook):
    account = hb.retainer()
    out = hb.ok("ledger", "balance", "--account", str(account)).output
    assert "ООО «Ромашка» — 2026-03 (open)" in out
    assert "allocation" in out and "40:00" in out


def test_ledger_verify_passes_on_a_consistent_ledger(hb: Hourbook):
    account = hb.retainer()
    hb.ok("adjust", "--account", str(account), "--hours", "2", "--reason", "бонус")
    hb.ok("close-periods", now=APRIL)
    assert "ok" in hb.ok("ledger", "verify").output
    assert hb.json("ledger", "verify") == {"ok": True, "problems": []}


def test_ledger_verify_reports_tampered_totals_and_exits_1(hb: Hourbook):
    account = hb.retainer()
    period_id = hb.balance(account)["period_id"]
    hb.sql("UPDATE period_totals SET allocation_s = allocation_s + 60 WHERE period_id = :p", p=period_id)
    result = hb.run("ledger", "verify")
    assert result.exit_code == 1
    assert f"period {period_id}" in result.output
    assert f"allocation: cached {40 * H + 60}, postings {40 * H}" in result.output
    assert "Traceback" not in result.output
    report = json.loads(hb.run("ledger", "verify", "--json").stdout)
    assert report["ok"] is False and len(report["problems"]) == 1


# ---------------------------------------------------------------- bad input


BAD_INPUT = [  # (argv, a phrase the message must contain)
    (["contract", "set", "--account", "9", "--retainer", "40"], "no account 9"),
    (["contract", "set", "--account", "99999999999999999999", "--retainer", "40"], "no account"),
    (["ledger", "balance", "--account", "9"], "no account 9"),
    (["adjust", "--account", "9", "--hours", "2", "--reason", "x"], "no account 9"),
    (["team", "add", "--user", "7", "--account", "9"], "no account 9"),
    (["team", "add", "--user", "7", "--portal", "9"], "no portal 9"),
    (["contract", "set", "--account", "1", "--retainer", "abc"], "cannot read duration"),
    (["contract", "set", "--account", "1", "--retainer", "1.00001"], "whole number of seconds"),
    (["contract", "set", "--account", "1", "--retainer", "1e400"], "--retainer"),
    (["contract", "set", "--account", "1", "--retainer=-5"], "positive"),
    (["contract", "set", "--account", "1", "--upfront", "99999999999999999999"], "--upfront"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--price", "1e30"], "--price"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--price", "-5"], "not an amount"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--upfront", "10"], "exactly one"),
    (["contract", "set", "--account", "1"], "exactly one"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--start", "2026-02-30"], "not a date"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--start", "yesterday"], "not a date"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--rounding", "sideways:15"], "rounding"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--rounding", "up:0"], "positive"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--rollover-max-age", "0"], "--rollover-max-age"),
    (["contract", "set", "--account", "1", "--retainer", "40", "--start", "2026-01-01"], "later contract"),
    (["contract", "set", "--account", "1", "--stage", "Аудит"], "NAME:HOURS"),
    (["contract", "set", "--account", "1", "--stage", "Аудит:abc"], "cannot read duration"),
    (["contract", "set", "--account", "1", "--stage", ":10"], "name"),
    (["adjust", "--account", "1", "--hours", "0", "--reason", "x"], "non-zero"),
    (["adjust", "--account", "1", "--hours", "abc", "--reason", "x"], "cannot read duration"),
    (["adjust", "--account", "1", "--hours", "2", "--reason", ""], "reason"),
    (["adjust", "--account", "1", "--hours", "2", "--reason", "   "], "reason"),
    (["adjust", "--account", "1", "--hours", "2", "--reason", "x", "--author", ""], "author"),
    (["adjust", "--account", "1", "--hours", "2"], "Missing option '--reason'"),
    (["adjust", "--account", "1", "--reason", "x"], "Missing option '--hours'"),
    (["adjust", "--hours", "2", "--reason", "x"], "Missing option '--account'"),
    (["ledger", "balance", "--account", "1", "--period", "2026-13"], "not a month"),
    (["ledger", "balance", "--account", "1", "--period", "March"], "not a month"),
    (["ledger", "balance", "--account", "1", "--period", "2025-01"], "no period 2025-01"),
    (["ledger", "balance"], "Missing option '--account'"),
    (["portal", "add", "--member-id", "m2", "--domain", "b.bitrix24.ru", "--tz", "Mars/Olympus"], "time zone"),
    (["portal", "add", "--domain", "b.bitrix24.ru"], "Missing option '--member-id'"),
    (["portal", "set-tz", "Nowhere/Zone"], "unknown time zone"),
    (["portal", "set-tz"], "Missing argument"),
    (["account", "add", "--name", "Q", "--portal", "1"], "one account"),
    (["account", "add", "--name", "Q", "--company", "99999999999999999999"], "--company"),
    (["account", "add", "--name", "Q", "--lang", "de"], "--lang"),
    (["account", "add"], "Missing option '--name'"),
    (["team", "add", "--user", "0"], "--user"),
    (["team", "add", "--user", "abc"], "--user"),
    (["team", "add", "--user", "99999999999999999999"], "--user"),
    (["team", "add", "--user", "7", "--from", "2026-99-01"], "not a date"),
    (["team", "add", "--user", "7", "--from", "2026-05-01", "--until", "2026-04-01"], "cannot end before"),
    (["contract", "advance"], "Missing option '--account'"),
    (["no-such-command"], "No such command"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUT, ids=[" ".join(a)[:60] for a, _ in BAD_INPUT])
def test_bad_input_is_refused_cleanly_and_changes_nothing(hb: Hourbook, argv: list[str], message: str):
    hb.retainer()  # account 1, client portal 1, retainer from 2026-03-10
    assert message in hb.fails(*argv).output


@pytest.mark.parametrize("now,message", [
    ("2026-03-10T09:00:00", "needs an offset"),
    ("garbage", "not an ISO 8601 instant"),
])
def test_bad_clock_is_refused_cleanly(hb: Hourbook, now: str, message: str):
    hb.retainer()
    assert message in hb.fails("account", "list", now=now).output
