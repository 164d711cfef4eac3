"""Event delivery: online handlers, the offline queue, ONOFFLINEEVENT (facts §3).

Online: each bound handler gets a POST, `application/x-www-form-urlencoded`,
nested keys PHP-style (`data[FIELDS_AFTER][ID]=123`, `auth[member_id]=…`;
b24-examples/ONTASKUPDATE.form-urlencoded.DERIVED.txt). Top-level keys:
`event`, `event_handler_id`, `data`, `ts`, `auth` (api-reference/events/
index.md). `auth` carries fresh tokens of the binding's `auth_type` user or
of the user who caused the event — none at all for ONAPPUNINSTALL (facts
§1.4) or when the portal says a robot did it (`events_without_tokens`).

Nothing is sent before the app called installFinish (facts §1.2), nothing
is retried, a handler's answer is only recorded (facts §3.4). Delivery runs
on one background thread, after the emulator lock is released, so a handler
may call the portal back. `Faults` drop, duplicate, delay and reorder
deliveries.

Offline: one record per object — a repeated change updates TIMESTAMP_X of
the pending record with the same MESSAGE_ID = md5(EVENT_NAME|json(data))
(facts §3.5) — and ONOFFLINEEVENT tells online handlers, at most once per
`minTimeout` seconds (default 1; 0 = every time).
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from . import clock
from .php import flatten
from .state import EventBinding, Install, OfflineRecord, Portal

if TYPE_CHECKING:
    from .emulator import Emulator


@dataclass(frozen=True)
class EventInfo:
    scope: str | None          # scope the app needs to bind it; None = always available
    refresh_token: bool = False  # auth carries refresh_token too
    no_offline: bool = False


# What event.bind accepts (facts §1.3–1.4, §3.2, §3.5; rest_provider.php, task and crm event lists).
EVENTS: dict[str, EventInfo] = {
    "ONAPPINSTALL": EventInfo(None, True, True),
    "ONAPPUPDATE": EventInfo(None, True, True),
    "ONAPPUNINSTALL": EventInfo(None, False, True),
    "ONAPPTEST": EventInfo(None, True, True),
    "ONOFFLINEEVENT": EventInfo(None, True, True),
    # The task-event doc examples include refresh_token (facts §3.2 notes the inconsistency).
    **{name: EventInfo("task", True) for name in (
        "ONTASKADD", "ONTASKUPDATE", "ONTASKDELETE", "ONTASKCOMMENTADD", "ONTASKCOMMENTUPDATE",
        "ONTASKCOMMENTDELETE")},
    **{name: EventInfo("crm") for name in ("ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE", "ONCRMCOMPANYDELETE")},
}


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    event: str = field(compare=False)
    handler: str = field(compare=False)
    payload: dict = field(compare=False)   # without "ts": set when sent from the queue
    domain: str = field(compare=False)


class EventBus:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.timeout_s = 5.0   # handler timeout: undocumented on real portals (facts §3.4)
        self._heap: list[Delivery] = []
        self._held: list[Delivery] = []
        self._release_at = 0.0
        self._inflight = 0
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.http = requests.Session()   # the worker's own: sessions are not shared across threads

    # -- producing (called with the emulator lock held) ---------------------

    def emit(self, portal: Portal, event: str, data: Any, user_id: int) -> None:
        """A portal change: fan out to every app's bindings."""
        for install in list(portal.installs.values()):
            self.emit_to(portal, install, event, data, user_id)

    def emit_to(self, portal: Portal, install: Install, event: str, data: Any, user_id: int,
                tokens: bool = True) -> None:
        if not install.installed or install.removed:
            return   # nothing is delivered before installFinish (facts §1.2)
        for binding in [b for b in install.bindings if b.event == event]:
            if binding.offline:
                self._store_offline(portal, install, event, data, user_id)
            else:
                self._queue(portal, install, binding, event, data, user_id, tokens)

    def _queue(self, portal: Portal, install: Install, binding: EventBinding, event: str, data: Any,
               user_id: int, tokens: bool) -> None:
        payload = {
            "event": event,
            "event_handler_id": binding.id,
            "data": data,
            "auth": self._auth(portal, install, event, binding.auth_type or user_id,
                               tokens and not portal.events_without_tokens),
        }
        faults = self.emu.faults
        if faults.chance(faults.drop_events):
            self.emu.events_dropped.append({"event": event, "handler": binding.handler, "payload": payload})
            return
        copies = 2 if faults.chance(faults.duplicate_events) else 1
        for _ in range(copies):
            self._push(Delivery(time.monotonic() + faults.delay_events_s, next(self._seq), event,
                                binding.handler, payload, portal.domain))

    def _auth(self, portal: Portal, install: Install, event: str, user_id: int, with_tokens: bool) -> dict:
        """`auth` in the order of the documented examples (ONAPPINSTALL.json, ONTASKUPDATE.json)."""
        emu, app = self.emu, install.app
        server_endpoint = f"{emu.url}/rest/"
        if not with_tokens or user_id not in portal.users:
            return {"domain": portal.domain, "server_endpoint": server_endpoint,
                    "client_endpoint": portal.client_endpoint, "member_id": portal.member_id,
                    "application_token": install.application_token}
        info = EVENTS.get(event, EventInfo(None))
        access, refresh = emu.tokens.issue(portal.domain, app.client_id, user_id, app.scope, emu.faults.token_ttl_s)
        if event in ("ONAPPINSTALL", "ONAPPUPDATE"):
            # on-app-install.md: "List of permissions ... separated by spaces".
            return {"domain": portal.domain, "scope": " ".join(app.scope), "access_token": access.token,
                    "refresh_token": refresh.token, "expires_in": 3600, "server_endpoint": server_endpoint,
                    "status": app.status, "client_endpoint": portal.client_endpoint,
                    "member_id": portal.member_id, "application_token": install.application_token}
        auth = {"access_token": access.token, "expires_in": "3600", "scope": info.scope or ",".join(app.scope),
                "domain": portal.domain, "server_endpoint": server_endpoint, "status": app.status,
                "client_endpoint": portal.client_endpoint, "member_id": portal.member_id}
        if info.refresh_token:
            auth["refresh_token"] = refresh.token
        auth["application_token"] = install.application_token
        return auth

    def _store_offline(self, portal: Portal, install: Install, event: str, data: Any, user_id: int) -> None:
        message_id = hashlib.md5(f"{event}|{json.dumps(data, separators=(',', ':'))}".encode()).hexdigest()
        now = clock.now()
        pending = next((r for r in install.offline if r.message_id == message_id and r.process_id == ""
                        and not r.error), None)
        if pending:
            pending.timestamp_x = now
            pending.event_additional = {"user_id": str(user_id)}
        else:
            install.offline.append(OfflineRecord(portal._next("offline"), now, event, data,
                                                 {"user_id": str(user_id)}, message_id))
        for binding in [b for b in install.bindings if b.event == "ONOFFLINEEVENT" and not b.offline]:
            min_timeout = float(binding.options.get("minTimeout", 1))
            at = time.monotonic()
            if min_timeout <= 0 or at - binding.last_notified >= min_timeout:
                binding.last_notified = at
                self._queue(portal, install, binding, "ONOFFLINEEVENT", [], user_id, True)

    # -- the queue ----------------------------------------------------------

    def _push(self, item: Delivery) -> None:
        with self._cond:
            if self.emu.faults.reorder_events:
                if not self._held:
                    self._release_at = time.monotonic() + self.emu.faults.reorder_window_s
                self._held.append(item)
            else:
                heapq.heappush(self._heap, item)
            self._cond.notify_all()

    def _release_held(self) -> None:
        """Move held deliveries to the queue in a seeded shuffled order."""
        if not self._held:
            return
        held, self._held = self._held, []
        self.emu.faults.shuffle(held)
        base = time.monotonic()
        for item in held:
            item.due, item.seq = max(item.due, base), next(self._seq)
            heapq.heappush(self._heap, item)

    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="b24-emulator-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=2)
        self.http.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                now = time.monotonic()
                if self._held and now >= self._release_at:
                    self._release_held()
                if self._heap and self._heap[0].due <= now:
                    item = heapq.heappop(self._heap)
                    self._inflight += 1
                else:
                    waits = [t for t in (self._heap[0].due if self._heap else None,
                                         self._release_at if self._held else None) if t is not None]
                    self._cond.wait(timeout=max(0.0, min(waits) - now) if waits else None)
                    continue
            try:
                self._send(item)
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

    def _send(self, item: Delivery) -> None:
        payload = item.payload
        payload = {"event": payload["event"], "event_handler_id": payload["event_handler_id"],
                   "data": payload["data"], "ts": str(int(clock.now_ts())), "auth": payload["auth"]}
        form = flatten(payload)
        record = {"event": item.event, "handler": item.handler, "domain": item.domain, "payload": payload,
                  "form": form, "status_code": None, "error": None, "body": None}
        try:
            response = self.http.post(item.handler, data=form, timeout=self.timeout_s)
            record["status_code"] = response.status_code
            record["body"] = response.text[:2000]
        except Exception as exc:  # the portal logs the failure and moves on (facts §3.4)
            record["error"] = repr(exc)
        with self.emu.lock:
            self.emu.events_sent.append(record)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued, held or being sent. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._release_held()
            self._cond.notify_all()
            while self._heap or self._held or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if self._held:
                    self._release_held()
                # A delayed delivery is due later: waiting for it is what flush means.
                self._cond.wait(timeout=min(left, 0.05))
            return True
