"""The chat hears of each client request once: a plain function of the
request's id, safe to run twice (the request's row is taken for delivery
as a weekly report's is, and marked when sent)."""
from __future__ import annotations

import logging

from ledger import clock
from ledger.client_requests import target_title
from ledger.models import Account, ClientRequest
from reports.models import settings_of
from reports.requests import chat_text

from .context import context
from .reports import _release, _take, _tx, notify_admin, post_to_chat

log = logging.getLogger("hourbook.steering")


def announce_request(request_id: int) -> str:
    """One message to the project chat (or, without one, the installing
    admin). Returns what happened: "sent" or "already"
    (sent before, or being sent by another worker)."""
    if not _take(ClientRequest, request_id, ClientRequest.chat_sent_at.is_(None)):
        return "already"
    try:
        ctx = context()
        with _tx() as s:
            found = s.get(ClientRequest, request_id)
            if found is None:
                raise LookupError(f"no request {request_id}")
            account = s.get(Account, found.account_id)
            assert account is not None
            opts = settings_of(s, account.id)
            about = target_title(s, account.id, item_id=found.item_id, direction_id=found.direction_id,
                                 task_id=found.task_id, entry_id=found.entry_id)
            text = chat_text(account.name, account.language, found.kind, about, found.author, found.source,
                             found.cap_s, found.text)
            portal_id = account.portal_id
        if opts.chat_dialog or opts.notify_user_ids:
            post_to_chat(ctx, portal_id, opts, text)
        else:
            notify_admin(ctx, portal_id, text)
        with _tx() as s:
            s.get(ClientRequest, request_id).chat_sent_at = clock.now()
    finally:
        _release(ClientRequest, request_id)
    return "sent"
