"""Bitrix24 posts events form-encoded with PHP-style nested keys
(`data[FIELDS_AFTER][ID]=5`, `auth[member_id]=…`); this turns them back into
nested dicts (bitrix24-facts §3.2)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PART = re.compile(r"\[([^\[\]]*)\]")
MAX_DEPTH = 6  # events nest three levels; anything deeper is not Bitrix24


class BadForm(ValueError):
    pass


def unflatten(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`[("auth[member_id]", "x"), ("event", "E")]` → `{"auth": {"member_id": "x"}, "event": "E"}`.
    A key used both as a value and as a container is malformed."""
    result: dict[str, Any] = {}
    for key, value in items:
        head, _, rest = key.partition("[")
        if not head:
            raise BadForm(f"malformed key: {key!r}")
        parts = [head] + (_PART.findall("[" + rest) if rest else [])
        if rest and "[" + rest != "".join(f"[{p}]" for p in parts[1:]):
            raise BadForm(f"malformed key: {key!r}")
        if len(parts) > MAX_DEPTH:
            raise BadForm(f"key nested too deep: {key!r}")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise BadForm(f"conflicting key: {key!r}")
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict):
            raise BadForm(f"conflicting key: {key!r}")
        node[last] = value
    return result
