"""The ledger refuses in plain English (it knows nothing of languages);
these are the refusals a manager can meet on the page, marked here so the
catalogs carry them and `gettext(str(err))` finds their translation."""
from __future__ import annotations


def _l(message: str) -> str:
    return message


MESSAGES = (
    _l("a cap counts per period or in total"),
    _l("a cap needs a task number or a direction"),
    _l("a cap watches a task or a direction"),
    _l("a direction matches tasks by workgroup, tag or parent task"),
    _l("a direction needs a name"),
    _l("a direction needs a workgroup, tag or parent task to match"),
    _l("a later contract exists; change it instead of adding one before it"),
    _l("a manager is a portal user id"),
    _l("a membership cannot end before it starts"),
    _l("a stage cannot end before it began"),
    _l("a stage cannot end in the future"),
    _l("a staged contract needs at least one stage"),
    _l("a team member is a portal user id"),
    _l("a workgroup or parent task is given by its number"),
    _l("an account needs a name"),
    _l("an adjustment moves a non-zero whole number of seconds"),
    _l("an adjustment needs a reason"),
    _l("every stage needs a name"),
    _l("no stage is in progress"),
    _l("no such direction for this account"),
    _l("not an e-mail address"),
    _l("only a staged contract has stages"),
    _l("only an upfront project is finished this way"),
    _l("planned hours must not be negative"),
    _l("price must not be negative"),
    _l("rollover age is at least one month"),
    _l("rollover cap must not be negative"),
    _l("rounding needs a step"),
    _l("the account has no open period to adjust"),
    _l("this address already receives the reports"),
    _l("a retainer needs a positive number of hours"),
    _l("every stage needs a positive budget of hours"),
    _l("an upfront project needs a positive budget of hours"),
    _l("a cap needs a positive number of hours"),
    _l("CRM company %(ref_id)s already belongs to account %(account_id)s"),
    _l("workgroup %(ref_id)s already belongs to account %(account_id)s"),
)
