"""Tasks that events named since their portal's last hinted sync.

A burst of task events names the same few dozen tasks again and again. Each
event adds its task to the portal's set and queues one job per portal
(`sync_hinted_tasks`), which takes the whole set and re-reads those tasks
together: two batch requests for up to 50 tasks, where a job per task made
two requests each — and the portal lets us make two a second.

`add` says whether the task was not waiting yet: when it was, the event
that put it there queued the run that will take it (a run empties the
set when it starts), so the rest of a burst costs one Redis command each.

A run takes what it reads into a second set and clears it only when done:
a run that dies part-way leaves its tasks for the next one (rq retries the
job). In Redis when the app has it (the web processes add, the workers
take); in this process otherwise, where the jobs run in a thread beside the
web handler.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

# Move what waits into what is being read, and return all of it, atomically:
# an event landing meanwhile is either in this run or left for the next.
TAKE = """
redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
redis.call('DEL', KEYS[1])
return redis.call('SMEMBERS', KEYS[2])
"""


class Hints(Protocol):
    def add(self, portal_id: int, task_id: int) -> bool: ...
    def take(self, portal_id: int) -> list[int]: ...
    def done(self, portal_id: int, task_ids: list[int]) -> None: ...


class RedisHints:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._take = redis.register_script(TAKE)

    @staticmethod
    def _keys(portal_id: int) -> tuple[str, str]:
        return f"hourbook:hints:{portal_id}", f"hourbook:hints:{portal_id}:reading"

    def add(self, portal_id: int, task_id: int) -> bool:
        return bool(self.redis.sadd(self._keys(portal_id)[0], task_id))

    def take(self, portal_id: int) -> list[int]:
        return sorted(int(v) for v in self._take(keys=list(self._keys(portal_id))))

    def done(self, portal_id: int, task_ids: list[int]) -> None:
        if task_ids:
            self.redis.srem(self._keys(portal_id)[1], *task_ids)


class LocalHints:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[int, set[int]] = {}
        self.reading: dict[int, set[int]] = {}

    def add(self, portal_id: int, task_id: int) -> bool:
        with self.lock:
            waiting = self.waiting.setdefault(portal_id, set())
            new = task_id not in waiting
            waiting.add(task_id)
            return new

    def take(self, portal_id: int) -> list[int]:
        with self.lock:
            reading = self.reading.setdefault(portal_id, set())
            reading |= self.waiting.pop(portal_id, set())
            return sorted(reading)

    def done(self, portal_id: int, task_ids: list[int]) -> None:
        with self.lock:
            self.reading.get(portal_id, set()).difference_update(task_ids)
