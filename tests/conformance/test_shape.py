"""The shape comparison catches what it must (tests/conformance/shape.py)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from tests.conformance.shape import compare

PAIR = json.loads((Path(__file__).parent / "pairs" / "docs" / "task.elapseditem.getlist.portal-wide.json").read_text())


def answer():
    return copy.deepcopy(PAIR["response"]["body"])


def test_the_pairs_own_answer_has_its_shape():
    assert compare(200, answer(), PAIR) == []


def test_values_may_differ():
    body = answer()
    body["result"][0].update(ID="77", SECONDS="5", COMMENT_TEXT="другое")
    body["total"] = 9
    assert compare(200, body, PAIR) == []


def test_a_missing_or_extra_key_a_changed_kind_or_status_is_caught():
    body = answer()
    del body["result"][0]["MINUTES"]
    body["result"][0]["EXTRA"] = "1"
    body["result"][0]["SECONDS"] = 3600
    problems = compare(500, body, PAIR)
    assert any("HTTP 500" in p for p in problems)
    assert any("+['EXTRA'] -['MINUTES']" in p for p in problems)
    assert any("SECONDS: number where the pair has str" in p for p in problems)


def test_a_missing_paging_field_is_caught():
    body = answer()
    del body["total"]
    assert any("$.total" in p for p in compare(200, body, PAIR))


def test_an_empty_list_where_the_pair_has_items_is_not_comparable():
    body = answer()
    body["result"] = []
    assert any("not comparable" in p for p in compare(200, body, PAIR))


def test_an_error_code_must_match():
    pair = {"response": {"status": 401, "body": {"error": "expired_token", "error_description": ""}}}
    assert compare(401, {"error": "expired_token", "error_description": "x"}, pair) == []
    assert compare(401, {"error": "NO_AUTH_FOUND", "error_description": "x"}, pair)


def test_time_keys_must_be_documented():
    body = answer()
    body["time"]["operating"] = 0.1  # documented later than the example: allowed
    assert compare(200, body, PAIR) == []
    body["time"]["surprise"] = 1
    assert compare(200, body, PAIR)
