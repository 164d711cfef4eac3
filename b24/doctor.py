"""The doctor: a read-only check of a connected portal against every
assumption the sync and the pages make (`python app.py doctor`, and a button
on the manager's page).

Everything Hourbook knows about Bitrix24 comes from the documentation
(facts) and the emulator; the first live portal is where an assumption can
turn out wrong. Each check here tests one, with a few read requests, and
says what to change when it fails. Nothing is written to the portal: the
only methods called are read methods (READ_METHODS, which a test holds the
doctor to).

Checks are plain functions returning `Check` records, collected in one list
and never raised halfway (like Beancount's validations): a portal that fails
one check still gets every other answered. Texts are English templates with
`%(name)s` arguments; the manager's page translates them
(handlers/doctor_messages.py lists them for the catalogs).
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .client import BatchResult, Rest, RestError, command
from .install import manifest
from .reader import PAGE, TASK_FIELDS, ChainBroken, _as_list, _records_page, chain_commands, read_chain

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
READ_METHODS = frozenset({"profile", "server.time", "batch", "task.elapseditem.getlist", "tasks.task.list",
                          "event.get", "placement.get", "app.info"})
# A task's total and its records are compared on this many tasks, the ones
# with the most time (one batch request).
SAMPLE_TASKS = 10
# The operating limit: 480 s of a method's execution per 10 minutes on cloud
# portals (facts §6); warn past half of it, fail past nine tenths.
OPERATING_LIMIT_S = 480.0
# One request: the sync's pace assumes well under a second; the portal cuts
# a request at 60 s.
SLOW_REQUEST_S = 2.0
TOO_SLOW_REQUEST_S = 15.0
TIME_KEYS = ("start", "finish", "duration", "processing", "date_start", "date_finish")
# What the sync reads of a task, by the camelCase key the answer uses.
TASK_KEYS = {"ID": "id", "TITLE": "title", "STATUS": "status", "GROUP_ID": "groupId", "PARENT_ID": "parentId",
             "RESPONSIBLE_ID": "responsibleId", "UF_CRM_TASK": "ufCrmTask", "TAGS": "tags",
             "TIME_SPENT_IN_LOGS": "timeSpentInLogs", "CHANGED_DATE": "changedDate", "CLOSED_DATE": "closedDate"}


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    status: str
    expected: str
    seen: str
    fix: str = ""
    args: dict[str, Any] = field(default_factory=dict)

    def text(self, template: str, translate: Callable[[str], str] = lambda s: s) -> str:
        return translate(template) % self.args if template else ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.key, "title": self.title, "status": self.status,
                "expected": self.text(self.expected), "seen": self.text(self.seen), "fix": self.text(self.fix)}


@dataclass
class Portal:
    """What Hourbook holds about the portal, to compare with what it answers."""

    mode: str  # "webhook" or "app"
    time_zone: str
    public_url: str = ""


@dataclass
class Probe:
    """The requests the doctor makes, with what they cost: every answer's
    `time` block is kept, and how long each request took here."""

    rest: Rest
    answers: list[dict] = field(default_factory=list)
    elapsed_s: list[float] = field(default_factory=list)

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        assert method in READ_METHODS, f"the doctor only reads: {method}"
        answer = self.rest.call(method, params)
        self.elapsed_s.append(self.rest.last_request_s)  # without the wait for our own pacing
        self.answers.append(answer)
        return answer

    def profile(self) -> dict[str, Any]:
        """The connection's user (asked once)."""
        if not hasattr(self, "_profile"):
            self._profile = self.call("profile").get("result") or {}
        return self._profile

    def tasks(self) -> list[dict[str, Any]]:
        """The latest page of tasks with exactly the fields the sync selects
        (asked once: the dates check and the fields check share it)."""
        if not hasattr(self, "_tasks"):
            answer = self.call("tasks.task.list", {"order": {"ID": "desc"}, "select": TASK_FIELDS, "start": -1})
            result = answer.get("result")
            tasks = result.get("tasks") if isinstance(result, dict) else None
            self._tasks = [t for t in tasks or [] if isinstance(t, dict)]
        return self._tasks

    def batch(self, commands: dict[str, str]) -> BatchResult:
        for cmd in commands.values():
            assert cmd.split("?", 1)[0] in READ_METHODS, f"the doctor only reads: {cmd}"
        return BatchResult.of(self.call("batch", {"halt": 0, "cmd": commands}))


def run(rest: Rest, portal: Portal) -> list[Check]:
    probe = Probe(rest)
    checks: list[Check] = []
    for check in (check_rights, check_positional, check_chain, check_dates, check_task_fields, check_events,
                  check_placements):
        checks.extend(_collected(check, probe, portal))
    # The latency check's requests come last so the limits check sees every answer before them.
    latency = _collected(lambda probe, portal: check_latency(probe), probe, portal, "check_latency")
    return checks + _collected(lambda probe, portal: check_limits(probe), probe, portal, "check_limits") + latency


def _collected(check: Callable[[Probe, Portal], Iterable[Check]], probe: Probe, portal: Portal,
               name: str = "") -> list[Check]:
    """One check's rows; a refusal, or an answer of a shape the check cannot
    read (what a live portal may well send), becomes its failing row, and
    the other checks still run."""
    name = name or check.__name__
    key, title = name.removeprefix("check_"), TITLES[name]
    try:
        return list(check(probe, portal))
    except RestError as err:
        return [Check(key, title, FAIL, "an answer", "the portal refused: %(code)s %(description)s",
                      "See the error; when it says the token or webhook is not accepted, connect again.",
                      {"code": err.code, "description": err.description[:200]})]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        return [Check(key, title, FAIL, "an answer", "an answer Hourbook cannot read: %(error)s",
                      "The portal answers in a shape the sync does not expect: send this table (and `python app.py "
                      "doctor --record DIR`'s files) to Hourbook's support; the sync must not run.",
                      {"error": f"{type(err).__name__}: {err}"[:200]})]


TITLES = {
    "check_rights": "Rights of the connection",
    "check_positional": "task.elapseditem.getlist: positional parameters and the >ID cursor",
    "check_chain": "Chained pages in one batch",
    "check_dates": "Dates and the portal's time zone",
    "check_task_fields": "tasks.task.list: the fields the sync reads",
    "check_events": "Events bound",
    "check_placements": "Widgets (placements) bound",
    "check_limits": "Answers' time block and the operating limit",
    "check_latency": "Time of one request",
}


def check_rights(probe: Probe, portal: Portal) -> Iterable[Check]:
    """An administrator's token sees every user's records; anyone else's
    only those of tasks they take part in (facts §4.1, CHECK_RIGHTS), and
    the ledger would silently miss hours. Two proofs: `profile` says ADMIN,
    and for the tasks with the most time, the records add up to the task's
    TIME_SPENT_IN_LOGS."""
    title = TITLES["check_rights"]
    me = probe.profile()
    admin = me.get("ADMIN") in (True, "Y", "true", 1, "1")
    cmds = {"t": command("tasks.task.list", {"order": {"TIME_SPENT_IN_LOGS": "desc"},
                                             "select": ["ID", "TIME_SPENT_IN_LOGS"], "start": -1})}
    for i in range(SAMPLE_TASKS):
        # Positional: TASKID, ORDER, FILTER, SELECT. An empty filter cannot be
        # written in a query string (it would vanish and SELECT move up to
        # FILTER's place), hence `>ID 0`.
        cmds[f"r{i}"] = (f"task.elapseditem.getlist?0=$result[t][tasks][{i}][id]&1[ID]=asc&2[>ID]=0"
                         f"&3[]=ID&3[]=SECONDS&3[]=USER_ID")
    answers = probe.batch(cmds).result
    tasks = (answers.get("t") or {}).get("tasks") or [] if isinstance(answers.get("t"), dict) else []
    short = []
    compared = 0
    for i, task in enumerate(tasks[:SAMPLE_TASKS]):
        total = int(task.get("timeSpentInLogs") or 0)
        if not total:
            continue
        rows = _as_list(answers.get(f"r{i}"))
        seen = sum(int(r.get("SECONDS") or 0) for r in rows if isinstance(r, dict))
        compared += 1
        if seen != total:
            short.append(f"#{task.get('id')}: {seen} s of {total} s")
    args = {"user": me.get("ID", "?"), "compared": compared, "short": "; ".join(short[:5])}
    if not admin or short:
        if not admin:
            seen_text = ("user %(user)s is not an administrator; records missing on %(short)s" if short
                         else "user %(user)s is not an administrator")
        else:
            seen_text = "user %(user)s; records missing on %(short)s"
        yield Check("rights", title, FAIL, "an administrator's token: every user's records visible", seen_text,
                    "Connect Hourbook as a portal administrator (install the app as an administrator, or create "
                    "the incoming webhook under an administrator's account with the task scope).", args)
    elif not compared:
        yield Check("rights", title, WARN, "an administrator's token: every user's records visible",
                    "user %(user)s is an administrator; no task with time to compare yet",
                    "Run the doctor again once time has been logged.", args)
    else:
        yield Check("rights", title, PASS, "an administrator's token: every user's records visible",
                    "user %(user)s is an administrator; records = task totals on %(compared)s tasks", "", args)


def check_positional(probe: Probe, portal: Portal) -> Iterable[Check]:
    """task.elapseditem.getlist reads its parameters by position (facts
    §4.1): ORDER, FILTER, SELECT, PARAMS. A second page filtered by `>ID`
    of the first's first record must start right after it, in ID order,
    with only the selected fields."""
    title = TITLES["check_positional"]
    page = command("task.elapseditem.getlist", [{"ID": "asc"}, {">ID": 0}, ["ID", "TASK_ID"],
                                                {"NAV_PARAMS": {"nPageSize": PAGE, "iNumPage": 1}}])
    after = ("task.elapseditem.getlist?0[ID]=asc&1[>ID]=$result[a][0][ID]&2[]=ID&2[]=TASK_ID"
             f"&3[NAV_PARAMS][nPageSize]={PAGE}&3[NAV_PARAMS][iNumPage]=1")
    answers = probe.batch({"a": page, "b": after}).result
    first, second = _as_list(answers.get("a")), _as_list(answers.get("b"))
    if len(first) < 2:
        yield Check("positional", title, WARN, "pages in ID order, starting after the cursor",
                    "only %(n)s records on the portal", "Run the doctor again once time has been logged.",
                    {"n": len(first)})
        return
    ids_a = [int(r["ID"]) for r in first]
    ids_b = [int(r["ID"]) for r in second]
    keys = sorted({k for r in first + second for k in r})
    args = {"a": ", ".join(map(str, ids_a[:4])), "b": ", ".join(map(str, ids_b[:4])), "keys": ", ".join(keys)}
    ordered = ids_a == sorted(ids_a) and ids_b == sorted(ids_b)
    cursor = bool(ids_b) and ids_b[0] > ids_a[0] and ids_b[:len(ids_a) - 1] == ids_a[1:len(ids_b) + 1]
    if ordered and cursor and keys == ["ID", "TASK_ID"]:
        yield Check("positional", title, PASS, "pages in ID order, starting after the cursor, selected fields only",
                    "first page %(a)s…; after its first record: %(b)s…", "", args)
    else:
        yield Check("positional", title, FAIL, "pages in ID order, starting after the cursor, selected fields only",
                    "first page %(a)s…; after its first record: %(b)s…; fields %(keys)s",
                    "This portal reads task.elapseditem.getlist's parameters differently from the documentation: "
                    "send the portal's version and this table to Hourbook's support; the sync must not run.",
                    args)


def check_chain(probe: Probe, portal: Portal) -> Iterable[Check]:
    """The sync chains pages inside one batch (`>ID` of page n+1 refers to
    the last record of page n) and stops at the first short page (b24/
    reader.py). Started near the end, a chain must cross the short last page
    cleanly: every record after the start, once, and nothing invented."""
    title = TITLES["check_chain"]
    # The latest 100 records (two pages, newest first), to start 75 from
    # the end: a full page of 50, then a short one of 25.
    latest = probe.batch({f"d{n}": command("task.elapseditem.getlist", [
        {"ID": "desc"}, {">ID": 0}, ["ID"], {"NAV_PARAMS": {"nPageSize": PAGE, "iNumPage": n}}])
        for n in (1, 2)}).result
    ids = sorted({int(r["ID"]) for n in (1, 2) for r in _as_list(latest.get(f"d{n}"))})
    if len(ids) < 3:
        yield Check("chain", title, WARN, "a short last page ends the chain", "only %(n)s records on the portal",
                    "Run the doctor again once time has been logged.", {"n": len(ids)})
        return
    start = ids[-(PAGE + PAGE // 2) - 1] if len(ids) > PAGE + PAGE // 2 else ids[0]
    want = [i for i in ids if i > start]
    args = {"start": start, "want": len(want), "got": 0}
    try:
        chain = read_chain(probe.batch(chain_commands("c", start, 3, _records_page)), "c", 3, start)
    except ChainBroken as err:
        args["error"] = str(err)[:200]
        yield Check("chain", title, FAIL, "a short last page ends the chain", "the chain broke: %(error)s",
                    "The portal answers chained batch references differently: send this table to Hourbook's "
                    "support.", args)
        return
    got = [int(item["ID"]) for item in chain.items]
    args["got"] = len(got)
    if got == want and chain.done:
        yield Check("chain", title, PASS, "a short last page ends the chain",
                    "after record %(start)s: %(got)s records of %(want)s, then the chain stopped", "", args)
    else:
        yield Check("chain", title, FAIL, "a short last page ends the chain",
                    "after record %(start)s: %(got)s records where the portal has %(want)s",
                    "The portal answers chained batch references differently: send this table to Hourbook's "
                    "support.", args)


def _offset_s(zone: str, at: datetime) -> int | None:
    try:
        off = at.astimezone(ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return int(off.total_seconds()) if off is not None else None


def _same_month_ends(zone: str, other: str, now: datetime) -> bool:
    """Do months begin at the same moments in both zones, this year and
    the next? (Europe/London and UTC agree in winter, not in summer.)"""
    starts = [datetime(now.year + (now.month - 1 + i) // 12, (now.month - 1 + i) % 12 + 1, 1, tzinfo=timezone.utc)
              for i in range(-6, 13)]
    return all(_offset_s(zone, at) is not None and _offset_s(zone, at) == _offset_s(other, at) for at in starts)


def _hours(offset_s: int) -> str:
    sign = "+" if offset_s >= 0 else "-"
    return f"UTC{sign}{abs(offset_s) // 3600:02d}:{abs(offset_s) % 3600 // 60:02d}"


def check_dates(probe: Probe, portal: Portal) -> Iterable[Check]:
    """Dates come as ISO 8601 with an offset (facts §9); months begin and
    end at midnight in the portal's time zone, which Hourbook holds (the
    manager sets it) because no method returns it. The installing
    administrator's TIME_ZONE and the server's offset are what the portal
    says of it."""
    title = TITLES["check_dates"]
    server = str(probe.call("server.time").get("result") or "")
    try:
        server_at = datetime.fromisoformat(server)
    except ValueError:
        server_at = None
    rows = _as_list(probe.call("task.elapseditem.getlist", [{"ID": "desc"}, {}, ["ID", "CREATED_DATE"], {
        "NAV_PARAMS": {"nPageSize": 5, "iNumPage": 1}}]).get("result"))
    # Records' CREATED_DATE, and tasks' changedDate / closedDate (the sync
    # places a task's closing in a month by it); an empty closedDate is fine.
    dates = [row.get("CREATED_DATE") for row in rows if isinstance(row, dict)]
    dates += [task.get(key) for task in probe.tasks()[:5] for key in ("changedDate", "closedDate")
              if task.get(key) or key == "changedDate"]
    bad = []
    for value in dates:
        try:
            if datetime.fromisoformat(str(value)).tzinfo is None:
                bad.append(str(value))
        except ValueError:
            bad.append(str(value))
    if server_at is None or server_at.tzinfo is None or bad:
        yield Check("dates", title, FAIL, "ISO 8601 dates with an offset",
                    "server.time %(server)s; records and tasks %(bad)s",
                    "The portal sends dates Hourbook cannot place in time: send this table to Hourbook's support.",
                    {"server": server or "—", "bad": ", ".join(bad[:3]) or "—"})
        return
    me = probe.profile()
    admin_zone = str(me.get("TIME_ZONE") or "")
    now = datetime.now(timezone.utc)
    ours = _offset_s(portal.time_zone, now)
    server_offset = int(server_at.utcoffset().total_seconds())
    args = {"zone": portal.time_zone, "admin_zone": admin_zone or "—", "server": _hours(server_offset),
            "ours": _hours(ours) if ours is not None else "?"}
    if admin_zone and admin_zone != portal.time_zone and not _same_month_ends(admin_zone, portal.time_zone, now):
        yield Check("dates", title, FAIL, "months in %(zone)s (%(ours)s)",
                    "the administrator's time zone is %(admin_zone)s; the server answers in %(server)s",
                    "Set the portal's time zone on Hourbook's page (Settings → Time zone) to %(admin_zone)s, or "
                    "correct the administrator's time zone in their Bitrix24 profile.", args)
    elif server_offset != ours and not admin_zone:
        yield Check("dates", title, WARN, "months in %(zone)s (%(ours)s)",
                    "the server answers in %(server)s; the administrator has no time zone set",
                    "Check the portal's time zone on Hourbook's page (Settings → Time zone): months begin at "
                    "midnight there.", args)
    else:
        yield Check("dates", title, PASS, "months in %(zone)s (%(ours)s)",
                    "dates with offsets; server %(server)s; administrator's zone %(admin_zone)s", "", args)


def check_task_fields(probe: Probe, portal: Portal) -> Iterable[Check]:
    """The sync asks tasks.task.list for TASK_FIELDS and reads them by their
    camelCase keys; a missing one (UF_CRM_TASK without the crm scope, say)
    would place every task wrongly."""
    title = TITLES["check_task_fields"]
    tasks = probe.tasks()
    if not tasks:
        yield Check("task_fields", title, WARN, "%(fields)s", "no task on the portal",
                    "Run the doctor again once tasks exist.", {"fields": ", ".join(TASK_KEYS.values())})
        return
    missing = sorted({key for t in tasks[:PAGE] for name, key in TASK_KEYS.items() if key not in t})
    args = {"fields": ", ".join(TASK_KEYS.values()), "missing": ", ".join(missing), "n": len(tasks)}
    if missing:
        yield Check("task_fields", title, FAIL, "%(fields)s", "missing: %(missing)s",
                    "Grant the connection the task and crm scopes (the app's scopes, or the incoming webhook's "
                    "rights): without ufCrmTask tasks cannot find their client's company.", args)
    else:
        yield Check("task_fields", title, PASS, "%(fields)s", "all present on %(n)s tasks", "", args)


def check_events(probe: Probe, portal: Portal) -> Iterable[Check]:
    title = TITLES["check_events"]
    spec = manifest()["events"]
    if portal.mode != "app":
        yield Check("events", title, SKIP, "ONTASKADD, ONTASKUPDATE, ONTASKDELETE",
                    "a webhook connection has no bound events",
                    "Optional: add an outgoing webhook in Bitrix24 (Developer resources) for the task events to "
                    "%(url)s/events, then `python app.py connect … --events-token`; without it the schedule syncs "
                    "every few minutes.", {"url": portal.public_url.rstrip("/") or "PUBLIC_URL"})
        return
    bound = set()
    for e in probe.call("event.get").get("result") or []:
        if isinstance(e, dict):
            offline = str(e.get("offline", "0")) == "1"
            bound.add((str(e.get("event", "")).upper(), "offline" if offline else str(e.get("handler", ""))))
    base = portal.public_url.rstrip("/")
    want = [(e["event"].upper(), "offline" if e.get("event_type") == "offline" else base + e["handler"])
            for e in spec]
    missing = [f"{name}{' (offline)' if where == 'offline' else ''}" for name, where in want if (name, where) not in bound]
    args = {"want": ", ".join(f"{n}{' (offline)' if w == 'offline' else ''}" for n, w in want),
            "missing": ", ".join(missing), "url": base}
    if missing:
        yield Check("events", title, FAIL, "%(want)s", "not bound: %(missing)s",
                    "As a portal administrator, press «Bind again» under the portal check on Hourbook's app page "
                    "(it binds what is missing), and check that %(url)s is an address the portal can reach "
                    "(PUBLIC_URL).", args)
    else:
        yield Check("events", title, PASS, "%(want)s", "all bound to %(url)s", "", args)


def check_placements(probe: Probe, portal: Portal) -> Iterable[Check]:
    title = TITLES["check_placements"]
    spec = manifest()["placements"]
    if portal.mode != "app":
        yield Check("placements", title, SKIP, "the CRM card tab", "a webhook connection cannot bind widgets",
                    "Clients see their hours in the cabinet link; for the CRM card tab install Hourbook as an app.")
        return
    base = portal.public_url.rstrip("/")
    bound = {(str(p.get("placement")), str(p.get("handler"))) for p in probe.call("placement.get").get("result") or []
             if isinstance(p, dict)}
    want = [(p["placement"], base + p["handler"]) for p in spec]
    missing = [name for name, handler in want if (name, handler) not in bound]
    args = {"want": ", ".join(n for n, _ in want), "missing": ", ".join(missing)}
    if missing:
        yield Check("placements", title, FAIL, "%(want)s", "not bound: %(missing)s",
                    "As a portal administrator, press «Bind again» under the portal check on Hourbook's app page; "
                    "a placement the portal's plan does not offer stays unbound.", args)
    else:
        yield Check("placements", title, PASS, "%(want)s", "all bound", "", args)


def check_limits(probe: Probe) -> Iterable[Check]:
    title = TITLES["check_limits"]
    blocks = [a.get("time") for a in probe.answers if isinstance(a, dict) and "time" in a]
    complete = [b for b in blocks if isinstance(b, dict) and all(k in b for k in TIME_KEYS)]
    operating = max((float(b.get("operating") or 0) for b in complete), default=0.0)
    args = {"n": len(complete), "of": len(probe.answers), "operating": round(operating, 1),
            "limit": int(OPERATING_LIMIT_S)}
    if not complete or len(complete) < len(blocks):
        yield Check("limits", title, WARN, "a time block in every answer", "%(n)s of %(of)s answers had one",
                    "Hourbook paces itself without it; nothing to do unless syncs are refused with 429.", args)
    elif operating > OPERATING_LIMIT_S * 0.9:
        yield Check("limits", title, FAIL, "operating time well under %(limit)s s per 10 minutes",
                    "%(operating)s s used", "Another app or script spends this portal's operating budget: stop it "
                    "or wait 10 minutes before the first import.", args)
    elif operating > OPERATING_LIMIT_S * 0.5:
        yield Check("limits", title, WARN, "operating time well under %(limit)s s per 10 minutes",
                    "%(operating)s s used", "Heavy use of the same methods by other apps: the first import may "
                    "pause for the limit.", args)
    else:
        yield Check("limits", title, PASS, "operating time well under %(limit)s s per 10 minutes",
                    "%(operating)s s used; a time block in every answer", "", args)


def check_latency(probe: Probe) -> Iterable[Check]:
    title = TITLES["check_latency"]
    for _ in range(3):
        probe.call("server.time")
    median_s = statistics.median(probe.elapsed_s) if probe.elapsed_s else 0.0
    args = {"median_ms": int(median_s * 1000), "n": len(probe.elapsed_s), "slow_s": SLOW_REQUEST_S}
    if median_s > TOO_SLOW_REQUEST_S:
        yield Check("latency", title, FAIL, "under %(slow_s)s s", "median %(median_ms)s ms over %(n)s requests",
                    "Requests this slow time out: check the network between Hourbook and the portal.", args)
    elif median_s > SLOW_REQUEST_S:
        yield Check("latency", title, WARN, "under %(slow_s)s s", "median %(median_ms)s ms over %(n)s requests",
                    "The first import will take longer; check the network between Hourbook and the portal.", args)
    else:
        yield Check("latency", title, PASS, "under %(slow_s)s s", "median %(median_ms)s ms over %(n)s requests",
                    "", args)


def worst(checks: Iterable[Check]) -> str:
    order = {PASS: 0, SKIP: 0, WARN: 1, FAIL: 2}
    return max((c.status for c in checks), key=lambda s: order[s], default=PASS)


def as_json(checks: list[Check]) -> str:
    return json.dumps({"status": worst(checks), "checks": [c.as_dict() for c in checks]}, ensure_ascii=False,
                      indent=2)


def as_table(checks: list[Check]) -> str:
    """Plain text: the result and the check, what was expected and seen,
    and what to do under a row that needs it."""
    lines = []
    for check in checks:
        d = check.as_dict()
        lines.append(f"  {check.status.upper():4}  {d['title']}")
        lines.append(f"        expected: {d['expected']}")
        lines.append(f"        seen:     {d['seen']}")
        if check.status != PASS and d["fix"]:
            lines.append(f"        do:       {d['fix']}")
    return "\n".join(lines)
