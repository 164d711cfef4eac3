"""The two REST limits of a cloud portal (facts §6, limits.md).

* Leaky bucket per portal (and source IP — the emulator has one): every
  HTTP request adds 1, the level drains by `rate` per second, a request
  that would go above `capacity` is refused with 503 QUERY_LIMIT_EXCEEDED
  and does not fill the bucket. A batch is one request.
* Operating time per method and caller (app or webhook) over 10 one-minute
  buckets: the sum is reported as `time.operating`, the drop of the oldest
  bucket as `time.operating_reset_at`; above the limit the method answers
  429 OPERATION_TIME_LIMIT until enough time has left the window.
"""
from __future__ import annotations

from collections import defaultdict, deque

WINDOW_S = 600
BUCKET_S = 60


class LeakyBucket:
    def __init__(self) -> None:
        self.level = 0.0
        self.at = 0.0

    def admit(self, now: float, rate: float, capacity: float) -> bool:
        self.level = max(0.0, self.level - (now - self.at) * rate)
        self.at = now
        if self.level + 1 > capacity:
            return False
        self.level += 1
        return True


class OperatingMeter:
    """Accumulated execution seconds per (caller, method)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple, deque] = defaultdict(deque)  # key -> [(minute_start, seconds)]

    def _trim(self, key: tuple, now: float) -> deque:
        buckets = self._buckets[key]
        while buckets and buckets[0][0] <= now - WINDOW_S:
            buckets.popleft()
        return buckets

    def used(self, key: tuple, now: float) -> float:
        return sum(s for _, s in self._trim(key, now))

    def reset_at(self, key: tuple, now: float) -> int:
        buckets = self._trim(key, now)
        return int(buckets[0][0] + WINDOW_S) if buckets else int(now + WINDOW_S)

    def add(self, key: tuple, now: float, seconds: float) -> None:
        buckets = self._trim(key, now)
        minute = now - (now % BUCKET_S)
        if buckets and buckets[-1][0] == minute:
            buckets[-1] = (minute, buckets[-1][1] + seconds)
        else:
            buckets.append((minute, seconds))
