"""The refusals of ledger.projects a manager can meet on the page (issue 16),
marked for the catalogs as handlers/ledger_messages.py marks the others."""
from __future__ import annotations


def _l(message: str) -> str:
    return message


MESSAGES = (
    _l("a due date is a date"),
    _l("a scope holds at most %(n)s items"),
    _l("a scope item is a setting, an integration, a widget, a training or an instruction"),
    _l("a scope item links at most %(n)s tasks"),
    _l("a scope item needs a title"),
    _l("a staged project is paid by stage"),
    _l("a task is given by its number"),
    _l("a task is linked once"),
    _l("a title is at most %(n)s characters"),
    _l("an item is open, done or accepted"),
    _l("an upfront project has no stages"),
    _l("no such scope item for this account"),
    _l("no such stage for this account"),
    _l("no such task for this account"),
    _l("paid is yes or no"),
    _l("planned hours must not be negative"),
    _l("task %(task_id)s already counts for a scope item"),
    _l("the account has no implementation project"),
    _l("this stage has not begun"),
)
