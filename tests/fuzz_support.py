"""Helpers for tests/test_fuzz_routes.py: a cheap database fingerprint, the
request counter, and the tokens and ids the fuzzer draws from."""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Integer, text

from ledger.models import Base
from tests.pages import SECRET_KEY

# Total requests of a default run, split between the fuzz tests by SHARE.
TOTAL = int(os.environ.get("HOURBOOK_FUZZ_EXAMPLES", "10000"))
SHARE = {"doors": 0.58, "manager": 0.19, "entry": 0.17, "ask": 0.06}


def examples(name: str) -> int:
    return max(10, int(TOTAL * SHARE[name]))


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.by_test: Counter[str] = Counter()
        self.started = time.monotonic()

    def count(self, test: str, status: int) -> None:
        self.sent += 1
        self.statuses[status] += 1
        self.by_test[test] += 1

    def report(self) -> str:
        histogram = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        tests = ", ".join(f"{name}: {n}" for name, n in sorted(self.by_test.items()))
        return (f"fuzz: {self.sent} requests in {time.monotonic() - self.started:.1f} s ({tests}); "
                f"statuses {{{histogram}}}")


def fingerprint_sql(engine: Any) -> str:
    """One UNION ALL query: each table's row count and largest integer key."""
    parts = []
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        top = f"MAX({pk[0].name})" if len(pk) == 1 and isinstance(pk[0].type, Integer) else "0"
        parts.append(f"SELECT '{table.name}' AS t, COUNT(*) AS n, {top} AS k FROM {table.name}")
    return " UNION ALL ".join(parts)


class Fingerprint:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.sql = text(fingerprint_sql(engine))

    def __call__(self) -> tuple:
        with self.engine.connect() as conn:
            return tuple(sorted(tuple(r) for r in conn.execute(self.sql)))


# ---------------------------------------------------------------- tokens


def frame_data(token: str) -> dict:
    return URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame").loads(token)


def expired_frame_token(data: dict, age_s: int = 3601) -> str:
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame", signer=Past).dumps(data)


def bad_frame_tokens(valid: str, other_portal: str) -> dict[str, str]:
    """Every kind of frame token that must not open anything."""
    data = frame_data(valid)
    promoted = {**data, "admin": True, "manager": True}
    payload, stamp, signature = valid.rsplit(".", 2)
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    b = frame_data(other_portal)
    return {
        "empty": "",
        "garbage": "not-a-token",
        "tampered payload": f"{flipped}.{stamp}.{signature}",
        "tampered signature": f"{payload}.{stamp}.{signature[:-2]}xx",
        "swapped signature": f"{payload}.{stamp}.{other_portal.rsplit('.', 1)[1]}",
        "another key": URLSafeTimedSerializer("someone else's key", salt="hourbook.frame").dumps(promoted),
        "another salt": URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.cabinet").dumps(data),
        "expired": expired_frame_token(data),
        "expired admin of B": expired_frame_token(b, age_s=86400 * 30),
        "overlong": valid + "x" * 2100,
        "signed list": URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame").dumps(["not", "a", "frame"]),
        "signed, extra key": URLSafeTimedSerializer(SECRET_KEY, salt="hourbook.frame").dumps({**data, "x": 1}),
        "no signature": payload,
    }


def cabinet_token(link_id: Any, nonce: Any, key: str = SECRET_KEY, salt: str = "hourbook.cabinet") -> str:
    return URLSafeSerializer(key, salt=salt).dumps([link_id, nonce])


def make_cabinet_links(world: Any) -> dict[str, str]:
    """Links made for the fuzzer: live, revoked, expired, and one of portal B;
    tokens for each plus forged ones."""
    from ledger.access import create_cabinet_link, revoke_cabinet_link
    from ledger.db import utcnow
    from ledger.models import Account

    with world.session() as s, s.begin():
        a = s.get(Account, world.accounts["romashka"])
        b = s.get(Account, world.accounts["client"])
        live = create_cabinet_link(s, a, actor="fuzz", label="live")
        revoked = create_cabinet_link(s, a, actor="fuzz", label="revoked")
        revoke_cabinet_link(s, revoked, actor="fuzz")
        expired = create_cabinet_link(s, a, actor="fuzz", label="expired", valid_days=1,
                                      now=utcnow() - timedelta(days=3))
        other = create_cabinet_link(s, b, actor="fuzz", label="portal B")
        s.flush()
        rows = {k: (v.id, v.nonce) for k, v in
                {"live": live, "revoked": revoked, "expired": expired, "other": other}.items()}
    tokens = {k: cabinet_token(*v) for k, v in rows.items()}
    live_id, live_nonce = rows["live"]
    tokens.update({
        "wrong nonce": cabinet_token(live_id, "0" * 32),
        "nonexistent": cabinet_token(2**31 - 1, live_nonce),
        "negative": cabinet_token(-1, live_nonce),
        # "huge id" (a signed id beyond 64 bits) is a known 500: SIGNED_HUGE_CABINET_ID in the test module
        "string id": cabinet_token(str(live_id), live_nonce),
        "float id": cabinet_token(float(live_id), live_nonce),
        "bool id": cabinet_token(True, live_nonce),
        "nonce object": cabinet_token(live_id, {"$ne": ""}),
        "another key": cabinet_token(live_id, live_nonce, key="another key"),
        "frame salt": cabinet_token(live_id, live_nonce, salt="hourbook.frame"),
        "tampered": tokens["live"][:-2] + ("xx" if not tokens["live"].endswith("xx") else "yy"),
        "overlong": tokens["live"] + "A" * 400,
        "three items": URLSafeSerializer(SECRET_KEY, salt="hourbook.cabinet").dumps([live_id, live_nonce, 1]),
        "one item": URLSafeSerializer(SECRET_KEY, salt="hourbook.cabinet").dumps([live_id]),
        "dict": URLSafeSerializer(SECRET_KEY, salt="hourbook.cabinet").dumps({"id": live_id}),
    })
    return tokens
