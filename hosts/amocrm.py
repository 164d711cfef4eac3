"""amoCRM behind the host interface: a thin adapter over `amocrm/`."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from amocrm import accounts
from amocrm.client import Api
from amocrm.connection import Integration, api_for
from amocrm.disposable import Refused, SeenTokens, verify
from amocrm.models import AmoConnection
from hosts.secrets import SecretBox

from . import Viewer


LEAD_TTL_S = 120  # a lead's company, remembered a while: every lead card opened is not an API call


class _LeadCompanies:
    """(connection, lead) → company, for LEAD_TTL_S: amoCRM allows 7 requests
    a second per account (FACTS.md §3), and a busy sales team opens many
    lead cards; the widget should not spend them all."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, int], tuple[float, int | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> tuple[bool, int | None]:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                return False, None
            return True, found[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: tuple[int, int], company_id: int | None) -> None:
        with self._lock:
            if len(self._items) > 10000:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._items[key] = (time.monotonic() + LEAD_TTL_S, company_id)


lead_companies = _LeadCompanies()


class NotConnected(Exception):
    """A valid token from an amoCRM account that is not (or no longer) connected."""


@dataclass
class AmoCRMHost:
    sessions: sessionmaker[Session]
    box: SecretBox
    integration: Integration
    redis: Any = None
    seen: SeenTokens | None = None
    name: str = "amocrm"

    def api(self, connection_id: int, **options: Any) -> Api:
        return api_for(self.sessions, connection_id, self.box, self.integration, self.redis, **options)

    def install(self, account_id: int, code: str, referer: str, actor: str) -> int:
        return accounts.connect(self.sessions, self.box, self.integration, account_id, code, referer, actor)

    def authenticate(self, token: str, lang: str = "ru") -> Viewer:
        """The caller of a widget request: a disposable token amoCRM issued
        to us (Refused → 401), used once, from a connected account
        (NotConnected → 403)."""
        caller = verify(token, self.integration)
        if self.seen is not None and not self.seen.first_use(caller):
            raise Refused("token used before")
        with self.sessions() as s:
            conn = accounts.live(s, caller.amo_account_id)
            if conn is None or conn.status not in ("ok", "dead") or conn.company_id is None:
                raise NotConnected(caller.amo_account_id)
            return Viewer("amocrm", conn.id, caller.user_id, "en" if lang == "en" else "ru", caller.is_admin)

    def account_of(self, viewer: Viewer, entity: str, entity_id: int | None) -> int | None:
        """The connection's account when the card is its company, or a lead
        of that company (asked of amoCRM with the connection's tokens)."""
        with self.sessions() as s:
            conn = s.get(AmoConnection, viewer.place_id)
            if conn is None or conn.company_id is None or entity_id is None:
                return None
            company_id, account_id = conn.company_id, conn.account_id
        if entity == "companies":
            return account_id if entity_id == company_id else None
        if entity == "leads":
            key = (viewer.place_id, entity_id)
            known, lead_company = lead_companies.get(key)
            if not known:
                lead_company = self.api(viewer.place_id).lead_company(entity_id)
                lead_companies.put(key, lead_company)
            return account_id if lead_company == company_id else None
        return None

    def deliver(self, account_id: int, key: str, text: str) -> str:
        with self.sessions() as s:
            conn = accounts.home_of(s, account_id)
            connection_id = conn.id if conn is not None else None
        if connection_id is None:
            return "not here"
        return accounts.post_note(self.sessions, self.api(connection_id), connection_id, key, text)
