"""Connecting an amoCRM account to an Hourbook account, choosing the company
card that shows its hours, disconnecting, and posting the weekly note.

The connection is made only through the manager's link: its signed `state`
names the Hourbook account. amoCRM's widget-installation call to the same
redirect URI (`from_widget`, no state, never resent, §1.2) cannot say which
client it is, so it connects nothing; the admin opens the manager's link.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hosts.secrets import SecretBox
from ledger import clock
from ledger.contracts import audit
from ledger.models import Account

from .client import AmoError, Api
from .connection import HeldToken, Integration, base_url, store_tokens, token_request
from .models import AmoConnection, AmoNote


class ConnectRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def live(session: Session, amo_account_id: int) -> AmoConnection | None:
    return session.execute(select(AmoConnection).where(
        AmoConnection.amo_account_id == amo_account_id, AmoConnection.status != "disconnected")).scalar_one_or_none()


def home_of(session: Session, account_id: int) -> AmoConnection | None:
    """The account's connection when the account lives in amoCRM: connected
    and a company card chosen."""
    return session.execute(select(AmoConnection).where(
        AmoConnection.account_id == account_id, AmoConnection.status.in_(("ok", "dead")),
        AmoConnection.company_id.is_not(None)).order_by(AmoConnection.id.desc())).scalars().first()


def connect(sessions: sessionmaker[Session], box: SecretBox, integration: Integration, account_id: int,
            code: str, referer: str, actor: str) -> int:
    """Exchange the code, learn which amoCRM account it is, keep the tokens
    sealed; the connection id. A connection stays `pending` until a company
    card is chosen."""
    base = base_url(integration, referer)
    if base is None:
        raise ConnectRefused(400, "the referer is not an amoCRM account")
    if not code or len(code) > 2048 or not code.isprintable():
        raise ConnectRefused(400, "no authorization code")
    with sessions() as s:
        account = s.get(Account, account_id)
        if account is None or not account.active:
            raise ConnectRefused(404, "no such account")
    try:
        answer = token_request(integration, base, grant_type="authorization_code", code=code)
        info = Api(base, HeldToken(str(answer["access_token"]))).account()
        amo_id, subdomain = int(info["id"]), str(info.get("subdomain") or "")[:255]
    except (AmoError, ValueError, TypeError) as err:
        raise ConnectRefused(403, f"amoCRM refused the code: {err}") from None
    with sessions() as s, s.begin():
        conn = live(s, amo_id)
        if conn is not None and conn.account_id != account_id:
            raise ConnectRefused(409, "this amoCRM account is connected to another client")
        if conn is None:
            conn = AmoConnection(account_id=account_id, amo_account_id=amo_id, refresh_count=0,
                                 connected_at=clock.now())
            s.add(conn)
        conn.base_url, conn.subdomain, conn.connected_by = base, subdomain, actor[:255]
        store_tokens(conn, box, answer)
        conn.refresh_count = 0
        conn.status = "ok" if conn.company_id else "pending"
        conn.dead_reason = None
        s.flush()
        audit(s, actor, "amocrm.connect", account_id=account_id,
              after={"amo_account_id": amo_id, "subdomain": subdomain, "connection_id": conn.id})
        return conn.id


def choose_company(sessions: sessionmaker[Session], api: Api, connection_id: int, company_id: int,
                   actor: str) -> None:
    """The company card that shows the hours: it must exist in this amoCRM
    account (asked with its own tokens, so another account's company is not
    found)."""
    company = api.company(company_id)
    if not company or int(company.get("id") or 0) != company_id or company.get("is_deleted"):
        raise ConnectRefused(404, "no such company in this amoCRM account")
    with sessions() as s, s.begin():
        conn = s.get(AmoConnection, connection_id)
        if conn is None or conn.status == "disconnected":
            raise ConnectRefused(404, "not connected")
        conn.company_id, conn.company_name = company_id, str(company.get("name") or "")[:255]
        conn.status, conn.updated_at = "ok", clock.now()
        audit(s, actor, "amocrm.company", account_id=conn.account_id, after={"company_id": company_id})


def disconnect(session: Session, conn: AmoConnection, actor: str) -> None:
    """The tokens are forgotten; the row and the notes stay, for the record."""
    if conn.status == "disconnected":
        return
    conn.status, conn.disconnected_at, conn.updated_at = "disconnected", clock.now(), clock.now()
    conn.access_token = conn.refresh_token = None
    conn.expires_at = None
    audit(session, actor, "amocrm.disconnect", account_id=conn.account_id,
          before={"amo_account_id": conn.amo_account_id, "connection_id": conn.id})


def hook_signature_ok(integration: Integration, account_id: str, client_uuid: str, signature: str) -> bool:
    """The disconnect hook's proof (§1.7): HMAC-SHA256 of
    "<client_id>|<account_id>" keyed with our secret, hex."""
    if client_uuid != integration.client_id or not account_id.isdecimal() or len(signature) != 64:
        return False
    expected = hmac.new(integration.client_secret.encode(), f"{integration.client_id}|{account_id}".encode(),
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def post_note(sessions: sessionmaker[Session], api: Api, connection_id: int, key: str, text: str) -> str:
    """The weekly summary as a note on the company card, once per `key`.

    The note's row is written before the note is sent; a row left without
    `sent_at` (a worker died between the two) is finished by looking for the
    same text among the card's latest notes before posting again."""
    with sessions() as s, s.begin():
        conn = s.get(AmoConnection, connection_id)
        if conn is None or conn.company_id is None:
            return "not here"
        note = s.execute(select(AmoNote).where(AmoNote.key == key)).scalar_one_or_none()
        if note is not None and note.sent_at is not None:
            return "already"
        retry = note is not None  # a row without sent_at: a worker died after writing it
        if note is None:
            note = AmoNote(key=key, connection_id=conn.id, company_id=conn.company_id, created_at=clock.now())
            s.add(note)
            s.flush()
        note_id, company_id = note.id, note.company_id
    found = _find(api, company_id, text) if retry else None
    posted = found if found is not None else api.add_note(company_id, text, request_id=key[:64])
    with sessions() as s, s.begin():
        note = s.get(AmoNote, note_id)
        note.note_id, note.sent_at = posted, clock.now()
    return "sent"


def _find(api: Api, company_id: int, text: str) -> int | None:
    for seen, item in enumerate(api.notes(company_id)):
        params: Any = item.get("params") or {}
        if params.get("text") == text:
            return int(item["id"])
        if seen >= 50:  # the latest notes only: ours was posted minutes ago
            return None
    return None
