"""Every recorded pair, replayed against the emulator: the answer must have
the pair's shape (tests/conformance/shape.py) — keys, value kinds, paging
fields, error codes and HTTP status.

Pairs live in pairs/docs/ (written from the examples of the Bitrix24 REST
docs, each naming its page) and pairs/recorded/ (what `--record DIR` saved
from a portal, b24/recording.py). A file dropped into either folder is one
more test. Before a pair is replayed, the emulator is given what its answer
shows (seed.py), in a portal of its own; `context` says who calls:
`webhook` (the admin's incoming webhook, the default), `webhook:user` (a
non-admin's), `webhook:noscope` (the admin's, with the
`task` scope only), `webhook:wrong` (a wrong secret),
`webhook:over-limit` (the leaky bucket full), `app` (the app's OAuth token
of the admin), `app:user` (of a plain user), `app:expired` (an expired one).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import requests

from tests.conformance.seed import Seeder, app_caller
from tests.conformance.shape import compare

PAIRS = Path(__file__).resolve().parent / "pairs"
FILES = sorted(PAIRS.glob("*/*.json"))
APP_ID, APP_SECRET = "app.conformance.1", "conformance-secret-conformance-secret-00"
_portals = itertools.count(1)


def load(path: Path) -> dict:
    pair = json.loads(path.read_text(encoding="utf-8"))
    for key in ("method", "request", "response", "source"):
        assert key in pair, f"{path.name}: a pair needs {key!r}"
    return pair


@pytest.fixture(scope="module")
def emulator():
    from emulators.bitrix24 import Emulator

    with Emulator() as emu:
        emu.register_app(APP_ID, APP_SECRET, "http://hourbook.example.com")
        yield emu


def test_there_are_pairs_for_every_method_hourbook_calls():
    methods = {load(f)["method"] for f in FILES}
    used = {"task.elapseditem.getlist", "tasks.task.list", "batch", "user.get", "profile", "server.time",
            "app.info", "event.bind", "event.get", "event.offline.get", "placement.bind", "placement.get",
            "crm.company.list", "im.message.add", "im.notify.personal.add"}
    assert used <= methods, sorted(used - methods)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_emulator_answers_in_the_pairs_shape(emulator, path):
    pair = load(path)
    emu = emulator
    p = emu.add_portal(f"conformance{next(_portals)}.bitrix24.test")
    p.rate_limit = None
    context = pair.get("context", "webhook")
    who, _, variant = context.partition(":")
    user = 1
    if variant == "user":
        user = p.add_user("Обычный", "Сотрудник")
    if who == "app":
        token = emu.grant_tokens(p, APP_ID, user)["access_token"]
        admin_token = emu.grant_tokens(p, APP_ID, 1)["access_token"] if user != 1 else token
        seeder = Seeder(p, app_caller(p.client_endpoint, admin_token))
    else:
        scope = {"user": ("user_brief",), "noscope": ("task",)}.get(variant)
        hook = p.webhook(user, scope=scope)
        seeder = Seeder(p)
    params = pair["request"]["params"]
    seeder.seed(pair["method"], params, pair["response"]["body"])
    if who == "app":
        if variant == "expired":
            emu.tokens.expire_portal(p.domain)
        url = p.client_endpoint + pair["method"]
        if isinstance(params, list):
            answer = requests.post(url, params={"auth": token}, json=params, timeout=10)
        else:
            answer = requests.post(url, json={**params, "auth": token}, timeout=10)
    else:
        if variant == "wrong":
            hook = hook.rstrip("/").rsplit("/", 1)[0] + "/not-the-secret/"
        if variant == "over-limit":
            p.rate_limit = (0.001, 1)
            requests.post(hook + "server.time", json={}, timeout=10)
        answer = requests.post(hook + pair["method"], json=params, timeout=10)
    try:
        body = answer.json()
    except ValueError:
        body = answer.text
    problems = compare(answer.status_code, body, pair)
    assert not problems, f"{path.name} ({pair['source']}):\n  " + "\n  ".join(problems)
