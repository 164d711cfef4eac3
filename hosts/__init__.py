"""Hosts: the CRMs where a client sees Hourbook (PRODUCT.md «Host»).

Time always comes from a Bitrix24 portal's records and lives in the ledger;
a host only shows it and hears about it. What Hourbook asks of a host is
this small interface, and each host answers it from its own package:

    install(...)        connect the host to Hourbook (Bitrix24: the
                        installer POST; amoCRM: the OAuth code exchange)
    authenticate(...)   who is calling from inside the host, proven by the
                        host (Bitrix24: the frame's AUTH_ID, checked with
                        the portal; amoCRM: the widget's disposable JWT)
    account_of(...)     the Hourbook account a card shows, or None
    deliver(...)        put a message where the account's people read it
                        (Bitrix24: the project chat; amoCRM: a note on the
                        company card), once per key

`hosts.bitrix24` is a thin adapter over `b24/`, `hosts.amocrm` over
`amocrm/`. The ledger, the views and the reports know no host: they get an
account id and give text.

This package also holds what both hosts share: sealed tokens at rest
(`hosts.secrets`) and request pacing (`hosts.limits`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Viewer:
    """Someone the host vouches for, looking at one of its cards."""

    host: str  # "bitrix24" | "amocrm"
    place_id: int  # the portal id, or the amoCRM connection id
    user_id: int  # the host's own user id
    lang: str  # "ru" | "en"
    admin: bool = False


class Host(Protocol):
    name: str

    def install(self, *args: Any, **kwargs: Any) -> int:
        """Connect; the id of the portal or connection made or renewed."""

    def authenticate(self, *args: Any, **kwargs: Any) -> Viewer:
        """Who calls; raises the host's refusal when the host does not vouch."""

    def account_of(self, viewer: Viewer, entity: str, entity_id: int | None) -> int | None:
        """The Hourbook account the card (`entity` `entity_id`) shows to `viewer`."""

    def deliver(self, account_id: int, key: str, text: str) -> str:
        """Post `text` for the account's people; "sent", "already" (the key
        was delivered before) or "not here" (the account does not live in
        this host)."""
