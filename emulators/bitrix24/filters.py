"""Filter, order and page lists the way Bitrix24 list methods do.

Filter keys carry an operator prefix before the field name
(`">=CREATED_DATE"`, `"!USER_ID"`, `"@ID"`); a list value means "any of".
Dates are compared as instants (clock.parse); a value that cannot be read
matches nothing, which is what user.get documents (facts §9). Pages are 50
rows; `start=-1` skips counting (no `total`, no `next`; facts §6).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import clock, errors
from .php import as_list
from .rest import Page

PAGE = 50

# Longest first, so ">=" is not read as ">" + "=FIELD".
OPERATORS = ("!><", "><", ">=", "<=", "!=", "!@", "=%", "%=", "!%", ">", "<", "!", "@", "%", "=", "?")


@dataclass(frozen=True)
class Field:
    get: Callable[[Any], Any]
    kind: str = "int"   # int | str | date | multi (a list of strings) | yn


def split_key(key: str) -> tuple[str, str]:
    for op in OPERATORS:
        if key.startswith(op):
            return op, key[len(op):]
    return "", key


def _convert(value: Any, kind: str, tz: str):
    """The wanted value in the field's type; a sentinel when unreadable."""
    if kind == "int":
        try:
            return int(str(value).strip())
        except (TypeError, ValueError):
            return _UNREADABLE
    if kind == "date":
        parsed = clock.parse(value, tz)
        return _UNREADABLE if parsed is None else parsed
    if kind == "yn":
        return "Y" if value in (True, "Y", "y", 1, "1", "true") else "N"
    return "" if value is None else str(value)


_UNREADABLE = object()


def like(pattern: str) -> re.Pattern:
    parts = (re.escape(p) for p in pattern.split("%"))
    return re.compile("^" + ".*".join(parts).replace("_", ".") + "$", re.IGNORECASE | re.DOTALL)


def _compare(have, op: str, wants: list) -> bool:
    if any(w is _UNREADABLE for w in wants):
        return False
    if op in ("", "=", "@"):
        return have in wants
    if op in ("!", "!=", "!@"):
        return have not in wants
    if op in ("%", "?"):
        return any(str(w).lower() in str(have).lower() for w in wants)
    if op == "!%":
        return not any(str(w).lower() in str(have).lower() for w in wants)
    if op in ("=%", "%="):
        return any(like(str(w)).match(str(have)) for w in wants)
    if have is None:
        return False
    if op in ("><", "!><"):
        if len(wants) < 2:
            return False
        inside = wants[0] <= have <= wants[1]
        return inside if op == "><" else not inside
    want = wants[0]
    try:
        return {">": have > want, ">=": have >= want, "<": have < want, "<=": have <= want}[op]
    except TypeError:
        return False


def compile_filter(filt: Any, fields: Mapping[str, Field], tz: str, *, allowed_ops=OPERATORS,
                   strict: bool = False, special: Mapping[str, Callable] | None = None) -> Callable[[Any], bool]:
    """A predicate for rows. Unknown fields raise (strict) or are ignored.

    `special` maps a field name to `fn(row, op, wants) -> bool` for fields
    that do not fit the table (e.g. tasks' STATUS meta values)."""
    tests: list[Callable[[Any], bool]] = []
    for key, value in (filt.items() if isinstance(filt, Mapping) else []):
        op, name = split_key(str(key))
        name = name.upper()
        if special and name in special:
            wants = as_list(value) if isinstance(value, (list, Mapping)) else [value]
            tests.append(lambda row, f=special[name], op=op, w=wants: f(row, op, w))
            continue
        spec = fields.get(name)
        if spec is None or (op and op not in allowed_ops):
            if strict:
                raise errors.core(f"Invalid method parameters provided (filter by {key})")
            continue
        raw = as_list(value) if isinstance(value, (list, Mapping)) else [value]
        wants = [_convert(v, "str" if spec.kind == "multi" else spec.kind, tz) for v in raw]
        if spec.kind == "multi":
            def test(row, spec=spec, op=op, wants=wants):
                have = set(spec.get(row) or ())
                hit = bool(have & set(wants))
                return not hit if op in ("!", "!=", "!@") else hit
        else:
            def test(row, spec=spec, op=op, wants=wants):
                return _compare(spec.get(row), op, wants)
        tests.append(test)
    return lambda row: all(t(row) for t in tests)


def sort_rows(rows: list, order: Any, fields: Mapping[str, Field], default: tuple[str, str]) -> list:
    """Stable multi-key sort; unknown keys are ignored."""
    keys = [(str(k).upper(), str(v).lower()) for k, v in order.items()] if isinstance(order, Mapping) and order \
        else [default]
    rows = list(rows)
    for name, direction in reversed(keys):
        spec = fields.get(name)
        if spec is None:
            continue
        rows.sort(key=lambda r, g=spec.get: (g(r) is not None, g(r) if g(r) is not None else 0),
                  reverse=direction == "desc")
    return rows


def page(rows: list, start: int, size: int = PAGE) -> Page:
    """One page of 50 with `total` and `next` (list-method-response-shape.txt)."""
    if start == -1:
        return Page(rows[:size])
    start = max(0, start)
    chunk = rows[start:start + size]
    nxt = start + size if start + size < len(rows) else None
    return Page(chunk, total=len(rows), next=nxt)
