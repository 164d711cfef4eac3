"""Tasks that events named since their portal's last hinted sync.

A burst of task events names the same few dozen tasks again and again. Each
event adds its task to the portal's set and queues one job per portal
(`sync_hinted_tasks`), which takes the whole set and re-reads those tasks
together: two batch requests for up to 50 tasks, where a job per task made
two requests each — and the portal lets us make two a second.

`add` says whether to queue a run: only the first event after a run took
the set does (a flag, cleared by the run's take), so the rest of a burst
costs one Redis round trip each and queues nothing. The flag lapses after
QUEUED_S: should a run not come (an event found its portal's run and the
one queued after it both started, or came in the moment a run finished its
last, empty round), the next event queues one. A run goes round until
nothing waits, so the runs already started read such an event anyway.

A run takes what it reads into a second set and clears it only when done:
a run that dies part-way leaves its tasks for the next one (rq retries the
job). In Redis when the app has it (the web processes add, the workers
take); in this process otherwise, where the jobs run in a thread beside the
web handler.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

QUEUED_S = 10

# Move what waits into what is being read, and return all of it, atomically:
# an event landing meanwhile is either in this run or left for the next
# (whose first event queues it: the flag goes with the take).
ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[2])
"""
TAKE = """
redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
redis.call('DEL', KEYS[1], KEYS[3])
return redis.call('SMEMBERS', KEYS[2])
"""


class Hints(Protocol):
    def add(self, portal_id: int, task_id: int) -> bool: ...
    def take(self, portal_id: int) -> list[int]: ...
    def done(self, portal_id: int, task_ids: list[int]) -> None: ...


class RedisHints:
    def __init__(self, redis: Any, queued_s: int = QUEUED_S) -> None:
        self.redis, self.queued_s = redis, queued_s
        self._add, self._take = redis.register_script(ADD), redis.register_script(TAKE)

    @staticmethod
    def _keys(portal_id: int) -> list[str]:
        key = f"hourbook:hints:{portal_id}"
        return [key, f"{key}:reading", f"{key}:queued"]

    def add(self, portal_id: int, task_id: int) -> bool:
        # One script, not a pipeline: a quarter less CPU in the web process.
        return self._add(keys=self._keys(portal_id), args=[task_id, self.queued_s]) is not None

    def take(self, portal_id: int) -> list[int]:
        return sorted(int(v) for v in self._take(keys=self._keys(portal_id)))

    def done(self, portal_id: int, task_ids: list[int]) -> None:
        if task_ids:
            self.redis.srem(self._keys(portal_id)[1], *task_ids)


class LocalHints:
    def __init__(self, queued_s: float = QUEUED_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.queued_s, self.clock = queued_s, clock
        self.lock = threading.Lock()
        self.waiting: dict[int, set[int]] = {}
        self.reading: dict[int, set[int]] = {}
        self.queued_at: dict[int, float] = {}

    def add(self, portal_id: int, task_id: int) -> bool:
        with self.lock:
            self.waiting.setdefault(portal_id, set()).add(task_id)
            now = self.clock()
            if now - self.queued_at.get(portal_id, now - self.queued_s - 1) <= self.queued_s:
                return False
            self.queued_at[portal_id] = now
            return True

    def take(self, portal_id: int) -> list[int]:
        with self.lock:
            self.queued_at.pop(portal_id, None)
            reading = self.reading.setdefault(portal_id, set())
            reading |= self.waiting.pop(portal_id, set())
            return sorted(reading)

    def done(self, portal_id: int, task_ids: list[int]) -> None:
        with self.lock:
            self.reading.get(portal_id, set()).difference_update(task_ids)
