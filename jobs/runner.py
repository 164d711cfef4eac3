"""Running jobs: rq on Redis when REDIS_URL is set, otherwise a thread in
this process. The same job functions serve both; each is safe to run twice
(the ledger's keys make it so), so retries and duplicates do no harm.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("hourbook.jobs")

RETRY_INTERVALS_S = (5, 15, 60, 180, 600)


class Runner(Protocol):
    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> None: ...


class InProcessRunner:
    """A worker thread and a queue. A job id already waiting is not queued
    again (ten events for one task make one sync); a failing job is retried
    with backoff, then logged and dropped — the schedule will run it again."""

    def __init__(self, retry_intervals_s: tuple[float, ...] = RETRY_INTERVALS_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.pending: set[str] = set()
        self.lock = threading.Lock()
        self.retry_intervals_s = retry_intervals_s
        self.sleep = sleep
        self.thread: threading.Thread | None = None
        self.done = 0
        self.failed: list[tuple[str, str]] = []

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> None:
        key = job_id or f"{func.__module__}.{func.__name__}{args}"
        with self.lock:
            if key in self.pending:
                return
            self.pending.add(key)
        self.queue.put((key, func, args))

    def start(self) -> InProcessRunner:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="hourbook-jobs", daemon=True)
            self.thread.start()
        return self

    def _loop(self) -> None:
        while True:
            self.run_one(block=True)

    def run_one(self, block: bool = False, retry: bool = True) -> bool:
        try:
            key, func, args = self.queue.get(block=block, timeout=None if block else 0)
        except queue.Empty:
            return False
        with self.lock:
            self.pending.discard(key)
        attempts = len(self.retry_intervals_s) + 1 if retry else 1
        for attempt in range(attempts):
            try:
                func(*args)
                self.done += 1
                break
            except Exception as err:  # a job's failure must not stop the runner
                if attempt == attempts - 1 or not retryable(err):
                    log.error("job %s failed: %s", key, err)
                    self.failed.append((key, repr(err)))
                    break
                log.warning("job %s failed (%s), retrying", key, err)
                self.sleep(self.retry_intervals_s[attempt])
        return True

    def drain(self, retry: bool = False) -> int:
        """Run every queued job now, in this thread (tests, the command
        line); by default each once, failures recorded in `failed`."""
        n = 0
        while self.run_one(block=False, retry=retry):
            n += 1
        return n


def retryable(err: Exception) -> bool:
    """Limits, overload and timeouts pass; a refusal (bad credentials, no
    rights) will not, so retrying it only delays the schedule's next try."""
    from b24.client import AuthDead, RestError, Transient

    if isinstance(err, AuthDead):
        return False
    return isinstance(err, Transient) or not isinstance(err, RestError)


class RqRunner:
    """Jobs on rq. Every job carries a Retry: without one, a job whose worker
    was killed goes to the failed registry instead of running again
    (libraries.md C8–C9).

    A job with an id is queued once while it waits (ten events for one task
    make one sync); while it runs, one more may wait under the id + "-again",
    since the running one may have read the portal before the change that
    sent the event. Statuses are read first, a Redis round trip each,
    because rq's own `unique` check costs about ten times that and task
    events come by the thousand a second. An id whose job ended badly
    (failed, stopped, canceled: kept a week for inspection) is freed, or
    that task's events would queue nothing for a week."""

    WAITING = frozenset({"queued", "scheduled", "deferred"})
    ALIVE = WAITING | {"started"}  # a job in one of these is never freed

    def __init__(self, redis: Any, queue_name: str = "hourbook") -> None:
        from rq import Queue

        self.redis = redis
        self.queue = Queue(queue_name, connection=redis)

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> None:
        from rq.job import Job

        if job_id is None:
            self._enqueue(func, args, None)
            return
        for candidate in (job_id, job_id + "-again"):
            found = self.redis.hget(Job.key_for(candidate), "status")
            status = found.decode() if found is not None else None
            if status == "started":
                continue
            if status in self.WAITING:
                return  # it will read the portal's latest state
            if status is not None:
                self._free(candidate)
            self._enqueue(func, args, candidate)
            return
        # Both run at once (two workers): a run of either catches up with
        # this change the next time; the periodic sync does in any case.

    def _enqueue(self, func: Callable[..., Any], args: tuple, job_id: str | None) -> None:
        from rq import Retry
        from rq.exceptions import DuplicateJobError

        try:
            self.queue.enqueue(func, *args, job_id=job_id, unique=bool(job_id),
                               retry=Retry(max=len(RETRY_INTERVALS_S), interval=list(RETRY_INTERVALS_S)),
                               job_timeout=1800, result_ttl=0, failure_ttl=7 * 86400)
            # result_ttl=0: the id is free again once the job ends, so the next
            # hint for the same task can queue (unique holds while the hash exists).
        except DuplicateJobError:
            pass  # queued by another process a moment ago

    def _free(self, job_id: str) -> None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return
        status = JobStatus(job.get_status(refresh=False)).value
        if status not in self.ALIVE:  # read again: another process may have queued the id since
            log.warning("job %s ended %s; queued again", job_id, status)
            job.delete()
