"""The one clock of the ledger, the sync and the jobs.

Production reads the system clock. The simulator (tests/simulation) plays
months of a portal's life in seconds by moving `offset` forward, the way
TigerBeetle's simulator drives its Time interface: every "now" in ledger/,
b24/ and jobs/ comes from here, so the app and the emulated portal (whose
clock the simulator moves by the same amount) agree on what time it is.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

offset = timedelta(0)


def now() -> datetime:
    return datetime.now(timezone.utc) + offset
