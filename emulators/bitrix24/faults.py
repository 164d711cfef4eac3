"""Misbehaviour on demand, reproducible by seed.

Real portals lose, repeat, reorder and delay events (no retries, facts
§3.4), answer 503/500 now and then, hang past a client's timeout, and
tokens stop working before `expires_in` says. Each knob is a share or a
duration; one seeded generator decides, so a seed reproduces a run.

Event faults act on deliveries (events.py); call faults on REST calls made
to a portal endpoint (server.py). `token_ttl_s` is the real lifetime of new
access tokens; the answers still say `expires_in: 3600` as the portal does.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop_events: float = 0.0        # share of deliveries never sent
    duplicate_events: float = 0.0   # share of deliveries sent twice
    reorder_events: bool = False    # hold deliveries for reorder_window_s, release shuffled
    delay_events_s: float = 0.0     # every delivery waits this long
    fail_calls: float = 0.0         # share of REST calls answered 503/500
    timeout_calls: float = 0.0      # share of REST calls answered only after timeout_sleep_s
    slow_s: float = 0.0             # every REST call takes this much longer
    token_ttl_s: float = 3600.0     # real lifetime of new access tokens
    seed: int = 0
    timeout_sleep_s: float = 2.0
    reorder_window_s: float = 0.2
    # Which failure a failed call gets: the leaky-bucket refusal (503) or
    # the generic server error (500), both documented system errors (facts §6).
    fail_kinds: tuple[str, ...] = ("QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR")
    injected: Counter = field(init=False, repr=False, compare=False)  # what was done: "failed", "late"
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.injected = Counter()
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def chance(self, share: float) -> bool:
        if share <= 0:
            return False
        with self._lock:
            return self._rng.random() < share

    def choice(self, options):
        with self._lock:
            return self._rng.choice(list(options))

    def shuffle(self, items: list) -> None:
        with self._lock:
            self._rng.shuffle(items)
