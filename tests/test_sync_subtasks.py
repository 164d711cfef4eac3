"""Subtasks count where their parent does (PRODUCT.md: a task's company, then
its workgroup, then its parent's), whatever order the sync learns things in.
Three cases the simulation found (tests/simulation/), each a plain story here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from emulators.bitrix24 import Emulator
from ledger.db import make_engine, make_session_factory
from tests.live import assert_converged, wire_portal


@pytest.fixture
def integrator(tmp_path, sqlite_template):
    """An integrator's portal: two client companies, each with its workgroup, and the
    integrator's own workgroup (not a client: its time counts nowhere)."""
    import shutil

    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Emulator() as emu:
        p = emu.add_portal("subtasks.bitrix24.test")
        p.rate_limit = None
        staff = p.add_user("Анна", "Орлова")
        p.staff.append((staff, "Анна Орлова", "специалист"))
        companies = [p.add_company(f"Клиент {i}") for i in range(2)]
        groups = [p.add_group(f"Проект {i}", members=[staff]) for i in range(2)]
        own = p.add_group("Внутренние задачи", members=[staff])
        p.keys = {"companies": {f"c{i}": c for i, c in enumerate(companies)},
                  "groups": {f"g{i}": g for i, g in enumerate(groups)}}
        w = wire_portal(emu, p, make_session_factory(engine), mode="integrator")
        yield w, staff, groups, own
    engine.dispose()


def at(hours_ago: int) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=hours_ago)


def test_a_subtask_in_an_uncounted_group_counts_where_its_parent_does_though_the_parent_has_no_time(integrator):
    """The parent has no record of its own, so no record read brings it: the
    sync reads it because the subtask names it."""
    w, staff, groups, own = integrator
    parent = w.p.add_task("Внедрение", staff, group_id=groups[1])
    sub = w.p.add_task("Настройка", staff, group_id=own, parent_id=parent)
    w.p.add_time(sub, staff, 1234, at(5))
    w.sync().run()
    assert_converged(w)


def test_moving_a_parent_moves_the_time_of_its_subtasks(integrator):
    w, staff, groups, _ = integrator
    parent = w.p.add_task("Внедрение", staff, group_id=groups[0])
    sub = w.p.add_task("Настройка", staff, parent_id=parent)
    w.p.add_time(parent, staff, 600, at(6))
    w.p.add_time(sub, staff, 1234, at(5))
    w.sync().run(reconcile=True)
    assert_converged(w)

    w.p.update_task(parent, group_id=groups[1])  # ONTASKUPDATE; the subtask itself is untouched
    w.sync().sync_task(parent)                   # the event's hint
    assert_converged(w)


def test_deleting_a_parent_moves_its_subtasks_up_and_their_time_with_them(integrator):
    """The portal moves the subtasks of a deleted task up to its parent with no
    event and no new CHANGED_DATE; the hint for the deleted task re-reads them."""
    w, staff, groups, _ = integrator
    top = w.p.add_task("Проект", staff, group_id=groups[0])
    middle = w.p.add_task("Этап", staff, group_id=groups[1], parent_id=top)
    sub = w.p.add_task("Работа", staff, parent_id=middle)
    w.p.add_time(sub, staff, 1800, at(5))
    w.sync().run(reconcile=True)
    assert_converged(w)  # on the middle task's client

    w.p.delete_task(middle)
    assert w.p.tasks[sub].parent_id == top
    w.sync().sync_task(middle)  # ONTASKDELETE's hint
    assert_converged(w)  # now on the top task's client
