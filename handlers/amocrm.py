"""amoCRM as the client's home (issue 17): connecting an amoCRM account to
an Hourbook account, and the widget in its company and lead cards.

    GET  /amocrm/connect/<token>  the manager's link, opened by the client's amoCRM admin
    GET  /amocrm/oauth            the integration's redirect URI (code, referer, state, §1.2)
    GET|POST /amocrm/company      which company card shows the hours
    GET  /amocrm/hook             amoCRM's "integration disconnected" hook (§1.7)
    POST /amocrm/widget           the widget's call, with the disposable token (§5)
    GET  /amocrm/frame[/part]     the page the widget frames, and its minute refresh

Nothing here trusts a request by itself: the connect link and the OAuth
state are signed by us; the referer must be an amoCRM host; a widget call
must carry a disposable token amoCRM signed with our secret, for our
address, not expired, not used before, from a connected account; the frame
page carries our own short-lived signed token (no cookies: the page is a
third-party frame). Refusals are 4xx and write nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, jsonify, make_response, redirect, render_template, \
    request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from amocrm import accounts
from amocrm.client import AmoError, origin
from amocrm.connection import Integration, base_url
from amocrm.disposable import Refused, SeenTokens
from amocrm.models import AmoConnection
from hosts.amocrm import AmoCRMHost, NotConnected
from jobs import context as jobs_context
from ledger.models import Account

from . import db
from .views import account_view, secure

bp = Blueprint("amocrm", __name__)

CONNECT_MAX_AGE_S = 7 * 86400  # the manager's link: a week to open it
STATE_MAX_AGE_S = 3600
FRAME_MAX_AGE_S = 3600
MAX_ID = 2**53  # amoCRM ids are numbers well below this; anything longer is not one


def integration() -> Integration:
    found = jobs_context.amocrm_integration(current_app.config)
    if found is None:
        abort(404, description=_("amoCRM is not set up in this Hourbook."))
    return found


# The used tokens' ids, one store per job context: per process (a forked
# worker builds its own context, and so its own store); in Redis when set.
_seen: dict[int, SeenTokens] = {}


def host() -> AmoCRMHost:
    ctx = jobs_context.context()
    seen = _seen.setdefault(id(ctx), SeenTokens(ctx.redis))
    return AmoCRMHost(ctx.sessions, ctx.box, integration(), ctx.redis, seen=seen)


def _signer(what: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"hourbook.amocrm.{what}")


def _load(what: str, token: str, max_age_s: int) -> Any:
    if not token or len(token) > 1024:
        raise BadSignature("no token")
    return _signer(what).loads(token, max_age=max_age_s)


def page(template: str, status: int = 200, **context: Any):
    return secure(make_response(render_template(template, **context), status))


def message(text: str, status: int, title: str | None = None):
    return page("amocrm/message.html", status, title=title or _("Hourbook and amoCRM"), text=text)


# ---------------------------------------------------------------- the manager's page


@dataclass(frozen=True)
class Panel:
    enabled: bool
    connection: AmoConnection | None
    connect_url: str


def panel(account_id: int) -> Panel:
    """What the manager's account page shows about amoCRM."""
    if jobs_context.amocrm_integration(current_app.config) is None:
        return Panel(False, None, "")
    conn = db.reader().execute(select(AmoConnection).where(AmoConnection.account_id == account_id)
                               .order_by(AmoConnection.id.desc())).scalars().first()
    token = _signer("connect").dumps({"a": account_id})
    url = current_app.config["PUBLIC_URL"].rstrip("/") + url_for("amocrm.connect", token=token)
    return Panel(True, conn, url)


def manager_disconnect(s, account: Account, form, who: str) -> None:
    """The manager's «Disconnect» on a connection of the account
    (handlers/manager.py ACCOUNT_ACTIONS): another account's, or one
    already disconnected, is answered as if it did not exist."""
    row_id = form.integer("connection_id")
    conn = s.get(AmoConnection, row_id) if row_id else None
    if conn is None or conn.account_id != account.id or conn.status == "disconnected":
        form.fail("_", _("This client has no amoCRM account connected."))
        return
    accounts.disconnect(s, conn, who)


# ---------------------------------------------------------------- connecting


@bp.get("/amocrm/connect/<token>")
def connect(token: str):
    amo = integration()
    try:
        data = _load("connect", token, CONNECT_MAX_AGE_S)
        account = db.reader().get(Account, int(data["a"]))
    except SignatureExpired:
        return message(_("This link has expired. Ask your manager for a new one."), 410)
    except (BadSignature, KeyError, TypeError, ValueError):
        return message(_("This link is not valid."), 404)
    if account is None or not account.active:
        return message(_("This link is not valid."), 404)
    g.lang = account.language
    state = _signer("state").dumps({"a": account.id})
    return page("amocrm/connect.html", account=account, consent_url=amo.consent(state))


@bp.get("/amocrm/oauth")
def oauth():
    amo = integration()
    args = request.args
    if args.get("error"):
        return message(_("Access was not granted in amoCRM, so nothing was connected."), 400)
    if args.get("from_widget") and not args.get("state"):
        # The widget-installation call (§1.2) cannot name the client: the
        # manager's link connects. amoCRM does not look at this answer.
        return message(_("To show the hours, open the link your manager sent you."), 200)
    try:
        account_id = int(_load("state", args.get("state", ""), STATE_MAX_AGE_S)["a"])
    except SignatureExpired:
        return message(_("The page was open too long. Open your manager's link again."), 400)
    except (BadSignature, KeyError, TypeError, ValueError):
        return message(_("This request did not come from Hourbook's link."), 400)
    if base_url(amo, args.get("referer", "")) is None:
        return message(_("This request did not come from amoCRM."), 400)
    try:
        connection_id = host().install(account_id, args.get("code", ""), args.get("referer", ""),
                                       actor=f"amocrm admin ({args.get('referer', '')[:100]})")
    except accounts.ConnectRefused as err:
        text = {409: _("This amoCRM account is already connected to another client in Hourbook."),
                404: _("This link is not valid.")}.get(err.status, _("amoCRM did not confirm the connection. "
                                                                     "Open your manager's link again."))
        return message(text, err.status)
    return redirect(url_for("amocrm.company", t=_signer("pick").dumps({"c": connection_id})), 303)


def _picked() -> tuple[AmoConnection, str]:
    token = request.values.get("t", "")
    try:
        connection_id = int(_load("pick", token, STATE_MAX_AGE_S)["c"])
    except (BadSignature, KeyError, TypeError, ValueError):
        abort(403, description=_("This page was open too long or its link is not valid. "
                                 "Open your manager's link again."))
    conn = db.reader().get(AmoConnection, connection_id)
    if conn is None or conn.status == "disconnected":
        abort(403, description=_("This amoCRM account is not connected."))
    account = db.reader().get(Account, conn.account_id)
    g.lang = account.language if account is not None else "ru"
    return conn, token


@bp.get("/amocrm/company")
def company():
    conn, token = _picked()
    query = request.args.get("q", "").strip()[:100]
    try:
        found = []
        for item in host().api(conn.id).companies(query):
            found.append((int(item["id"]), str(item.get("name") or "")))
            if len(found) >= 50:
                break
    except AmoError:
        return message(_("amoCRM did not answer. Try again in a minute."), 503)
    return page("amocrm/company.html", conn=conn, token=token, companies=found, query=query)


@bp.post("/amocrm/company")
def choose():
    conn, _token = _picked()
    raw = request.form.get("company_id", "").strip()
    if not raw.isdecimal() or not 0 < int(raw) < MAX_ID:
        return message(_("Choose a company."), 400)
    try:
        accounts.choose_company(jobs_context.context().sessions, host().api(conn.id), conn.id, int(raw),
                                actor=f"amocrm admin ({conn.subdomain})")
    except accounts.ConnectRefused:
        return message(_("There is no such company in this amoCRM account."), 404)
    except AmoError:
        return message(_("amoCRM did not answer. Try again in a minute."), 503)
    return message(_("Done: the company card in amoCRM now shows the hours from Hourbook."), 200,
                   title=_("amoCRM is connected"))


@bp.get("/amocrm/hook")
def hook():
    """amoCRM's GET when an admin disconnects the integration (§1.7)."""
    amo = integration()
    args = request.args
    account_id = args.get("account_id", "")
    client = args.get("client_uuid") or args.get("client_id") or ""  # the doc names both (§1.7)
    if not accounts.hook_signature_ok(amo, account_id, client, args.get("signature", "")):
        return jsonify(error="signature"), 403
    if int(account_id) >= MAX_ID:
        return jsonify(error="account_id"), 400
    s = db.session()
    conn = accounts.live(s, int(account_id))
    if conn is not None:
        accounts.disconnect(s, conn, "amocrm (integration disconnected)")
        s.commit()
    return jsonify(ok=True)


# ---------------------------------------------------------------- the widget


def _cors(response):
    """The widget runs in the amoCRM page, another origin: it may read our
    answers when that origin is an amoCRM host. Never credentials."""
    asked = request.headers.get("Origin", "")
    amo = jobs_context.amocrm_integration(current_app.config)
    if amo is not None and asked and base_url(amo, urlsplit(asked).netloc) == asked.rstrip("/").lower():
        response.headers["Access-Control-Allow-Origin"] = asked
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "X-Auth-Token, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/amocrm/widget", methods=["OPTIONS"])
def widget_preflight():
    return _cors(make_response("", 204))


def _refuse(status: int, error: str):
    return _cors(make_response(jsonify(error=error), status))


@bp.post("/amocrm/widget")
def widget():
    integration()
    token = request.headers.get("X-Auth-Token", "")
    form = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(form, dict) and not hasattr(form, "get"):
        return _refuse(400, "body")
    entity, raw_id = str(form.get("entity", "")), str(form.get("id", ""))
    lang = "en" if form.get("lang") == "en" else "ru"
    try:
        viewer = host().authenticate(token, lang)
    except Refused as err:
        return _refuse(401, err.reason)
    except NotConnected:
        return _refuse(403, "this amoCRM account is not connected to Hourbook")
    if entity not in ("companies", "leads") or not raw_id.isdecimal() or not 0 < int(raw_id) < MAX_ID:
        return _refuse(400, "entity and id")
    try:
        account_id = host().account_of(viewer, entity, int(raw_id))
    except AmoError:
        return _refuse(503, "amoCRM did not answer")
    if account_id is None:
        return _refuse(404, "this card is not linked to Hourbook")
    ticket = _signer("frame").dumps([viewer.place_id, account_id, viewer.user_id, viewer.lang])
    url = current_app.config["PUBLIC_URL"].rstrip("/") + url_for("amocrm.frame", t=ticket)
    return _cors(make_response(jsonify(url=url)))


@dataclass(frozen=True)
class FrameTicket:
    connection: AmoConnection
    account_id: int
    lang: str


def _ticket() -> FrameTicket:
    token = request.headers.get("X-Hourbook-Token") or request.args.get("t", "")
    try:
        connection_id, account_id, _user, lang = _load("frame", token, FRAME_MAX_AGE_S)
    except SignatureExpired:
        abort(403, description=_("This page has been open too long. Reopen the card in amoCRM."))
    except (BadSignature, TypeError, ValueError):
        abort(403, description=_("This link is not valid. Reopen the card in amoCRM."))
    conn = db.reader().get(AmoConnection, connection_id)
    # Checked on every request: a disconnect stops the page at once.
    if conn is None or conn.status not in ("ok", "dead") or conn.account_id != account_id:
        abort(403, description=_("This amoCRM account is not connected."))
    g.frame_token, g.lang = token, lang
    return FrameTicket(conn, account_id, lang)


def _framed(template: str, **context: Any):
    """A page for the widget's frame: the Bitrix24 widget's view of the
    ticket's account, framed by the connected amoCRM account only."""
    ticket = _ticket()
    v = account_view(db.reader(), ticket.account_id)
    if v is None:
        abort(404)
    parent = origin(ticket.connection.base_url)
    return secure(make_response(render_template(template, v=v, links=False, parent_origin=parent, **context)),
                  parent)


@bp.get("/amocrm/frame")
def frame():
    return _framed("amocrm/frame.html", refresh_url=url_for("amocrm.part"))


@bp.get("/amocrm/frame/part")
def part():
    return _framed("_live.html")


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["amocrm_panel"] = panel
