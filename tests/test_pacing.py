"""Our side of the portal's leaky bucket: requests are paced so the portal
never has to answer 503, per process or shared through Redis."""
from __future__ import annotations

import threading
import time

import redis

from b24.client import Rest, WebhookAuth
from emulators.bitrix24 import Emulator
from b24.limits import LocalBucket, RedisBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_local_bucket_allows_the_burst_then_drains_at_the_rate():
    clock = FakeClock()
    bucket = LocalBucket(2.0, 50, margin=5, clock=clock, sleep=clock.sleep)
    for _ in range(45):
        bucket.acquire()
    assert clock.now == 0.0  # the burst, less our safety margin, goes at once
    for _ in range(10):
        bucket.acquire()
    assert abs(clock.now - 5.0) < 1e-9  # then two a second


def test_paced_client_never_meets_the_portals_limit():
    with Emulator() as emu:
        p = emu.add_portal("paced.bitrix24.test")
        p.rate_limit = (20.0, 50)  # a fast bucket keeps the test short; the shape is the same
        rest = Rest(WebhookAuth(p.webhook(1)), limiter=LocalBucket(20.0, 50, margin=5), retries=0)
        started = time.monotonic()
        for _ in range(120):
            rest.call("server.time")
        elapsed = time.monotonic() - started
    assert emu.requests["server.time"] == 120  # every one answered: a 503 would have raised (retries=0)
    assert elapsed >= (120 - 45) / 20.0 * 0.9


def test_unpaced_client_is_refused_by_the_portal():
    """The emulator's limit is real: without pacing the 51st quick request fails."""
    from b24.client import Transient

    with Emulator() as emu:
        p = emu.add_portal("unpaced.bitrix24.test")
        p.rate_limit = (2.0, 50)
        rest = Rest(WebhookAuth(p.webhook(1)), retries=0)
        refused = 0
        for _ in range(60):
            try:
                rest.call("server.time")
            except Transient as err:
                assert err.code == "QUERY_LIMIT_EXCEEDED" and err.status == 503
                refused += 1
    assert refused >= 5


def test_redis_bucket_is_shared_by_every_process():
    r = redis.Redis.from_url("redis://127.0.0.1:6379/8")
    r.delete("hourbook:bucket:shared-test")
    sleeps: list[float] = []
    a = RedisBucket(r, "shared-test", rate_per_s=2.0, capacity=50, margin=5, sleep=sleeps.append)
    b = RedisBucket(r, "shared-test", rate_per_s=2.0, capacity=50, margin=5, sleep=lambda s: None)

    for _ in range(30):
        a.acquire()
    for _ in range(15):
        b.acquire()
    # Both drew from one bucket: the 46th request must wait, whoever asks.
    thread = threading.Thread(target=a.acquire)
    thread.start()
    thread.join(timeout=10)
    assert sleeps and sleeps[0] > 0.2
    r.delete("hourbook:bucket:shared-test")
