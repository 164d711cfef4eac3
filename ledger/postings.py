"""Writing postings: the only way hours move.

A posting is written once and never changed. Its key is derived from its
source (an entry and its version, a period close, an adjustment), so writing
the same change twice writes nothing the second time; the same key with a
different payload is a bug and raises. Each posting updates its period's
running totals in the same transaction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .db import among, insert_rows
from .memo import memo
from .models import POSTING_KINDS, Period, PeriodTotals, Posting

TOTAL_COLUMNS = {kind: f"{kind}_s" for kind in POSTING_KINDS}


class PostingConflict(Exception):
    """The same idempotency key was written before with a different payload."""


class PeriodClosed(Exception):
    """A posting was aimed at a closed (frozen) period."""


@dataclass(frozen=True)
class NewPosting:
    key: str
    portal_id: int
    account_id: int
    period_id: int
    kind: str
    amount_s: int
    origin_period_id: int | None = None
    entry_id: int | None = None
    entry_version: int | None = None
    adjustment_id: int | None = None
    author: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TOTAL_COLUMNS:
            raise ValueError(f"unknown posting kind: {self.kind}")
        if type(self.amount_s) is not int:  # exactly int: a bool or a fraction is refused too
            raise TypeError(f"amount_s must be an int, got {type(self.amount_s).__name__}")
        if self.amount_s == 0:
            raise ValueError("a posting moves a non-zero amount")


@lru_cache(maxsize=None)
def _insert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING id, built once: thousands
    of postings per sync should not pay for building the statement each time."""
    table = Posting.__table__
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)


@lru_cache(maxsize=None)
def _add_to_totals(kind: str) -> Any:
    column = getattr(PeriodTotals, TOTAL_COLUMNS[kind])
    return (
        update(PeriodTotals)
        .where(PeriodTotals.period_id == bindparam("p_period"))
        .values({column: column + bindparam("p_amount"), PeriodTotals.postings_n: PeriodTotals.postings_n + 1})
    )


def post(session: Session, posting: NewPosting, now: datetime) -> bool:
    """Write `posting` unless its key exists. True when written.

    The caller holds the period open (see `lock_open_period`); the database
    refuses postings into a closed period anyway.
    """
    values = asdict(posting)
    inserted = session.execute(_insert(session.get_bind().dialect.name), {**values, "created_at": now}).first()
    if inserted is None:
        existing = session.execute(
            select(Posting.__table__).where(Posting.__table__.c.key == posting.key)
        ).mappings().one()
        if any(existing[name] != value for name, value in values.items()):
            raise PostingConflict(posting.key)
        return False
    session.execute(_add_to_totals(posting.kind), {"p_period": posting.period_id, "p_amount": posting.amount_s})
    return True


_POSTING_COLUMNS = ("id", "key", "portal_id", "account_id", "period_id", "kind", "amount_s", "origin_period_id",
                    "entry_id", "entry_version", "adjustment_id", "author", "reason", "created_at")


def new_ids(session: Session, table: Any, n: int) -> list[int]:
    """`n` ids for rows about to be inserted into `table`, so that a
    multi-row insert needs nothing back (RETURNING costs as much as the
    insert). PostgreSQL: the table's own sequence. SQLite: past the largest
    id, which is safe because BEGIN IMMEDIATE makes this transaction the
    only writer."""
    if n <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.execute(
            text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
            {"n": n}).scalars())
    top = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + n))


_MOVE_TOTALS = {
    kind: update(PeriodTotals.__table__)
    .where(PeriodTotals.__table__.c.period_id == bindparam("b_period"))
    .values({column: PeriodTotals.__table__.c[column] + bindparam("b_amount"),
             "postings_n": PeriodTotals.__table__.c.postings_n + bindparam("b_n")})
    for kind, column in TOTAL_COLUMNS.items()
}


def post_many(session: Session, rows: list[dict[str, Any]], now: datetime) -> list[str]:
    """Write many postings (dicts of NewPosting's fields) with one multi-row
    insert, skipping keys that exist, and move each period's running totals
    once. Returns the keys written. The same key with a different payload
    raises PostingConflict, as `post` does; the caller holds the periods open
    (`lock_open_periods`)."""
    if not rows:
        return []
    for row in rows:
        if row["kind"] not in TOTAL_COLUMNS:
            raise ValueError(f"unknown posting kind: {row['kind']}")
        if type(row["amount_s"]) is not int:
            raise TypeError(f"amount_s must be an int, got {type(row['amount_s']).__name__}")
        if row["amount_s"] == 0:
            raise ValueError("a posting moves a non-zero amount")
    table = Posting.__table__
    values = [(*[row[name] for name in _POSTING_COLUMNS[1:-1]], now) for row in rows]
    if session.get_bind().dialect.name == "postgresql":
        # COPY numbers the rows from the table's sequence as they go in:
        # nothing needs their ids, so none are taken first.
        inserted = insert_rows(session, table, _POSTING_COLUMNS[1:], values, ("key",))
    else:
        ids = new_ids(session, table, len(rows))
        inserted = insert_rows(session, table, _POSTING_COLUMNS, [(id_, *v) for id_, v in zip(ids, values)], ("key",))
    written = {key for key, in inserted}
    if len(written) < len(rows):
        skipped = {row["key"]: row for row in rows if row["key"] not in written}
        for existing in session.execute(select(table).where(among(session, table.c.key, skipped))).mappings():
            wanted = skipped[existing["key"]]
            if any(existing[name] != value for name, value in wanted.items()):
                raise PostingConflict(existing["key"])
    moves: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        if row["key"] in written:
            move = moves.setdefault((row["kind"], row["period_id"]), [0, 0])
            move[0] += row["amount_s"]
            move[1] += 1
    by_kind: dict[str, list[dict]] = {}
    for (kind, period_id), (amount, n) in sorted(moves.items()):
        by_kind.setdefault(kind, []).append({"b_period": period_id, "b_amount": amount, "b_n": n})
    for kind, params in by_kind.items():
        session.execute(_MOVE_TOTALS[kind], params)
    # ORM objects of these totals loaded earlier in the session are stale now.
    for _, period_id in moves:
        obj = session.identity_map.get(identity_key(PeriodTotals, period_id))
        if obj is not None:
            session.expire(obj)
    return [row["key"] for row in rows if row["key"] in written]


def lock_open_periods(session: Session, period_ids: list[int]) -> None:
    """`lock_open_period` for many periods with one query (in id order, so
    that two writers never wait for each other in a circle)."""
    held = memo(session)
    wanted = sorted(p for p in set(period_ids) if ("shared-lock", p) not in held)
    if wanted:
        stmt = (select(Period).where(among(session, Period.id, wanted))
                .order_by(Period.id).with_for_update(read=True))
        for period in session.execute(stmt.execution_options(populate_existing=True)).scalars():
            held[("shared-lock", period.id)] = period
    for period_id in period_ids:
        period = held.get(("shared-lock", period_id))
        if period is None or period.status != "open":
            raise PeriodClosed(period_id)


def lock_open_period(session: Session, period_id: int, exclusive: bool = False) -> Period:
    """Lock a period row so that a concurrent close cannot slip in between our
    check and our posting (SELECT … FOR SHARE; FOR UPDATE when closing).
    SQLite needs nothing: BEGIN IMMEDIATE already serializes writers."""
    held = memo(session)
    key = ("shared-lock", period_id)
    period = None if exclusive else held.get(key)
    if period is None:
        stmt = select(Period).where(Period.id == period_id).with_for_update(read=not exclusive)
        period = session.execute(stmt.execution_options(populate_existing=True)).scalar_one()
    if not exclusive:
        # Status is read from the row we hold; a close in this same
        # transaction changes that very object, so this check stays true.
        if period.status != "open":
            raise PeriodClosed(period_id)
        held[key] = period
    return period
