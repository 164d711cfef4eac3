"""Bitrix24 behind the host interface: a thin adapter over `b24/`.

The Bitrix24 handlers (the installer, frames, events) were written before
this interface and call `b24/` directly; this adapter says the same things
in the interface's words, so code that serves any host (the weekly
delivery) asks a host and not a package."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from b24.client import AuthDead
from b24.connection import AppCredentials
from b24.frames import verify_frame
from b24.models import PortalAuth
from b24.portals import install
from hosts.secrets import SecretBox
from ledger.access import account_for_company
from ledger.models import Portal

from . import Viewer


@dataclass
class Bitrix24Host:
    sessions: sessionmaker[Session]
    box: SecretBox
    app: AppCredentials | None
    oauth_server: str
    public_url: str
    rest: Any = None  # portal_id -> b24.client.Rest (jobs.context.JobContext.rest)
    name: str = "bitrix24"

    def install(self, form: dict[str, str], actor: str = "install") -> int:
        assert self.app is not None, "a marketplace install needs the app's credentials"
        return install(self.sessions, self.box, self.app, self.oauth_server, self.public_url, form, actor).portal_id

    def authenticate(self, member_id: str, auth_id: str, lang: str = "ru") -> Viewer:
        with self.sessions() as s:
            row = s.execute(select(Portal.id, Portal.active, PortalAuth.client_endpoint, PortalAuth.kind)
                            .join(PortalAuth, PortalAuth.portal_id == Portal.id)
                            .where(Portal.member_id == member_id)).first()
        if row is None or not row.active:
            raise AuthDead("NOT_INSTALLED", "unknown portal")
        user = verify_frame(member_id, auth_id, row.client_endpoint, app=self.app if row.kind == "oauth" else None,
                            oauth_server=self.oauth_server)
        return Viewer("bitrix24", row.id, user.user_id, lang, user.admin)

    def account_of(self, viewer: Viewer, entity: str, entity_id: int | None) -> int | None:
        with self.sessions() as s:
            portal = s.get(Portal, viewer.place_id)
            found = account_for_company(s, portal, entity_id) if portal is not None and entity == "company" else None
            return found.id if found is not None else None

    def deliver(self, account_id: int, key: str, text: str, dialog: str = "", user_ids: str = "") -> str:
        """The project chat and personal notifications of the account's
        portal (jobs/reports.py keeps the once-per-report mark in the sent
        report's row, so `key` is not needed here)."""
        from ledger.models import Account

        with self.sessions() as s:
            account = s.get(Account, account_id)
            portal_id = account.portal_id if account is not None else None
        if portal_id is None or not (dialog or user_ids):
            return "not here"
        self.post(portal_id, text, dialog, user_ids)
        return "sent"

    def post(self, portal_id: int, text: str, dialog: str = "", user_ids: str = "") -> None:
        rest = self.rest(portal_id)
        if dialog:
            rest.call("im.message.add", {"DIALOG_ID": dialog, "MESSAGE": text})
        for user in (u.strip() for u in user_ids.split(",")):
            if user.isdecimal():
                rest.call("im.notify.personal.add", {"USER_ID": int(user), "MESSAGE": text})
