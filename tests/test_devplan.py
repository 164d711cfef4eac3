"""The plan's month-by-month forecast (ledger.devplan.forecast_months), and
the client's requests decided in any order: table-driven and property tests."""
from __future__ import annotations

import shutil
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.client_requests import accept, decline, open_request
from ledger.contracts import LedgerError, add_direction
from ledger.db import make_engine
from ledger.devplan import (
    MAX_FORECAST_MONTHS,
    ForecastItem,
    forecast_months,
    month_of,
)
from ledger.models import Cap
from tests.conftest import reset_pg
from tests.helpers import H, Book

# (items as (planned h, spent h, paused), tariff h, first month's free h or None, expected months)
TABLE = [
    # the seed's 160 h at 80 h a month: two months, in order
    ([(80, 0, False), (80, 0, False)], 80, None, [0, 1]),
    # the same at 40 h: the first item spans two months, the second ends in the fourth
    ([(80, 0, False), (80, 0, False)], 40, None, [1, 3]),
    # spent hours are not needed again; an item done already is month 0
    ([(80, 70, False), (10, 10, False), (30, 0, False)], 20, None, [0, 0, 1]),
    # over its plan: nothing left, month 0, and it takes nothing from the others
    ([(10, 15, False), (20, 0, False)], 20, None, [0, 0]),
    # a paused item gets no month and no hours: the next one moves up
    ([(40, 0, True), (20, 0, False)], 20, None, [None, 0]),
    # this month is half gone: 10 h free, then 20 h months
    ([(10, 0, False), (15, 0, False), (20, 0, False)], 20, 10, [0, 1, 2]),
    # nothing free this month
    ([(5, 0, False)], 20, 0, [1]),
    # an empty plan
    ([], 20, None, []),
]


@pytest.mark.parametrize("plan,tariff_h,first_h,expected", TABLE)
def test_forecast_table(plan, tariff_h, first_h, expected):
    result = forecast_months([ForecastItem(n, p * H, s * H, paused) for n, (p, s, paused) in enumerate(plan)],
                             tariff_h * H, None if first_h is None else first_h * H)
    assert [f.month for f in result.items] == expected
    assert [f.left_s for f in result.items] == [max(0, p - s) * H for p, s, _ in plan]


def test_forecast_months_hold_the_hours_month_by_month():
    result = forecast_months([ForecastItem(1, 30 * H, 0), ForecastItem(2, 30 * H, 0)], 40 * H)
    assert result.months == (((1, 30 * H), (2, 10 * H)), ((2, 20 * H),))
    assert month_of(date(2026, 11, 17), 2) == date(2027, 1, 1) and month_of(date(2026, 11, 17), None) is None


def test_forecast_stops_at_the_horizon():
    result = forecast_months([ForecastItem(1, 10**9, 0), ForecastItem(2, 5, 0)], 1)
    assert [f.month for f in result.items] == [None, None]
    assert len(result.months) == MAX_FORECAST_MONTHS
    assert result.scheduled_s + result.beyond_s == 10**9 + 5


@pytest.mark.parametrize("args", [
    ([], 0, None), ([], -5, None), ([], 1.5, None), ([], 20 * H, -1),
    ([ForecastItem(1, -1, 0)], H, None), ([ForecastItem(1, H, 0.5)], H, None),
])
def test_forecast_refuses_what_is_not_whole_seconds(args):
    with pytest.raises(ValueError):
        forecast_months(*args)


items_strategy = st.lists(st.tuples(st.integers(0, 200 * H), st.integers(0, 200 * H), st.booleans()),
                          max_size=12)


@settings(max_examples=150, deadline=None)
@given(items_strategy, st.integers(1, 120 * H) | st.sampled_from([20 * H, 40 * H, 80 * H, 120 * H]), st.one_of(st.none(), st.integers(0, 120 * H)))
def test_forecast_properties(plan, tariff_s, first_s):
    items = [ForecastItem(n, p, s, paused) for n, (p, s, paused) in enumerate(plan)]
    result = forecast_months(items, tariff_s, first_s)
    left = {i.key: max(0, i.planned_s - i.spent_s) for i in items}
    # Totals are conserved: the months hold every unpaused item's left hours, item by item.
    assert result.scheduled_s + result.beyond_s == sum(left[i.key] for i in items if not i.paused)
    held: dict[int, int] = {}
    for month in result.months:
        for key, seconds in month:
            assert seconds > 0
            held[key] = held.get(key, 0) + seconds
    assert sum(held.values()) == result.scheduled_s
    finished = {f.key for f in result.items if f.month is not None}
    assert {k: v for k, v in held.items() if k in finished} == \
        {i.key: left[i.key] for i in items if i.key in finished and left[i.key]}
    assert result.beyond_s == 0 or len(result.months) == MAX_FORECAST_MONTHS
    # No month holds more than its hours.
    for n, month in enumerate(result.months):
        assert sum(s for _, s in month) <= (tariff_s if n or first_s is None else first_s)
    # Along the priority, the months of items with work left never go back.
    months = [f.month for f, i in zip(result.items, items) if not i.paused and left[i.key] and f.month is not None]
    assert months == sorted(months)
    # Each item's month is the last month holding any of it.
    for f in result.items:
        last = max((n for n, m in enumerate(result.months) if any(k == f.key for k, _ in m)), default=0)
        if f.month is not None:
            assert f.month == last


def test_forecast_moving_an_item_first_never_makes_it_later():
    items = [ForecastItem(n, (n + 1) * 7 * H, 0) for n in range(6)]
    before = {f.key: f.month for f in forecast_months(items, 20 * H).items}
    after = {f.key: f.month for f in forecast_months([items[4]] + items[:4] + items[5:], 20 * H).items}
    assert after[4] <= before[4] and all(after[k] >= before[k] for k in before if k != 4)


# ---------------------------------------------------------------- decisions in any order

DECISIONS = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["accept", "decline"])), max_size=14)
CAPS = [3 * H, 5 * H, 7 * H, 2 * H, 9 * H]


def _play(session: Session, decisions) -> None:
    """Five cap requests on two directions, decided in the given order (the
    same request decided many times, accepted and declined). The ledger must
    end as if each request were decided once, by its first decision, and
    the caps be what the accepted requests set, in the order they won."""
    book = Book(session)
    acc = book.retainer(40)
    dirs = [add_direction(session, acc, f"D{n}", planned_s=0, match_kind="tag", match_value=f"t{n}", actor="m",
                          now=book.now) for n in range(2)]
    requests = [open_request(session, acc, "cap", direction_id=dirs[n % 2].id, cap_s=CAPS[n], author="client",
                             source="cabinet", now=book.now) for n in range(5)]
    postings = book.count_postings()
    first: dict[int, str] = {}
    expected_caps: dict[int, int] = {}
    decided: set[int] = set()
    for n, verdict in decisions:
        r = requests[n]
        expected_first = first.setdefault(n, verdict)
        try:
            if verdict == "accept":
                applied = accept(session, r, actor="manager", now=book.now)
            else:
                applied = decline(session, r, actor="manager", reason="no", now=book.now)
        except LedgerError:
            assert expected_first != verdict  # the other decision came first
            continue
        assert expected_first == verdict
        assert applied == (n not in decided)  # only the first decision does anything
        decided.add(n)
        if verdict == "accept" and applied:
            expected_caps[dirs[n % 2].id] = CAPS[n]
    for n, r in enumerate(requests):
        assert r.state == {"accept": "accepted", "decline": "declined"}.get(first.get(n), "open")
    caps = {c.ref_id: c.limit_s for c in session.execute(select(Cap).where(Cap.account_id == acc.id)).scalars()}
    assert caps == expected_caps
    assert book.count_postings() == postings  # a request never moves hours


DECISION_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@DECISION_SETTINGS
@given(DECISIONS)
def test_decisions_in_any_order_apply_once_on_sqlite(sqlite_template, tmp_path_factory, decisions):
    path = tmp_path_factory.mktemp("decide") / "ledger.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine, expire_on_commit=False) as session:
            _play(session, decisions)
            session.rollback()
    finally:
        engine.dispose()


@DECISION_SETTINGS
@given(DECISIONS)
def test_decisions_in_any_order_apply_once_on_postgresql(pg_engine, decisions):
    reset_pg(pg_engine)
    with Session(pg_engine, expire_on_commit=False) as session:
        _play(session, decisions)
        session.rollback()
