"""The weekly report as data: everything a rendering shows, built once from
the ledger and kept as JSON with the report, so that a report sent on a
Monday renders byte for byte the same a year later, whatever corrections
were posted since (PRODUCT.md rule 5).

Seconds are integers, days are ISO dates in the portal's zone; names and
links are resolved when the report is built (a renamed task does not
change a report already sent).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

SCHEMA = 1


class Canonical:
    """A dataclass kept as canonical JSON (a report, a monthly act): the
    same value always gives the same bytes, and so the same digest."""

    def to_json(self) -> str:
        return json.dumps(_plain(asdict(self)), ensure_ascii=False, sort_keys=True,  # type: ignore[call-overload]
                          separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


@dataclass(frozen=True)
class WorkLine:
    """One time record of the week, as the portal has it now."""

    day: date  # the day the work was done, in the portal's zone
    user_id: int
    person: str
    role: str
    task_id: int
    task: str
    url: str
    comment: str
    duration_s: int  # as logged
    counted_s: int  # what the ledger debits (rounding; 0 for people outside the team)
    correction: bool = False  # dated in a period already closed: counted in the open one (rule 5)
    team: bool = True  # False: someone outside the team (the client's own employee): shown, never debited
    paused: bool = False  # logged on a task the client asked to pause, after the pause: flagged, still counted


@dataclass(frozen=True)
class TaskTotal:
    task_id: int
    task: str
    url: str
    week_s: int  # counted this week
    period_s: int  # counted in the current period so far
    done: bool


@dataclass(frozen=True)
class PersonTotal:
    user_id: int
    person: str
    role: str
    week_s: int


@dataclass(frozen=True)
class DirectionLine:
    name: str
    planned_s: int
    spent_s: int
    period_s: int


# ---------------------------------------------------------------- the weekly call's agenda


@dataclass(frozen=True)
class AgendaRequest:
    """A client's request still waiting for the manager (ledger.client_requests)."""

    request_id: int
    kind: str  # pause, resume, cap, first, question
    subject: str  # the task's or direction's name, as the client reads it
    text: str
    author: str
    created_on: date  # in the portal's zone
    cap_s: int | None = None


@dataclass(frozen=True)
class PlanLine:
    """A plan item (ledger.devplan): next in the client's order, or over its planned hours."""

    item_id: int
    task_id: int | None
    title: str
    priority: int
    planned_s: int
    spent_s: int
    status: str  # ledger.devplan.ItemStatus.status


@dataclass(frozen=True)
class PausedLine:
    """Time logged on a paused task after the pause (ledger.client_requests.paused_work)."""

    task_id: int
    task: str
    paused_on: date
    counted_s: int


@dataclass(frozen=True)
class NoteLine:
    """A note the manager took at the weekly call."""

    note_id: int
    call_on: date
    author: str
    text: str


@dataclass(frozen=True)
class ActRef:
    """A monthly act that goes with this report (attached to its e-mail)."""

    act_id: int
    period: str
    number: str


@dataclass(frozen=True)
class Report(Canonical):
    schema: int
    account_id: int
    account: str
    language: str  # "ru" or "en"
    portal: str  # the portal's domain
    time_zone: str
    week: str  # ISO week, "2026-W47"
    first_day: date  # Monday
    last_day: date  # Sunday
    built_at: datetime
    contract: str | None  # retainer, staged, upfront
    period: str | None  # "2026-11", or a stage's name
    period_last_day: date | None  # the burn date of a month
    expiry_policy: str | None
    allocated_s: int
    used_s: int
    left_s: int
    overage_s: int
    rollover_in_s: int
    adjustment_s: int
    forecast: str  # ledger.summary.Forecast.kind
    forecast_left_s: int
    forecast_burn_s: int
    forecast_carry_s: int
    runs_out_on: date | None
    warn_burn: bool
    week_s: int  # counted this week
    others_s: int  # logged this week by people outside the team: shown, never debited
    lines: tuple[WorkLine, ...] = ()
    tasks: tuple[TaskTotal, ...] = ()
    people: tuple[PersonTotal, ...] = ()
    in_progress: tuple[TaskTotal, ...] = ()
    directions: tuple[DirectionLine, ...] = ()
    # The weekly call's agenda: what the client asked and the manager has
    # not answered, plan items over their hours, the plan's next items,
    # paused work, the last call's notes; and the acts that go with it.
    requests: tuple[AgendaRequest, ...] = ()
    over_plan: tuple[PlanLine, ...] = ()
    next_items: tuple[PlanLine, ...] = ()
    paused_work: tuple[PausedLine, ...] = ()
    notes: tuple[NoteLine, ...] = ()
    acts: tuple[ActRef, ...] = ()

    @property
    def has_agenda(self) -> bool:
        return bool(self.requests or self.over_plan or self.next_items or self.paused_work or self.notes)

    # ---------------------------------------------------------------- keeping it

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"report schema {data.get('schema')} is not {SCHEMA}")
        return _build(cls, data)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


_NESTED = {"lines": WorkLine, "tasks": TaskTotal, "people": PersonTotal, "in_progress": TaskTotal,
           "directions": DirectionLine, "requests": AgendaRequest, "over_plan": PlanLine, "next_items": PlanLine,
           "paused_work": PausedLine, "notes": NoteLine, "acts": ActRef}
_DATES = {"first_day", "last_day", "period_last_day", "runs_out_on", "day", "created_on", "paused_on", "call_on"}


def _build(cls: type, data: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data and f.default is not MISSING:
            continue  # kept before the field existed: its default, as the report was rendered then
        raw = data.get(f.name)
        if f.name in _NESTED:
            values[f.name] = tuple(_build(_NESTED[f.name], item) for item in raw or ())
        elif f.name in _DATES:
            values[f.name] = date.fromisoformat(raw) if raw else None
        elif f.name == "built_at":
            values[f.name] = datetime.fromisoformat(raw)
        else:
            values[f.name] = raw
    return cls(**values)


__all__ = ["SCHEMA", "Canonical", "Report", "WorkLine", "TaskTotal", "PersonTotal", "DirectionLine", "AgendaRequest", "PlanLine",
           "PausedLine", "NoteLine", "ActRef"]
