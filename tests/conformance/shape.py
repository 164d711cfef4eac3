"""Comparing two JSON answers by shape: keys, value kinds, paging fields,
error codes — not values.

Rules, each for a reason:
- A null on either side admits any kind: the portal answers null for
  empty values (TIME_SPENT_IN_LOGS, closedDate, PROBABILITY) that another
  record has filled; the key itself must still be there.
- Dict keys must be the same, except under paths the pair names `lenient`
  (for doc examples that show a field set Hourbook does not ask for).
- Under paths a pair names `unchecked`, nothing is compared (docs that
  disagree with themselves: TIMESTAMP_X a string in one example, {} in another).
- A list is compared element by element against the pair's elements merged:
  a key any element has is allowed, a key every element has is required
  (doc examples list users with and without SECOND_NAME).
- An id-keyed map (`{"13": {...}, "103": {...}}`, PHP's arrays as objects)
  is compared like a list.
- A list the pair shows with items but the emulator answers empty cannot be
  compared: that is a failure ("not comparable"), never a silent pass.
- The `time` block (and a batch's `result_time` entries): its keys must be
  among the documented ones (time-object.json) and include what the pair's
  has; `operating` came later than some examples.
- Errors: the same `error` code, and the same HTTP status, outside.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Paths a pair says are not compared at all (`unchecked`): where the docs
# disagree with themselves about a value's kind.
UNCHECKED: ContextVar[frozenset] = ContextVar("unchecked", default=frozenset())

TIME_KEYS = {"start", "finish", "duration", "processing", "date_start", "date_finish", "operating",
             "operating_reset_at"}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _id_map(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).isdigit() for k in value)


def _merge(items: list) -> tuple[Any, set, set]:
    """A prototype for a list's elements: the first non-null element's kind;
    for dicts the union (allowed) and intersection (required) of keys, and a
    merged value per key."""
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts:
        return next((i for i in items if i is not None), None), set(), set()
    allowed = set().union(*(d.keys() for d in dicts))
    required = set.intersection(*(set(d) for d in dicts))
    merged = {}
    for key in allowed:
        values = [d[key] for d in dicts if key in d and d[key] is not None]
        merged[key] = values[0] if values else None
        if values and all(isinstance(v, list) for v in values):
            merged[key] = [x for v in values for x in v]
        if values and all(isinstance(v, dict) for v in values) and all(_id_map(v) for v in values):
            merged[key] = {k: x for v in values for k, x in v.items()}
    return merged, allowed, required


def differences(actual: Any, expected: Any, path: str = "$", lenient: frozenset = frozenset()) -> list[str]:
    found: list[str] = []
    if expected is None or actual is None or path in UNCHECKED.get():
        return found
    if kind(actual) != kind(expected):
        # PHP sends an empty array as [] where a filled one is an object
        if {kind(actual), kind(expected)} == {"list", "dict"} and (actual == [] or expected == []):
            return found
        return [f"{path}: {kind(actual)} where the pair has {kind(expected)} ({str(actual)[:60]!r})"]
    if (path.endswith(".time") or ".result_time." in path) and isinstance(actual, dict):
        extra = set(actual) - TIME_KEYS
        missing = set(expected) - set(actual)
        if extra or missing:
            found.append(f"{path}: time keys +{sorted(extra)} -{sorted(missing)}")
        return found
    if isinstance(expected, dict) and (_id_map(expected) or _id_map(actual)):
        return found + _elements(list(actual.values()), list(expected.values()), path, lenient,
                                 [str(k) for k in actual])
    if isinstance(expected, dict):
        if path not in lenient:
            extra, missing = set(actual) - set(expected), set(expected) - set(actual)
            if extra or missing:
                found.append(f"{path}: keys +{sorted(extra)} -{sorted(missing)}")
        for key in set(actual) & set(expected):
            found += differences(actual[key], expected[key], f"{path}.{key}", lenient)
        return found
    if isinstance(expected, list):
        return found + _elements(actual, expected, path, lenient, [str(i) for i in range(len(actual))])
    return found


def _elements(actual: list, expected: list, path: str, lenient: frozenset, names: list[str]) -> list[str]:
    if not expected:
        return []
    if not actual:
        return [f"{path}: not comparable: the emulator answered no items where the pair has {len(expected)}"]
    proto, allowed, required = _merge(expected)
    found: list[str] = []
    for name, item in zip(names, actual):
        where = f"{path}[{name}]"
        if isinstance(item, dict) and isinstance(proto, dict) and not _id_map(proto):
            if path + "[]" not in lenient:
                extra, missing = set(item) - allowed, required - set(item)
                if extra or missing:
                    found.append(f"{where}: keys +{sorted(extra)} -{sorted(missing)}")
            for key in set(item) & set(proto):
                found += differences(item[key], proto[key], f"{path}[].{key}", lenient)
        else:
            found += differences(item, proto, f"{path}[]", lenient)
    return found


def compare(status: int, body: Any, pair: dict) -> list[str]:
    """Everything in which the emulator's answer differs from the pair's."""
    want = pair["response"]
    found = []
    if status != want["status"]:
        found.append(f"HTTP {status} where the pair has {want['status']}")
    expected = want["body"]
    if isinstance(expected, dict) and "error" in expected:
        if not isinstance(body, dict) or body.get("error") != expected["error"]:
            found.append(f"error {body.get('error') if isinstance(body, dict) else body!r} "
                         f"where the pair has {expected['error']!r}")
        return found
    for paging in ("total", "next"):
        if isinstance(expected, dict) and isinstance(body, dict) and (paging in expected) != (paging in body):
            found.append(f"$.{paging}: {'present' if paging in body else 'missing'} unlike the pair")
    token = UNCHECKED.set(frozenset(pair.get("unchecked", ())))
    try:
        return found + differences(body, expected, "$", frozenset(pair.get("lenient", ())))
    finally:
        UNCHECKED.reset(token)
