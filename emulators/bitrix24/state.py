"""What one emulated portal holds, and the calls tests use to change it.

A `Portal` is one Bitrix24 account: users, CRM companies, workgroups, tasks
and their elapsed-time records, plus per-app installations (tokens live in
the emulator's TokenStore, keyed by domain). Every change goes through the
emulator's single lock, because the HTTP server threads read the same data.

Changes a user makes in the Bitrix24 UI are methods here. Task changes fire
ONTASKADD / ONTASKUPDATE / ONTASKDELETE (facts §3.2); time changes fire
nothing, as on a real portal (facts §4.3) — only the task's
TIME_SPENT_IN_LOGS moves.
"""
from __future__ import annotations

import bisect

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import clock

if TYPE_CHECKING:
    from .emulator import Emulator

SOURCE_UNDEFINED, SOURCE_MANUAL, SOURCE_SYSTEM = 1, 2, 3  # CTaskElapsedItem::SOURCE_* (facts §4.1)

PLAN_LIMITS = {"basic": (2.0, 50), "enterprise": (5.0, 250)}  # drain/s, capacity (facts §6)
PLAN_LICENSE = {"basic": ("basic", "basic"), "enterprise": ("ent250", "ent")}  # LICENSE_TYPE, LICENSE_FAMILY


@dataclass
class User:
    id: int
    name: str
    last_name: str = ""
    admin: bool = False
    time_zone: str = "Europe/Moscow"
    user_type: str = "employee"   # employee | extranet
    email: str = ""
    work_position: str = ""
    departments: tuple[int, ...] = (1,)
    active: bool = True
    date_register: datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.last_name}".strip()


@dataclass
class Company:
    id: int
    title: str
    assigned_by_id: int = 1
    company_type: str = "CUSTOMER"
    created: datetime | None = None
    modified: datetime | None = None


@dataclass
class Deal:
    id: int
    title: str
    company_id: int = 0
    assigned_by_id: int = 1
    stage_id: str = "NEW"
    created: datetime | None = None


@dataclass
class Group:
    id: int
    name: str
    owner_id: int = 1
    members: set[int] = field(default_factory=set)
    description: str = ""
    project: bool = True
    extranet: bool = False
    opened: bool = False
    created: datetime | None = None


@dataclass
class Task:
    id: int
    title: str
    responsible_id: int
    created_by: int = 1
    group_id: int = 0
    parent_id: int = 0
    status: int = 2
    crm: list[str] = field(default_factory=list)      # UF_CRM_TASK, e.g. ["CO_12"]
    tags: list[str] = field(default_factory=list)
    description: str = ""
    priority: int = 1
    accomplices: list[int] = field(default_factory=list)
    auditors: list[int] = field(default_factory=list)
    time_estimate: int = 0
    allow_time_tracking: bool = True
    deadline: datetime | None = None
    created_date: datetime | None = None
    changed_date: datetime | None = None
    changed_by: int = 1
    closed_date: datetime | None = None
    closed_by: int = 0
    status_changed_by: int = 1
    status_changed_date: datetime | None = None
    activity_date: datetime | None = None


@dataclass
class TimeRecord:
    id: int
    task_id: int
    user_id: int
    seconds: int
    comment: str
    source: int
    created_date: datetime   # the day the work was done (the "start date", facts §4.1)
    date_start: datetime     # when the record was made / the timer started
    date_stop: datetime


@dataclass
class App:
    client_id: str
    client_secret: str
    handler_base: str
    installer_path: str = "/install"
    redirect_path: str = "/oauth/callback"
    app_path: str = "/app"
    scope: tuple[str, ...] = ()
    code: str = ""
    version: int = 1
    status: str = "F"    # F free, P paid, L local, D demo, T trial (facts §1.1)

    def url(self, path: str) -> str:
        return self.handler_base.rstrip("/") + "/" + path.lstrip("/")


@dataclass
class EventBinding:
    id: int
    event: str
    handler: str          # "" for offline
    auth_type: int = 0
    offline: bool = False
    connector_id: str = ""
    options: dict = field(default_factory=dict)
    last_notified: float = 0.0


@dataclass
class PlacementBinding:
    placement: str
    handler: str
    title: str = ""
    description: str = ""
    group_name: str = ""
    lang_all: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    user_id: int = 0


@dataclass
class OfflineRecord:
    id: int
    timestamp_x: datetime
    event_name: str
    event_data: Any
    event_additional: dict
    message_id: str
    process_id: str = ""
    error: int = 0
    connector_id: str = ""


@dataclass
class Install:
    """One app on one portal. A reinstall after uninstall is a new Install."""

    id: int
    app: App
    application_token: str
    installed: bool = False       # set by BX24.installFinish (facts §1.2)
    removed: bool = False
    version: int = 1
    language: str = "ru"
    bindings: list[EventBinding] = field(default_factory=list)
    placements: list[PlacementBinding] = field(default_factory=list)
    offline: list[OfflineRecord] = field(default_factory=list)


@dataclass
class Webhook:
    user_id: int
    secret: str
    scope: tuple[str, ...]


class Portal:
    """One emulated Bitrix24 account. Create it with `Emulator.add_portal`."""

    def __init__(self, emu: Emulator, domain: str, plan: str, time_zone: str, lang: str = "ru") -> None:
        if plan not in PLAN_LIMITS:
            raise ValueError(f"plan must be one of {sorted(PLAN_LIMITS)}")
        self.emu = emu
        self.domain = domain
        # member_id is a stable 32-hex id that survives domain renames (facts §2.3);
        # derived from the first domain so a test run is reproducible.
        self.member_id = hashlib.md5(domain.encode()).hexdigest()
        self.plan = plan
        self.time_zone = time_zone
        self.lang = lang
        self.rate_limit: tuple[float, float] | None = PLAN_LIMITS[plan]
        self.operating_limit_s = 480.0
        self.operating_cost_s: dict[str, float] = {}
        self.payment_expired = False
        # Offline events with clear=0 need this feature (facts §3.5); on by default so
        # tests opt out rather than in.
        self.features = {"rest_offline_extended": True, "rest_auth_connector": plan == "enterprise"}
        # task.elapseditem.get: the doc example returns a one-item array, the return
        # table an object (facts §4.1). The example wins; flip to test the other.
        self.elapseditem_get_as_list = True
        # A change made by a robot/agent carries no tokens in its event (facts §3.2).
        self.events_without_tokens = False
        self.browser_user_id = 1   # who is "logged in" for /oauth/authorize/

        self.users: dict[int, User] = {}
        self.company_rows: dict[int, Company] = {}
        self.deal_rows: dict[int, Deal] = {}
        self.group_rows: dict[int, Group] = {}
        self.tasks: dict[int, Task] = {}
        self.time: dict[int, TimeRecord] = {}
        # Indexes over `time` for portals of a million records (bench/ingest.py):
        # rebuilt when `time_changes` moved since they were built.
        self.time_changes = 0
        self._index_at = -1
        self._sorted_ids: list[int] = []
        self._spent: dict[int, int] = {}
        self.tag_ids: dict[str, int] = {}
        self.installs: dict[str, Install] = {}   # client_id -> current install
        self.webhooks: dict[str, Webhook] = {}   # secret -> webhook

        # What a scenario tells the caller (scenario.py fills these).
        self.companies: dict[str, int] = {}      # title -> company id
        self.groups: dict[str, int] = {}         # name -> group id
        self.staff: list[tuple[int, str, str]] = []   # (user id, name, role)
        self.client_users: list[tuple[int, str, str]] = []  # (user id, name, company title)
        self.kinds: dict[str, str] = {}          # company title -> contract kind
        self.keys: dict[str, dict[str, int]] = {}  # scenario key -> id, per kind ("users", "tasks", …)

        self._ids = {"user": 0, "company": 10, "deal": 200, "group": 4, "task": 100, "time": 1000, "tag": 30,
                     "install": 0, "binding": 0, "offline": 0, "message": 34000, "notify": 12000}

    # -- plumbing -----------------------------------------------------------

    @property
    def client_endpoint(self) -> str:
        return f"{self.emu.url}/p/{self.domain}/rest/"

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def drop_bindings(self, client_id: str, events: tuple[str, ...] | None = None, placements: bool = True) -> None:
        """Forget an app's event handlers (the named events, or all) and its
        widgets, as a portal does when an app is updated and its installer
        does not bind them again (event-bind.md, facts §1.2)."""
        with self.emu.lock:
            install = self.installs[client_id]
            names = {e.upper() for e in events} if events is not None else None
            install.bindings = [b for b in install.bindings if names is not None and b.event.upper() not in names]
            if placements:
                install.placements = []

    def reserve_id(self, kind: str, wanted: int) -> None:
        """The next object of `kind` ("user", "task", "time", "company", …)
        gets the id `wanted`: seeding the portal from a recorded answer keeps
        the answer's ids (tests/conformance/)."""
        with self.emu.lock:
            self._ids[kind] = wanted - 1

    def _emit(self, event: str, data: dict, user_id: int) -> None:
        self.emu.events.emit(self, event, data, user_id)

    def __repr__(self) -> str:
        return f"<Portal {self.domain} member_id={self.member_id}>"

    # -- people and CRM -----------------------------------------------------

    def add_user(self, name: str, last_name: str = "", admin: bool = False, time_zone: str = "Europe/Moscow",
                 user_type: str = "employee", email: str = "", work_position: str = "",
                 departments: tuple[int, ...] = (1,)) -> int:
        if user_type not in ("employee", "extranet"):
            raise ValueError("user_type is employee or extranet")
        with self.emu.lock:
            uid = self._next("user")
            self.users[uid] = User(uid, name, last_name, admin, time_zone, user_type,
                                   email or f"user{uid}@{self.domain}", work_position,
                                   departments if user_type == "employee" else (),
                                   date_register=clock.now())
            return uid

    def add_company(self, title: str, assigned_by_id: int = 1) -> int:
        with self.emu.lock:
            cid = self._next("company")
            at = clock.now()
            self.company_rows[cid] = Company(cid, title, assigned_by_id, created=at, modified=at)
            self.companies[title] = cid
            self._emit("ONCRMCOMPANYADD", {"FIELDS": {"ID": cid}}, assigned_by_id)
            return cid

    def add_deal(self, title: str, company_id: int = 0, assigned_by_id: int = 1) -> int:
        with self.emu.lock:
            did = self._next("deal")
            self.deal_rows[did] = Deal(did, title, company_id, assigned_by_id, created=clock.now())
            self._emit("ONCRMDEALADD", {"FIELDS": {"ID": did}}, assigned_by_id)
            return did

    def add_group(self, name: str, members=(), owner_id: int = 1, extranet: bool = False) -> int:
        with self.emu.lock:
            gid = self._next("group")
            self.group_rows[gid] = Group(gid, name, owner_id, {owner_id, *members}, extranet=extranet,
                                         created=clock.now())
            self.groups[name] = gid
            return gid

    def add_group_member(self, group_id: int, user_id: int) -> None:
        with self.emu.lock:
            self.group_rows[group_id].members.add(user_id)

    # -- tasks --------------------------------------------------------------

    def _tag_id(self, title: str) -> int:
        if title not in self.tag_ids:
            self.tag_ids[title] = self._next("tag")
        return self.tag_ids[title]

    def add_task(self, title: str, responsible_id: int, group_id: int = 0, crm=(), tags=(), parent_id: int = 0,
                 status: int = 2, created_by: int = 1, created_date: datetime | None = None,
                 description: str = "", deadline: datetime | None = None, accomplices=(), auditors=(),
                 time_estimate: int = 0) -> int:
        """A task as a user creates it in the UI; fires ONTASKADD."""
        with self.emu.lock:
            self._check_user(responsible_id)
            self._check_user(created_by)
            if group_id and group_id not in self.group_rows:
                raise KeyError(f"no group {group_id}")
            tid = self._next("task")
            at = created_date or clock.now()
            for tag in tags:
                self._tag_id(tag)
            self.tasks[tid] = Task(
                tid, title, responsible_id, created_by, group_id, parent_id, status, list(crm), list(tags),
                description, accomplices=list(accomplices), auditors=list(auditors), time_estimate=time_estimate,
                deadline=deadline, created_date=at, changed_date=at, changed_by=created_by,
                status_changed_by=created_by, status_changed_date=at, activity_date=at,
                closed_date=at if status == 5 else None, closed_by=created_by if status == 5 else 0)
            self._emit("ONTASKADD", {"FIELDS_BEFORE": "undefined", "FIELDS_AFTER": {"ID": tid},
                                     "IS_ACCESSIBLE_BEFORE": "N", "IS_ACCESSIBLE_AFTER": "undefined"}, created_by)
            return tid

    _TASK_FIELD_ALIASES = {"uf_crm_task": "crm", "tags": "tags", "real_status": "status"}

    def update_task(self, task_id: int, **fields) -> None:
        """Change task fields (snake_case names of `Task`, or the REST UPPER_CASE
        names); fires ONTASKUPDATE. `changed_by=` says who made the change."""
        with self.emu.lock:
            task = self.tasks[task_id]
            by = int(fields.pop("changed_by", fields.pop("CHANGED_BY", task.responsible_id)))
            at = clock.now()
            for name, value in fields.items():
                attr = self._TASK_FIELD_ALIASES.get(name.lower(), name.lower())
                if not hasattr(task, attr) or attr == "id":
                    raise AttributeError(f"task has no field {name}")
                if attr in ("crm", "tags", "accomplices", "auditors"):
                    value = list(value)
                    if attr == "tags":
                        for tag in value:
                            self._tag_id(tag)
                if attr == "status" and int(value) != task.status:
                    value = int(value)
                    task.status_changed_by, task.status_changed_date = by, at
                    task.closed_date, task.closed_by = (at, by) if value == 5 else (None, 0)
                setattr(task, attr, value)
            task.changed_date, task.changed_by, task.activity_date = at, by, at
            self._emit("ONTASKUPDATE", {"FIELDS_BEFORE": {"ID": task_id}, "FIELDS_AFTER": {"ID": task_id},
                                        "IS_ACCESSIBLE_BEFORE": "undefined", "IS_ACCESSIBLE_AFTER": "undefined"}, by)

    def delete_task(self, task_id: int, by: int = 1) -> None:
        """Delete a task and its time records (its subtasks move up to its
        parent); fires ONTASKDELETE."""
        with self.emu.lock:
            gone = self.tasks.pop(task_id)
            for rid in [r.id for r in self.time.values() if r.task_id == task_id]:
                del self.time[rid]
            self.time_changes += 1
            # Its subtasks stay, moved up to its own parent (the tasks module's
            # delete does one UPDATE of PARENT_ID): no CHANGED_DATE, no event.
            for child in self.tasks.values():
                if child.parent_id == task_id:
                    child.parent_id = gone.parent_id
            self._emit("ONTASKDELETE", {"FIELDS_BEFORE": {"ID": task_id}, "FIELDS_AFTER": "undefined",
                                        "IS_ACCESSIBLE_BEFORE": "undefined", "IS_ACCESSIBLE_AFTER": "N"}, by)

    # -- elapsed time (no events, facts §4.3) -------------------------------

    def add_time(self, task_id: int, user_id: int, seconds: int, created_date: datetime | None = None,
                 comment: str = "", source: int = SOURCE_MANUAL, date_start: datetime | None = None,
                 date_stop: datetime | None = None) -> int:
        """Log time on a task as a user would (manual entry or a stopped timer).

        `created_date` is the day the work was done; `date_start` defaults to
        it (pass today for a back-dated manual entry, facts §4.1)."""
        with self.emu.lock:
            if task_id not in self.tasks:
                raise KeyError(f"no task {task_id}")
            self._check_user(user_id)
            worked = created_date or clock.now()
            if worked.tzinfo is None:
                raise ValueError("created_date must be timezone-aware")
            start = date_start or worked
            rid = self._next("time")
            self.time_changes += 1
            self.time[rid] = TimeRecord(rid, task_id, user_id, int(seconds), comment, source, worked, start,
                                        date_stop or start + timedelta(seconds=int(seconds)))
            return rid

    def update_time(self, record_id: int, seconds: int | None = None, created_date: datetime | None = None,
                    comment: str | None = None) -> None:
        with self.emu.lock:
            rec = self.time[record_id]
            self.time_changes += 1
            if seconds is not None:
                rec.seconds = int(seconds)
                rec.source = SOURCE_MANUAL   # "added or time edited by a user" (facts §4.1)
            if created_date is not None:
                rec.created_date = created_date
            if comment is not None:
                rec.comment = comment

    def delete_time(self, record_id: int) -> None:
        with self.emu.lock:
            del self.time[record_id]
            self.time_changes += 1

    def _indexes(self) -> None:
        if self._index_at == self.time_changes:
            return
        spent: dict[int, int] = {}
        for r in self.time.values():
            spent[r.task_id] = spent.get(r.task_id, 0) + r.seconds
        self._sorted_ids, self._spent, self._index_at = sorted(self.time), spent, self.time_changes

    def time_spent(self, task_id: int) -> int | None:
        """TIME_SPENT_IN_LOGS: the sum of the task's records, null with none."""
        with self.emu.lock:
            self._indexes()
            return self._spent.get(task_id)

    def time_after(self, after_id: int, limit: int) -> tuple[list[TimeRecord], int]:
        """The first `limit` records with ID > after_id in ID order, and how
        many there are in all: `>ID` paging without a scan of every record."""
        with self.emu.lock:
            self._indexes()
            start = bisect.bisect_right(self._sorted_ids, after_id)
            ids = self._sorted_ids[start:start + limit]
            return [self.time[i] for i in ids], len(self._sorted_ids) - start

    def records(self) -> list[dict]:
        """Every elapsed record as task.elapseditem.getlist would return it."""
        from .methods.elapsed import record_row  # the one serializer

        with self.emu.lock:
            return [record_row(self, r) for r in sorted(self.time.values(), key=lambda r: r.id)]

    # -- access -------------------------------------------------------------

    def webhook(self, user_id: int = 1, scope=None) -> str:
        """An incoming webhook of `user_id` (facts §7); all scopes unless given."""
        with self.emu.lock:
            self._check_user(user_id)
            secret = secrets.token_hex(8)
            self.webhooks[secret] = Webhook(user_id, secret, tuple(scope) if scope else ALL_SCOPES)
            return f"{self.emu.url}/p/{self.domain}/rest/{user_id}/{secret}/"

    def _check_user(self, user_id: int) -> None:
        if user_id not in self.users:
            raise KeyError(f"no user {user_id} on {self.domain}")

    def can_read_task(self, user: User, task: Task) -> bool:
        """Admins see all tasks, others the ones they take part in or whose
        workgroup they belong to (facts §4.4; managers' view is not modelled)."""
        if user.admin:
            return True
        if user.id in (task.created_by, task.responsible_id) or user.id in task.accomplices \
                or user.id in task.auditors:
            return True
        group = self.group_rows.get(task.group_id)
        return bool(group and user.id in group.members)


ALL_SCOPES = ("task", "crm", "user", "user_brief", "user_basic", "im", "placement", "sonet_group", "basic")
