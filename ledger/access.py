"""Who may see and manage an account: the managers an administrator names,
the standalone cabinet links a manager hands to a client, and the people
who receive reports. Plain settings, audited like every other change."""
from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .contracts import LedgerError, audit
from .db import utcnow
from .models import Account, AccountBinding, CabinetLink, Manager, Portal, ReportRecipient

# An address is checked for shape only; whether it exists is the mail server's business.
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
MAX_LINK_DAYS = 3660


# ---------------------------------------------------------------- managers


def managers(session: Session, portal_id: int) -> list[Manager]:
    return list(session.execute(select(Manager).where(Manager.portal_id == portal_id)
                                .order_by(Manager.user_id)).scalars())


def is_manager(session: Session, portal_id: int, user_id: int) -> bool:
    return session.execute(select(Manager.id).where(
        Manager.portal_id == portal_id, Manager.user_id == user_id)).first() is not None


def add_manager(session: Session, portal: Portal, user_id: int, name: str = "", *, actor: str,
                now: datetime | None = None) -> Manager:
    if type(user_id) is not int or user_id <= 0:
        raise LedgerError("a manager is a portal user id")
    found = session.execute(select(Manager).where(
        Manager.portal_id == portal.id, Manager.user_id == user_id)).scalar_one_or_none()
    if found is not None:
        return found
    manager = Manager(portal_id=portal.id, user_id=user_id, name=(name or "").strip()[:255], added_by=actor,
                      added_at=now or utcnow())
    session.add(manager)
    session.flush()
    audit(session, actor, "manager.add", portal_id=portal.id, after={"user_id": user_id, "name": manager.name},
          now=now)
    return manager


def remove_manager(session: Session, manager: Manager, *, actor: str, now: datetime | None = None) -> None:
    audit(session, actor, "manager.remove", portal_id=manager.portal_id,
          before={"user_id": manager.user_id, "name": manager.name}, now=now)
    session.delete(manager)
    session.flush()


# ---------------------------------------------------------------- cabinet links


def cabinet_links(session: Session, account_id: int) -> list[CabinetLink]:
    return list(session.execute(select(CabinetLink).where(CabinetLink.account_id == account_id)
                                .order_by(CabinetLink.id.desc())).scalars())


def create_cabinet_link(session: Session, account: Account, *, actor: str, label: str = "",
                        valid_days: int | None = None, now: datetime | None = None) -> CabinetLink:
    now = now or utcnow()
    if valid_days is not None and (type(valid_days) is not int or not 1 <= valid_days <= MAX_LINK_DAYS):
        raise LedgerError(f"a link is valid for 1 to {MAX_LINK_DAYS} days, or without end")
    link = CabinetLink(account_id=account.id, nonce=secrets.token_hex(16), label=(label or "").strip()[:255],
                       created_by=actor, created_at=now,
                       expires_at=now + timedelta(days=valid_days) if valid_days else None)
    session.add(link)
    session.flush()
    audit(session, actor, "cabinet.create", portal_id=account.portal_id, account_id=account.id,
          after={"link_id": link.id, "label": link.label, "expires_at": link.expires_at}, now=now)
    return link


def revoke_cabinet_link(session: Session, link: CabinetLink, *, actor: str, now: datetime | None = None) -> None:
    if link.revoked_at is not None:
        return
    now = now or utcnow()
    link.revoked_at = now
    account = session.get(Account, link.account_id)
    audit(session, actor, "cabinet.revoke", portal_id=account.portal_id if account else None,
          account_id=link.account_id, before={"link_id": link.id}, now=now)


def rotate_cabinet_link(session: Session, link: CabinetLink, *, actor: str, now: datetime | None = None) -> CabinetLink:
    """A new link with the same label and lifetime; the old one stops working."""
    now = now or utcnow()
    account = session.get(Account, link.account_id)
    assert account is not None
    days = None
    if link.expires_at is not None:
        days = max(1, min(MAX_LINK_DAYS, round((link.expires_at - link.created_at) / timedelta(days=1))))
    revoke_cabinet_link(session, link, actor=actor, now=now)
    return create_cabinet_link(session, account, actor=actor, label=link.label, valid_days=days, now=now)


def open_cabinet_link(session: Session, link_id: int, nonce: str, now: datetime | None = None) -> CabinetLink | None:
    """The link, if it exists, matches, is not revoked or expired, and its
    account and portal are active; otherwise None (the caller answers 404
    and says nothing about why)."""
    now = now or utcnow()
    link = session.get(CabinetLink, link_id) if type(link_id) is int and 0 < link_id < 2**31 else None
    if link is None or not isinstance(nonce, str) or not hmac.compare_digest(link.nonce, nonce):
        return None
    if link.revoked_at is not None or (link.expires_at is not None and link.expires_at <= now):
        return None
    account = session.get(Account, link.account_id)
    portal = session.get(Portal, account.portal_id) if account else None
    if account is None or not account.active or portal is None or not portal.active:
        return None
    return link


# ---------------------------------------------------------------- report recipients


def recipients(session: Session, account_id: int) -> list[ReportRecipient]:
    return list(session.execute(select(ReportRecipient).where(ReportRecipient.account_id == account_id)
                                .order_by(ReportRecipient.id)).scalars())


def add_recipient(session: Session, account: Account, email: str, name: str = "", *, alerts: bool = False,
                  actor: str, now: datetime | None = None) -> ReportRecipient:
    email = (email or "").strip()
    if len(email) > 255 or not _EMAIL.match(email):
        raise LedgerError("not an e-mail address")
    taken = session.execute(select(ReportRecipient).where(
        ReportRecipient.account_id == account.id, ReportRecipient.email == email)).scalar_one_or_none()
    if taken is not None:
        raise LedgerError("this address already receives the reports")
    recipient = ReportRecipient(account_id=account.id, email=email, name=(name or "").strip()[:255],
                                alerts=bool(alerts))
    session.add(recipient)
    session.flush()
    audit(session, actor, "recipient.add", portal_id=account.portal_id, account_id=account.id,
          after={"email": email, "name": recipient.name, "alerts": recipient.alerts}, now=now)
    return recipient


def remove_recipient(session: Session, recipient: ReportRecipient, *, actor: str, now: datetime | None = None) -> None:
    account = session.get(Account, recipient.account_id)
    audit(session, actor, "recipient.remove", portal_id=account.portal_id if account else None,
          account_id=recipient.account_id, before={"email": recipient.email, "name": recipient.name}, now=now)
    session.delete(recipient)
    session.flush()


# ---------------------------------------------------------------- which account a frame shows


def accounts_of(session: Session, portal_id: int, active_only: bool = True) -> list[Account]:
    stmt = select(Account).where(Account.portal_id == portal_id)
    if active_only:
        stmt = stmt.where(Account.active.is_(True))
    return list(session.execute(stmt.order_by(Account.name, Account.id)).scalars())


def account_for_company(session: Session, portal: Portal, company_id: int | None) -> Account | None:
    """In a client's portal the portal is one account, whatever card is open;
    in an integrator's portal the CRM company's bound account."""
    if portal.mode == "client":
        found = accounts_of(session, portal.id)
        return found[0] if found else None
    if company_id is None:
        return None
    return session.execute(
        select(Account).join(AccountBinding, AccountBinding.account_id == Account.id)
        .where(AccountBinding.portal_id == portal.id, AccountBinding.kind == "company",
               AccountBinding.ref_id == company_id, Account.active.is_(True))
    ).scalar_one_or_none()
