"""`python app.py plan …`: the development plan from the command line
(direction, add, show with a forecast, move, state); bad input refused
with nothing written."""
from __future__ import annotations

from tests.test_cli import H, Hourbook, hb  # noqa: F401  (the fixture)


def setup(hb: Hourbook) -> tuple[int, list[int]]:
    account = hb.retainer(hours="40")
    crm = hb.json("plan", "direction", str(account), "CRM", "--match", "tag:crm")["id"]
    tel = hb.json("plan", "direction", str(account), "Телефония", "--match", "tag:tel")["id"]
    ids = [hb.json("plan", "add", str(account), "--direction", "CRM", "--hours", "30", "--task", "11")["id"],
           hb.json("plan", "add", str(account), "--direction", str(tel), "--hours", "20", "--title", "АТС")["id"],
           hb.json("plan", "add", str(account), "--direction", str(crm), "--hours", "1:30", "--title", "Отчёт")["id"]]
    return account, ids


def test_plan_add_show_move_and_state(hb: Hourbook):
    account, (a, b, c) = setup(hb)
    shown = hb.json("plan", "show", str(account), "--tariff", "20")
    flat = {i["id"]: i for d in shown["directions"] for i in d["items"]}
    assert [flat[x]["priority"] for x in (a, b, c)] == [1, 2, 3]
    assert (flat[a]["planned_s"], flat[c]["planned_s"]) == (30 * H, 90 * 60)
    assert shown["planned_s"] == 51 * H + 30 * 60
    # 20 h a month, this month in full (March 2026): a spans March and April, b ends in May, c in May too
    assert [flat[x]["finish"] for x in (a, b, c)] == ["2026-04", "2026-05", "2026-05"]
    assert [m["hours_s"] for m in shown["months"]] == [20 * H, 20 * H, 11 * H + 30 * 60]
    hb.ok("plan", "move", str(account), str(c), "--first")
    hb.ok("plan", "move", str(account), str(a), "--down")
    hb.ok("plan", "move", str(account), str(b), "--to", "1")
    flat = {i["id"]: i for d in hb.json("plan", "show", str(account))["directions"] for i in d["items"]}
    assert sorted((flat[x]["priority"], x) for x in (a, b, c)) == [(1, b), (2, c), (3, a)]
    assert "is paused" in hb.ok("plan", "state", str(account), str(a), "paused").output
    text = hb.ok("plan", "show", str(account)).output
    assert "Телефония" in text and "[paused]" in text
    assert hb.sql("SELECT count(*) FROM audit_events WHERE action LIKE 'plan.%'")[0][0] == 3 + 3 + 1


def test_plan_bad_input_is_refused_with_nothing_written(hb: Hourbook):
    account, (a, b, c) = setup(hb)
    other = 999_999  # no such account
    hb.fails("plan", "add", str(account), "--direction", "Нет такого", "--hours", "3", "--title", "x")
    hb.fails("plan", "add", str(account), "--direction", "CRM", "--hours", "-3", "--title", "x")
    hb.fails("plan", "add", str(account), "--direction", "CRM", "--hours", "3")  # neither task nor title
    hb.fails("plan", "add", str(account), "--direction", "CRM", "--hours", "3", "--task", "11")  # twice
    hb.fails("plan", "add", str(other), "--direction", "CRM", "--hours", "3", "--title", "x")
    hb.fails("plan", "move", str(account), str(a))
    hb.fails("plan", "move", str(other), str(a), "--up")
    hb.fails("plan", "move", str(account), "999", "--up")
    hb.fails("plan", "state", str(account), str(a), "frozen")
    hb.fails("plan", "show", str(account), "--tariff", "0")
    hb.fails("plan", "direction", str(account), "X", "--match", "colour:red")
    hb.fails("plan", "show", "999999")
