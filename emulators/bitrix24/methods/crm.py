"""crm.company.list / crm.company.get, crm.deal.get and sonet_group.get — just enough to
name the accounts of an integrator's portal (crm-company-list.md,
crm-company-get.md, sonet-group-get.md). Values are strings, dates server
time with offset; errors carry an empty `error` code as documented
(`{"error": "", "error_description": "Not found"}`).
"""
from __future__ import annotations

from .. import clock
from ..errors import RestError
from ..filters import Field, compile_filter, page, sort_rows
from ..php import as_dict, as_list
from ..rest import Call, Page, method
from ..state import Company, Deal, Group, Portal

COMPANY_FIELDS = {
    "ID": Field(lambda c: c.id), "TITLE": Field(lambda c: c.title, "str"),
    "COMPANY_TYPE": Field(lambda c: c.company_type, "str"), "ASSIGNED_BY_ID": Field(lambda c: c.assigned_by_id),
    "DATE_CREATE": Field(lambda c: c.created, "date"), "DATE_MODIFY": Field(lambda c: c.modified, "date"),
}


_ADDRESS = ("", "_2", "_CITY", "_POSTAL_CODE", "_REGION", "_PROVINCE", "_COUNTRY", "_COUNTRY_CODE", "_LOC_ADDR_ID")
UTM_FIELDS = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM")
COMPANY_EMPTY_FIELDS = (*(f"ADDRESS{s}" for s in _ADDRESS), "ADDRESS_LEGAL", *(f"REG_ADDRESS{s}" for s in _ADDRESS),
                        *UTM_FIELDS)


def company_row(p: Portal, c: Company, select=None) -> dict:
    row = {
        "ID": str(c.id), "COMPANY_TYPE": c.company_type, "TITLE": c.title, "LOGO": None, "LEAD_ID": None,
        "HAS_PHONE": "N", "HAS_EMAIL": "N", "HAS_IMOL": "N", "ASSIGNED_BY_ID": str(c.assigned_by_id),
        "CREATED_BY_ID": str(c.assigned_by_id), "MODIFY_BY_ID": str(c.assigned_by_id),
        "BANKING_DETAILS": None, "INDUSTRY": "IT", "REVENUE": "0.00", "CURRENCY_ID": "RUB",
        "EMPLOYEES": "EMPLOYEES_1", "COMMENTS": None, "DATE_CREATE": clock.iso(c.created, p.time_zone),
        "DATE_MODIFY": clock.iso(c.modified, p.time_zone), "OPENED": "Y", "IS_MY_COMPANY": "N",
        "ORIGINATOR_ID": None, "ORIGIN_ID": None, "ORIGIN_VERSION": None,
        # The address, registered address and UTM fields come back even when
        # empty (crm-company-get.md; found by tests/conformance).
        **{name: None for name in COMPANY_EMPTY_FIELDS},
        "LAST_ACTIVITY_BY": str(c.assigned_by_id), "LAST_ACTIVITY_TIME": clock.iso(c.modified, p.time_zone),
        "LAST_COMMUNICATION_TIME": None,
    }
    wanted = [str(s).upper() for s in as_list(select) if str(s) not in ("*", "UF_*", "")]
    if wanted:
        row = {k: v for k, v in row.items() if k in wanted or k == "ID"}
    return row


@method("crm.company.list", scope="crm")
def company_list(call: Call) -> Page:
    p = call.portal
    keep = compile_filter(as_dict(call.get("filter") or {}), COMPANY_FIELDS, call.tz)
    rows = sort_rows([c for c in p.company_rows.values() if keep(c)], as_dict(call.get("order") or {}),
                     COMPANY_FIELDS, ("ID", "asc"))
    chunk = page(rows, call.start)
    return Page([company_row(p, c, call.get("select")) for c in chunk.result], chunk.total, chunk.next)


@method("crm.company.get", scope="crm")
def company_get(call: Call) -> dict:
    try:
        cid = int(str(call.get("id", call.get("ID"))))
    except (TypeError, ValueError):
        raise RestError("", "ID is not defined or invalid.", 400) from None
    company = call.portal.company_rows.get(cid)
    if company is None:
        raise RestError("", "Not found", 400)
    return company_row(call.portal, company)


def deal_row(p: Portal, d: Deal) -> dict:
    at = clock.iso(d.created, p.time_zone)
    return {"ID": str(d.id), "TITLE": d.title, "TYPE_ID": "SALE", "STAGE_ID": d.stage_id, "PROBABILITY": None,
            "CURRENCY_ID": "RUB", "OPPORTUNITY": "0.00", "IS_MANUAL_OPPORTUNITY": "N", "TAX_VALUE": "0.00",
            "LEAD_ID": None, "COMPANY_ID": str(d.company_id), "CONTACT_ID": None, "QUOTE_ID": None,
            "BEGINDATE": at, "CLOSEDATE": at, "ASSIGNED_BY_ID": str(d.assigned_by_id),
            "CREATED_BY_ID": str(d.assigned_by_id), "MODIFY_BY_ID": str(d.assigned_by_id), "DATE_CREATE": at,
            "DATE_MODIFY": at, "OPENED": "Y", "CLOSED": "N", "COMMENTS": None, "CATEGORY_ID": "0",
            "STAGE_SEMANTIC_ID": "P", "IS_NEW": "Y", "IS_RECURRING": "N", "IS_RETURN_CUSTOMER": "N",
            "IS_REPEATED_APPROACH": "N", "SOURCE_ID": None, "ORIGINATOR_ID": None, "ORIGIN_ID": None,
            # crm-deal-get.md lists these too (found by tests/conformance).
            "ADDITIONAL_INFO": None, "LOCATION_ID": None, "SOURCE_DESCRIPTION": None,
            "MOVED_BY_ID": str(d.assigned_by_id), "MOVED_TIME": at, "LAST_ACTIVITY_TIME": at,
            **{name: None for name in UTM_FIELDS}, "LAST_ACTIVITY_BY": str(d.assigned_by_id)}


@method("crm.deal.get", scope="crm")
def deal_get(call: Call) -> dict:
    try:
        did = int(str(call.get("id", call.get("ID"))))
    except (TypeError, ValueError):
        raise RestError("", "ID is not defined or invalid.", 400) from None
    deal = call.portal.deal_rows.get(did)
    if deal is None:
        raise RestError("", "Not found", 400)
    return deal_row(call.portal, deal)


GROUP_FIELDS = {
    "ID": Field(lambda g: g.id), "NAME": Field(lambda g: g.name, "str"), "OWNER_ID": Field(lambda g: g.owner_id),
    "ACTIVE": Field(lambda g: "Y", "yn"), "VISIBLE": Field(lambda g: "Y", "yn"),
    "OPENED": Field(lambda g: "Y" if g.opened else "N", "yn"), "PROJECT": Field(lambda g: "Y" if g.project else "N", "yn"),
    "IS_EXTRANET": Field(lambda g: "Y" if g.extranet else "N", "yn"),
}


def group_row(p: Portal, g: Group) -> dict:
    at = clock.iso(g.created, p.time_zone)
    return {"ID": str(g.id), "SITE_ID": "s1", "NAME": g.name, "DESCRIPTION": g.description or None,
            "DATE_CREATE": at, "DATE_UPDATE": at, "ACTIVE": "Y", "VISIBLE": "Y",
            "OPENED": "Y" if g.opened else "N", "CLOSED": "N", "SUBJECT_ID": "1", "OWNER_ID": str(g.owner_id),
            "KEYWORDS": None, "NUMBER_OF_MEMBERS": str(len(g.members)), "DATE_ACTIVITY": at,
            "SUBJECT_NAME": "Workgroups", "PROJECT": "Y" if g.project else "N",
            "IS_EXTRANET": "Y" if g.extranet else "N"}


@method("sonet_group.get", scope="sonet_group")
def sonet_group_get(call: Call) -> Page:
    p = call.portal
    filt = as_dict(call.get("FILTER") or {})
    if call.get("GROUP_ID"):
        filt["ID"] = call.get("GROUP_ID")
    keep = compile_filter(filt, GROUP_FIELDS, call.tz)
    see_all = call.user.admin and str(call.get("IS_ADMIN", "")).upper() == "Y"
    rows = [g for g in p.group_rows.values()
            if keep(g) and (see_all or g.opened or call.user.id in g.members)]
    rows = sort_rows(rows, as_dict(call.get("ORDER") or {}), GROUP_FIELDS, ("ID", "desc"))
    chunk = page(rows, call.start)
    return Page([group_row(p, g) for g in chunk.result], chunk.total, chunk.next)
