"""`batch`: up to 50 calls in one request (facts §6; settings/how-to-call-
rest-api/batch.md; CRestProvider::methodsBatch in rest_provider.php).

* `cmd` is a map or a list of `"method?param=value&…"` query strings,
  parsed like any query (PHP `parse_str`); `halt` 0/1 stops at the first
  error. Calls run in order with the batch's own auth.
* After parsing, `$result[cmd][field]`, `$result[cmd][0][field]` (and
  `$next`, `$total`, `$time`, `$error`) in parameter names and values are
  replaced from earlier answers — a whole-value reference keeps the value's
  type (a list stays a list). A reference to something that does not exist
  fails that command (INVALID_ARG_VALUE) instead of sending the method a
  stray array, which is what the portal would do.
* More than 50 calls: the docs and the source agree that the calls beyond
  the 50th each fail with ERROR_BATCH_LENGTH_EXCEEDED while the first 50
  run (batch.md note; methodsBatch); the batch itself answers 200.
* A nested `batch` fails with ERROR_BATCH_METHOD_NOT_ALLOWED (rest 24.0.0+).
* The answer is `{result, result_error, result_total, result_next,
  result_time}`; an empty map prints as `[]` as PHP does
  (b24-examples/batch.json, batch.error-halt0.json, batch.error-halt1.json).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from . import rest
from .errors import RestError
from .php import as_dict, parse_query, php_array
from .rest import Call, method

MAX_COMMANDS = 50
_REF = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]]*\])+)", re.IGNORECASE)


class Unresolved(Exception):
    pass


def _php_true(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def _resolve(kind: str, path: str, answers: Mapping[str, dict]) -> Any:
    node: Any = answers[kind.lower()]
    for key in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(node, list) and key.lstrip("-").isdigit() and -len(node) <= int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            raise Unresolved(f"${kind}{path}")
    return node


def _substitute(value: Any, answers: Mapping[str, dict]) -> Any:
    if isinstance(value, Mapping):
        return {str(_substitute(k, answers)): _substitute(v, answers) for k, v in value.items()}
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REF.fullmatch(value)
    if whole:
        return _resolve(whole.group(1), whole.group(2), answers)

    def text(match: re.Match) -> str:
        found = _resolve(match.group(1), match.group(2), answers)
        if isinstance(found, (Mapping, list)):
            raise Unresolved(match.group(0))
        return str(found)

    return _REF.sub(text, value)


# A sync sends the same chained commands again and again; parsing them is
# most of a batch's cost here. _substitute copies every mapping it returns,
# so the cached parse is never handed out to be changed.
_parse_command = functools.lru_cache(maxsize=4096)(parse_query)


@method("batch")
def batch(call: Call) -> dict:
    commands = as_dict(call.get("cmd") or {})
    halt = _php_true(call.get("halt", 0))
    answers: dict[str, dict] = {"result": {}, "next": {}, "total": {}, "time": {}, "error": {}}
    for n, (key, command) in enumerate(commands.items()):
        try:
            if n >= MAX_COMMANDS:
                raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
            name, _, query = str(command).partition("?")
            name = name.strip().lower()
            if name.endswith(".json"):
                name = name[:-5]
            if name == "batch":
                raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
            try:
                params = _substitute(_parse_command(query), answers)
            except Unresolved as missing:
                raise RestError("INVALID_ARG_VALUE", f"Unresolved batch reference {missing}", 400) from None
            body = rest.execute(call.emu, call.portal, call.auth, name, params)
        except RestError as err:
            answers["error"][key] = err.body()
            if halt:
                break
            continue
        answers["result"][key] = body["result"]
        if "total" in body:
            answers["total"][key] = body["total"]
        if "next" in body:
            answers["next"][key] = body["next"]
        answers["time"][key] = body["time"]
    return {
        "result": php_array(answers["result"]),
        "result_error": php_array(answers["error"]),
        "result_total": php_array(answers["total"]),
        "result_next": php_array(answers["next"]),
        "result_time": php_array(answers["time"]),
    }
