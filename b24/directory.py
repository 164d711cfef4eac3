"""Names from the portal for the manager's pickers: CRM companies (an
integrator's accounts) and users (the team). One page each (50 rows, the
portal's page size), narrowed by a search, never a full crawl in a request."""
from __future__ import annotations

from .client import Rest


def companies(rest: Rest, search: str = "") -> list[tuple[int, str]]:
    params: dict = {"order": {"TITLE": "ASC"}, "select": ["ID", "TITLE"]}
    if search.strip():
        params["filter"] = {"%TITLE": search.strip()[:100]}
    rows = rest.call("crm.company.list", params).get("result") or []
    return [(int(r["ID"]), str(r.get("TITLE") or "")) for r in rows if str(r.get("ID", "")).isdecimal()]


def company_title(rest: Rest, company_id: int) -> str | None:
    row = rest.call("crm.company.get", {"id": company_id}).get("result")
    return str(row.get("TITLE") or "") if isinstance(row, dict) else None


def users(rest: Rest) -> list[tuple[int, str]]:
    """The portal's active employees (the first page: a team is small)."""
    params: dict = {"filter": {"ACTIVE": True, "USER_TYPE": "employee"}, "sort": "LAST_NAME", "order": "ASC"}
    rows = rest.call("user.get", params).get("result") or []
    out = []
    for r in rows:
        if str(r.get("ID", "")).isdecimal():
            name = " ".join(str(r.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
            out.append((int(r["ID"]), name or f"#{r['ID']}"))
    return out
