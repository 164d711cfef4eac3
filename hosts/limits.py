"""Pacing requests to a host's limit. Bitrix24 (bitrix24-facts §6): each
request adds one, the bucket drains at 2 per second (5 on Enterprise), and
past 50 (250) the portal answers 503. We keep our own estimate of the bucket
and wait before it would overflow, so the portal never has to refuse us.
amoCRM (amocrm/FACTS.md §3) allows 7 requests a second per account and
answers 429, then blocks the account with 403: the same bucket, one deep,
draining at 5 a second, keeps us under it (amocrm/connection.py).

With Redis the estimate is shared by every process calling the same portal
(several workers, the web processes); without it, each process paces itself.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Limiter(Protocol):
    def acquire(self) -> None: ...


class LocalBucket:
    def __init__(self, rate_per_s: float = 2.0, capacity: int = 50, margin: int = 5,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.capacity, self.margin = rate_per_s, capacity, margin
        self.level, self.stamp = 0.0, clock()
        self.clock, self.sleep = clock, sleep
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
                self.stamp = now
                room = self.capacity - self.margin
                if self.level + 1 <= room:
                    self.level += 1
                    return
                wait = (self.level + 1 - room) / self.rate
            self.waited_s += wait
            self.sleep(wait)


# The same leaky bucket in Redis, one key per portal, updated atomically.
_LUA = """
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or '0')
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp') or ARGV[1])
local now, rate, room = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
level = math.max(0, level - (now - stamp) * rate)
if level + 1 <= room then
  redis.call('HSET', KEYS[1], 'level', level + 1, 'stamp', now)
  redis.call('EXPIRE', KEYS[1], 3600)
  return '0'
end
redis.call('HSET', KEYS[1], 'level', level, 'stamp', now)
return tostring((level + 1 - room) / rate)
"""


class RedisBucket:
    def __init__(self, redis, key: str, rate_per_s: float = 2.0, capacity: int = 50, margin: int = 5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.redis, self.key = redis, f"hourbook:bucket:{key}"
        self.rate, self.room = rate_per_s, capacity - margin
        self.script = redis.register_script(_LUA)
        self.sleep = sleep
        self.waited_s = 0.0

    def acquire(self) -> None:
        while True:
            now = float(self.redis.time()[0]) + float(self.redis.time()[1]) / 1e6
            wait = float(self.script(keys=[self.key], args=[now, self.rate, self.room]))
            if wait <= 0:
                return
            self.waited_s += wait
            self.sleep(wait)
