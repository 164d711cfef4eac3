"""PHP's way of putting nested arrays into query strings, both directions.

Bitrix24 is PHP: a request's query string and form body are read with
`parse_str` (`filter[>ID]=5&select[]=ID` → nested arrays), a batch command
is a query string parsed the same way (facts §6), and event handlers get
their payload flattened back with `http_build_query` (facts §3.2,
b24-examples/ONTASKUPDATE.form-urlencoded.DERIVED.txt).

A PHP array is one ordered map; here it is a dict with string keys, and key
order is kept because the legacy positional methods read values in order
(facts §4.1). `as_list` gives `array_values` for code that wants a list.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

_FIRST = re.compile(r"^([^\[]*)")
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _next_index(node: dict) -> str:
    ints = [int(k) for k in node if isinstance(k, str) and k.lstrip("-").isdigit()]
    return str(max(ints) + 1 if ints else 0)


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`parse_str` over already-decoded (name, value) pairs."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        head = _FIRST.match(name).group(1)
        if head == "":
            continue  # PHP drops a name that starts with "["
        keys = [head] + _BRACKETS.findall(name[len(head):])
        node = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if key == "":
                key = _next_index(node)
            if last:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
    return out


def parse_query(query: str) -> dict[str, Any]:
    """`parse_str` of a raw (percent-encoded) query string."""
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def _scalar(value: Any) -> str | None:
    if value is None:
        return None  # http_build_query skips nulls
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def flatten(data: Mapping[str, Any] | list, prefix: str = "") -> list[tuple[str, str]]:
    """`http_build_query` as pairs: `{"data": {"FIELDS": {"ID": 1}}}` →
    `[("data[FIELDS][ID]", "1")]`. An empty array adds nothing, as in PHP
    (so ONOFFLINEEVENT's `"data": []` is simply absent on the wire)."""
    items = data.items() if isinstance(data, Mapping) else enumerate(data)
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (Mapping, list, tuple)):
            pairs.extend(flatten(value if not isinstance(value, tuple) else list(value), name))
        else:
            text = _scalar(value)
            if text is not None:
                pairs.append((name, text))
    return pairs


def build_query(data: Mapping[str, Any]) -> str:
    return urlencode(flatten(data))


def as_list(value: Any) -> list:
    """PHP `array_values`: a list stays, a map gives its values in order,
    a scalar becomes a one-item list, null/"" an empty one."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return [value]


def as_dict(value: Any) -> dict:
    """The other view of a PHP array: a list becomes {"0": .., "1": ..}."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def is_array(value: Any) -> bool:
    return isinstance(value, (Mapping, list))


def php_array(value: Any) -> Any:
    """How PHP's json_encode prints an array: an empty one as `[]`, one with
    keys 0..n-1 as a list. Used for the batch envelope, whose maps come out
    as `[]` when empty (b24-examples/batch.error-halt0.json)."""
    if isinstance(value, Mapping):
        if not value:
            return []
        if all(str(k) == str(i) for i, k in enumerate(value)):
            return list(value.values())
    return value
