"""A cache that lives exactly as long as the session's current transaction.

Applying thousands of records in one transaction asks the same questions
again and again (which contract runs on this day, is this user on the team,
which month period is this). Inside one transaction the answers only change
when settings change, and every settings change in `contracts` calls
`forget`; a new transaction starts with an empty memo.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

_KEY = "hourbook_ledger_memo"


def memo(session: Session) -> dict[Any, Any]:
    transaction = session.get_transaction()
    box = session.info.get(_KEY)
    if box is None or box[0] is not transaction:
        box = (transaction, {})
        session.info[_KEY] = box
    return box[1]


def forget(session: Session) -> None:
    session.info.pop(_KEY, None)
