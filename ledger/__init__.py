"""The hour ledger: Hourbook's heart.

Knows nothing of Flask or Bitrix24. Durations are integer seconds; postings
are append-only; balances derive from postings. See PRODUCT.md, "Rules the
ledger keeps".
"""
from .balance import Breakdown, PeriodBalance, balance, balance_from_postings, breakdown, history
from .contracts import (
    LedgerError,
    Policies,
    add_account,
    add_team_member,
    adjust,
    advance_stage,
    bind_account,
    close_due,
    create_portal,
    end_team_member,
    finish_project,
    mark_stage_paid,
    set_retainer,
    set_staged,
    set_time_zone,
    set_upfront,
)
from .entries import ApplyResult, EntryDeleted, EntrySnapshot, apply_entry
from .periods import NotDue, close_period
from .postings import PeriodClosed, PostingConflict
from .rounding import RoundingRule, round_seconds
from .verify import Problem, verify

__all__ = [
    "ApplyResult", "Breakdown", "EntryDeleted", "EntrySnapshot", "LedgerError", "NotDue", "PeriodBalance",
    "PeriodClosed", "Policies", "PostingConflict", "Problem", "RoundingRule", "add_account",
    "add_team_member", "adjust", "advance_stage", "apply_entry", "balance", "balance_from_postings",
    "bind_account", "breakdown", "close_due", "close_period", "create_portal", "end_team_member",
    "finish_project", "history", "mark_stage_paid", "round_seconds", "set_retainer", "set_staged",
    "set_time_zone", "set_upfront", "verify",
]
