"""Checking who opened a frame (b24/frames.py): the token must be accepted
by the stored portal and issued to our app; the answer is cached briefly;
the request's DOMAIN is never called."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from b24 import frames
from b24.client import AuthDead
from b24.connection import AppCredentials

CLIENT_ID, SECRET = "app.frames.test", "frames-secret"


@pytest.fixture
def portal(emu):
    emu.register_app(CLIENT_ID, SECRET, "http://127.0.0.1:9")
    p = emu.add_portal("frames.bitrix24.test")
    p.add_user("Ольга", "Новикова")
    emu.grant_tokens(p, CLIENT_ID)
    frames.cache.clear()
    yield p
    frames.cache.clear()


def _app(emu) -> AppCredentials:
    return AppCredentials(CLIENT_ID, SECRET, emu.url + "/oauth/token/")


def test_admin_and_user_are_told_apart(emu, portal):
    for user_id, admin in ((1, True), (2, False)):
        _, form = emu.open_frame(portal, CLIENT_ID, user_id, "DEFAULT")
        user = frames.verify_frame(portal.member_id, form["AUTH_ID"], portal.client_endpoint, app=_app(emu),
                                   oauth_server=emu.url + "/")
        assert (user.user_id, user.admin) == (user_id, admin)


def test_answer_is_cached_briefly(emu, portal):
    _, form = emu.open_frame(portal, CLIENT_ID, 1, "DEFAULT")
    emu.reset_counts()
    for _ in range(5):
        frames.verify_frame(portal.member_id, form["AUTH_ID"], portal.client_endpoint, app=_app(emu),
                            oauth_server=emu.url + "/")
    assert emu.calls["profile"] == 1 and emu.requests["app.info"] <= 1


def test_forged_foreign_and_other_portal_tokens_are_refused(emu, portal):
    other_app = "app.someone.else"
    emu.register_app(other_app, "x", "http://127.0.0.1:9")
    emu.grant_tokens(portal, other_app)
    other_portal = emu.add_portal("other.bitrix24.test")
    emu.grant_tokens(other_portal, CLIENT_ID)
    _, foreign = emu.open_frame(portal, other_app, 1, "DEFAULT")
    _, elsewhere = emu.open_frame(other_portal, CLIENT_ID, 1, "DEFAULT")
    for token, member_id in (("forged-token", portal.member_id), (foreign["AUTH_ID"], portal.member_id),
                             (elsewhere["AUTH_ID"], portal.member_id), ("", portal.member_id),
                             ("x" * 600, portal.member_id)):
        with pytest.raises(AuthDead):
            frames.verify_frame(member_id, token, portal.client_endpoint, app=_app(emu), oauth_server=emu.url + "/")


def test_the_requests_domain_is_never_called(emu, portal, tmp_path):
    """A forged POST may name any DOMAIN; only the stored endpoint is asked."""
    hits = []

    class Trap(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    trap = HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        from tests.live import serve_app

        with serve_app(emu, {"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"}) as (app, url):
            import requests

            from tests.live import CLIENT_ID as APP_ID

            assert emu.install(portal, APP_ID).status_code == 200
            target, form = emu.open_frame(portal, APP_ID, 1, "DEFAULT")
            evil = target.replace("DOMAIN=frames.bitrix24.test", f"DOMAIN=127.0.0.1:{trap.server_port}")
            answer = requests.post(evil, data={**form, "DOMAIN": f"127.0.0.1:{trap.server_port}"}, timeout=30)
            assert answer.status_code == 200
            assert hits == []
    finally:
        trap.shutdown()


def test_deal_company(emu, portal):
    company = portal.add_company("ООО «Ромашка»")
    deal = portal.add_deal("Сопровождение", company)
    lonely = portal.add_deal("Без компании")
    _, form = emu.open_frame(portal, CLIENT_ID, 1, "DEFAULT")
    assert frames.deal_company(portal.client_endpoint, form["AUTH_ID"], deal) == company
    assert frames.deal_company(portal.client_endpoint, form["AUTH_ID"], lonely) is None
    assert frames.deal_company(portal.client_endpoint, form["AUTH_ID"], 999999) is None
    assert frames.deal_company(portal.client_endpoint, "forged", deal) is None
