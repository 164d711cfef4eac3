"""jobs/hints.py: the tasks events named, taken by one batched sync per
portal — in this process and in Redis, with the same behaviour."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.hints import LocalHints, RedisHints
from tests.conftest import empty_redis

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(params=["local", "redis"])
def hints(request) -> Iterator:
    if request.param == "local":
        yield LocalHints()
        return
    with empty_redis(REDIS_URL) as connection:
        yield RedisHints(connection)


def test_a_run_takes_every_task_named_once_each(hints):
    # Only the first event after a take queues a run.
    assert [hints.add(1, task_id) for task_id in (7, 3, 7, 7, 12)] == [True, False, False, False, False]
    assert hints.add(2, 7)  # another portal's
    assert hints.take(1) == [3, 7, 12]
    hints.done(1, [3, 7, 12])
    assert hints.take(1) == [] and hints.take(2) == [7]


def test_a_run_that_never_came_is_queued_again_after_a_while():
    """An event found both runs started and queued nothing: the flag lapses
    and the next event queues a run."""
    clock = [100.0]
    local = LocalHints(queued_s=10, clock=lambda: clock[0])
    assert local.add(1, 5) and not local.add(1, 6)
    clock[0] += 11
    assert local.add(1, 6) and local.take(1) == [5, 6]
    with empty_redis(REDIS_URL) as connection:
        shared = RedisHints(connection, queued_s=1)
        assert shared.add(1, 5) and not shared.add(1, 6)
        assert 0 < connection.ttl("hourbook:hints:1:queued") <= 1
        time.sleep(1.1)
        assert shared.add(1, 6) and shared.take(1) == [5, 6]


def test_a_run_that_dies_leaves_its_tasks_to_the_next(hints):
    hints.add(1, 5)
    assert hints.take(1) == [5]  # ... and the run is killed before done()
    hints.add(1, 6)
    assert hints.take(1) == [5, 6]
    hints.done(1, [5, 6])
    assert hints.take(1) == []


def test_a_task_named_while_it_is_read_is_read_again(hints):
    hints.add(1, 5)
    taken = hints.take(1)
    assert hints.add(1, 5)  # the run may have read it before this change: waiting again, a run queued
    hints.done(1, taken)
    assert hints.take(1) == [5]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.just("add"), st.integers(1, 2), st.integers(1, 8)),
                          st.tuples(st.just("run"), st.integers(1, 2), st.booleans())), max_size=40))
def test_no_named_task_is_forgotten(steps):
    """Whatever the order of events and of runs (finished or killed), every
    task named after a portal's last finished run is taken by its next one,
    and while any task waits, some event queued a run (add said True)."""
    with empty_redis(REDIS_URL) as connection:
        for store in (LocalHints(), RedisHints(connection)):
            unread: dict[int, set[int]] = {1: set(), 2: set()}
            waiting: dict[int, set[int]] = {1: set(), 2: set()}
            queued = {1: False, 2: False}
            for kind, portal, arg in steps:
                if kind == "add":
                    new = store.add(portal, arg)
                    assert new == (not queued[portal])
                    queued[portal] |= new
                    unread[portal].add(arg)
                    waiting[portal].add(arg)
                else:
                    taken = store.take(portal)  # a queued run starts (or one the schedule runs)
                    assert set(taken) >= unread[portal]
                    waiting[portal], queued[portal] = set(), False
                    if arg:  # the run finished
                        store.done(portal, taken)
                        unread[portal] = set()
                assert all(queued[p] for p in (1, 2) if waiting[p])
            for portal in (1, 2):
                assert set(store.take(portal)) >= unread[portal]
