"""Making the emulator hold what a pair's answer shows, so a replayed
request has something to list: the tasks, records, users, companies, bound
events and placements the answer names, with the same ids.

Only values the answer gives are used (ids, seconds, dates, titles); what it
does not give gets the emulator's defaults. Shapes are then the emulator's
own, which is what the replay compares.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import requests

from emulators.bitrix24.php import parse_query


def _when(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime(2024, 5, 16, 8, 33, tzinfo=timezone.utc)


def _id(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdecimal() and int(text) > 0 else None


def _as_rows(result: Any) -> list[dict]:
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dict)]
    if isinstance(result, dict):
        return [result]
    return []


class Seeder:
    def __init__(self, portal, app_call=None) -> None:
        self.p = portal
        self.app_call = app_call  # (method, params) -> answer, with the app's token

    def user(self, uid: int | None) -> int:
        if uid is None:
            return 1
        if uid not in self.p.users:
            self.p.reserve_id("user", uid)
            self.p.add_user(f"User {uid}")
        return uid

    def task(self, tid: int | None, title: str = "Task", responsible: int | None = None) -> int | None:
        if tid is None:
            return None
        if tid not in self.p.tasks:
            self.p.reserve_id("task", tid)
            self.p.add_task(title or "Task", self.user(responsible))
        return tid

    def seed(self, method: str, params: Any, body: Any) -> None:
        if not isinstance(body, dict) or "result" not in body:
            return
        result = body["result"]
        method = method.lower()
        if method == "batch":
            cmds = (params or {}).get("cmd") or {}
            inner = result.get("result") if isinstance(result, dict) else None
            if isinstance(cmds, dict) and isinstance(inner, dict):
                for key, sub in inner.items():
                    name, _, query = str(cmds.get(key, "")).partition("?")
                    self.seed(name, parse_query(query), {"result": sub})
        elif method.startswith("task.elapseditem."):
            for row in _as_rows(result):
                rid, tid = _id(row.get("ID")), _id(row.get("TASK_ID"))
                if rid is None or tid is None or rid in self.p.time:
                    continue
                self.task(tid)
                self.p.reserve_id("time", rid)
                self.p.add_time(tid, self.user(_id(row.get("USER_ID"))), int(row.get("SECONDS") or 60),
                                _when(row.get("CREATED_DATE")), str(row.get("COMMENT_TEXT") or ""))
        elif method in ("tasks.task.list", "tasks.task.get"):
            rows = result.get("tasks") if method.endswith("list") else [result.get("task")]
            for row in _as_rows(rows or []):
                tid = self.task(_id(row.get("id")), str(row.get("title") or ""), _id(row.get("responsibleId")))
                if tid is None:
                    continue
                refs = [str(r) for r in row.get("ufCrmTask") or []]
                for ref in refs:
                    if ref.startswith("CO_"):
                        self.company(_id(ref[3:]))
                if refs:
                    self.p.update_task(tid, crm=refs)
                spent = _id(row.get("timeSpentInLogs"))
                if spent and not self.p.time_spent(tid):
                    self.p.add_time(tid, 1, spent, _when(row.get("changedDate")))
        elif method in ("user.get", "user.current", "profile"):
            for row in _as_rows(result):
                self.user(_id(row.get("ID")))
        elif method in ("crm.company.list", "crm.company.get"):
            for row in _as_rows(result):
                self.company(_id(row.get("ID")), str(row.get("TITLE") or "Company"))
        elif method == "crm.deal.get":
            for row in _as_rows(result):
                did = _id(row.get("ID"))
                if did is not None and did not in self.p.deal_rows:
                    company = _id(row.get("COMPANY_ID"))
                    self.company(company)
                    self.p.reserve_id("deal", did)
                    self.p.add_deal(str(row.get("TITLE") or "Deal"), company or 0)
        elif method == "event.get" and self.app_call:
            for row in _as_rows(result):
                params = {"event": row.get("event"), "handler": row.get("handler")}
                if str(row.get("auth_type", "0")) not in ("0", ""):
                    params["auth_type"] = self.user(_id(row.get("auth_type")))
                self.app_call("event.bind", params)
        elif method == "event.unbind" and self.app_call and isinstance(params, dict):
            # The answer counts the bindings removed: bind what the request names first.
            self.app_call("event.bind", {k: v for k, v in params.items() if k in ("event", "handler")})
        elif method == "event.offline.get" and self.app_call:
            events = result.get("events") if isinstance(result, dict) else None
            if events:
                self.app_call("event.bind", {"event": "ONTASKUPDATE", "event_type": "offline"})
                for row in _as_rows(events):
                    fields = (row.get("EVENT_DATA") or {}).get("FIELDS_AFTER") if isinstance(row.get("EVENT_DATA"), dict) else None
                    tid = self.task(_id((fields or {}).get("ID")) or 691)
                    self.p.update_task(tid, title="changed")
        elif method == "placement.get" and self.app_call:
            for row in _as_rows(result):
                self.app_call("placement.bind", {"PLACEMENT": "CRM_COMPANY_DETAIL_TAB", "HANDLER": row.get("handler"),
                                                 "TITLE": row.get("title") or "x"})

    def company(self, cid: int | None, title: str = "Company") -> None:
        if cid is not None and cid not in self.p.company_rows:
            self.p.reserve_id("company", cid)
            self.p.add_company(title)


def app_caller(base: str, token: str):
    def call(method: str, params: dict) -> Any:
        return requests.post(base + method, json={**params, "auth": token}, timeout=10).json()
    return call
