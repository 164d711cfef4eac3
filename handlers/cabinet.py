"""GET /cabinet/<token>: the client's view as a standalone page, for people
without a login to the portal; GET /cabinet/<token>.json: the same numbers
(integer seconds, minor units), the plan and the project, for other tools.

The token is a signature over a cabinet link's id and its random nonce;
the link row decides whether it still works (revoked, expired). Anything
wrong answers the same plain 404, so a guess learns nothing.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, g, jsonify, make_response, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from ledger.access import open_cabinet_link
from ledger.db import utcnow
from ledger.models import Account, CabinetLink

from . import db
from .plan_view import plan_json
from .views import account_view, secure

bp = Blueprint("cabinet", __name__)
LANG_COOKIE = "hb_lang"
SEEN_EVERY = timedelta(hours=1)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hourbook.cabinet")


def link_token(link: CabinetLink) -> str:
    return _serializer().dumps([link.id, link.nonce])


def cabinet_url(link: CabinetLink) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for("cabinet.page", token=link_token(link))


def _open(token: str) -> Account:
    return open_link(token)[0]


def open_link(token: str) -> tuple[Account, CabinetLink]:
    """The account and the link a cabinet token opens, or a plain 404."""
    if len(token) > 300:
        abort(404)
    try:
        link_id, nonce = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        abort(404)
    s = db.reader()
    link = open_cabinet_link(s, link_id, nonce)
    if link is None:
        abort(404)
    account = s.get(Account, link.account_id)
    assert account is not None
    now = utcnow()
    if link.last_seen_at is None or now - link.last_seen_at > SEEN_EVERY:
        # Tell the manager the link is in use, at most once an hour: a page
        # view should not be a write.
        w = db.session()
        seen = w.get(CabinetLink, link.id)
        if seen is not None:
            seen.last_seen_at = now
            w.commit()
    wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    g.lang = wanted if wanted in ("ru", "en") else account.language
    return account, link


@bp.get("/cabinet/<token>")
def page(token: str):
    account, link = open_link(token)
    return render_page(account, link, token)


def render_page(account: Account, link: CabinetLink, token: str, status: int = 200, **extra):
    from .steering import NAME_COOKIE, cabinet_form_token

    v = account_view(db.reader(), account.id)
    response = make_response(render_template(
        "cabinet.html", v=v, token=token, links=False,
        refresh_url=url_for("cabinet.part", token=token),
        other_lang="en" if g.lang == "ru" else "ru",
        ask_url=url_for("steering.cabinet_request", token=token), form_token=cabinet_form_token(link.id),
        asker=request.cookies.get(NAME_COOKIE, "")[:100], **extra,
    ), status)
    if request.args.get("lang") in ("ru", "en"):
        # A first-party page, so an ordinary cookie is fine here.
        response.set_cookie(LANG_COOKIE, g.lang, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return secure(response)


@bp.get("/cabinet/<token>/part")
def part(token: str):
    account = _open(token)
    v = account_view(db.reader(), account.id)
    return secure(make_response(render_template("_live.html", v=v, links=False)))


@bp.get("/cabinet/<token>.json")
def data(token: str):
    from .projects import project_json, project_of  # handlers.projects imports the manager's, which imports this

    account = _open(token)
    v = account_view(db.reader(), account.id)
    assert v is not None
    body = v.summary.as_dict()
    body["synced_at"] = v.synced_at.isoformat() if v.synced_at else None
    body.update(plan_json(v.plan))
    body.update(project_json(project_of(account.id, v.summary.now)))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
