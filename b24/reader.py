"""Reading a portal's time records and tasks with as few requests as possible.

Bitrix24 sends no event when time is logged, edited or deleted (facts §4.3),
so the sync reads; these readers make that cheap:

- Pages are chained inside one `batch`: each command's `>ID` filter refers to
  the last ID of the page before it (`$result[p0][49][ID]`), so one request
  brings up to 50 pages of 50 records, with no page counts and no offsets
  that shift when records are added meanwhile.
- A task's `TIME_SPENT_IN_LOGS` is the sum of its records; listing every task
  with only that field costs one request per 2,500 tasks and tells exactly
  which tasks changed since our mirror, edits in closed months included.
- Only the tasks that differ are re-read, 50 tasks per request.

Everything returned is plain data; nothing here writes to the ledger.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .client import MAX_BATCH, BatchResult, Rest, command

PAGE = 50
# The first import's first request: the task list (2,200 tasks, and the short
# page that ends it) beside the first five pages of records. A portal with
# more tasks reads the rest of the list in further requests.
FIRST_TASK_PAGES = 45
RECORD_FIELDS = ["ID", "TASK_ID", "USER_ID", "COMMENT_TEXT", "SECONDS", "MINUTES", "SOURCE",
                 "CREATED_DATE", "DATE_START", "DATE_STOP"]
TASK_FIELDS = ["ID", "TITLE", "STATUS", "GROUP_ID", "PARENT_ID", "RESPONSIBLE_ID", "UF_CRM_TASK", "TAGS",
               "TIME_SPENT_IN_LOGS", "CHANGED_DATE", "CLOSED_DATE"]


def _records_page(after: str, extra_filter: dict[str, Any] | None = None) -> str:
    return _records_page_of(after, tuple((extra_filter or {}).items()))


# A chain's pages after the first differ only by their `$result` reference,
# the same in every run: each command string is built once, not per sync.
@functools.lru_cache(maxsize=4096)
def _records_page_of(after: str, extra_filter: tuple[tuple[str, Any], ...]) -> str:
    # task.elapseditem.getlist takes positional params (facts §4.1): with no
    # TASKID first, the order comes first and the search is portal-wide.
    filt = {">ID": after, **dict(extra_filter)}
    return command("task.elapseditem.getlist", [
        {"ID": "asc"}, filt, RECORD_FIELDS, {"NAV_PARAMS": {"nPageSize": PAGE, "iNumPage": 1}},
    ])


def _as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):  # PHP arrays with numeric keys may come as objects
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdecimal() else 0)]
    return []


@dataclass
class Chain:
    """A chained read: up to `pages` pages in one batch, continuing from
    `after`. `done` tells whether the last page was short (nothing more)."""

    items: list[dict]
    last_id: int
    done: bool


def chain_commands(key: str, after: int, pages: int, page_cmd) -> dict[str, str]:
    cmds = {}
    for i in range(pages):
        ref = str(after) if i == 0 else f"$result[{key}{i - 1}][{PAGE - 1}][ID]"
        cmds[f"{key}{i}"] = page_cmd(ref)
    return cmds


def read_chain(batch: BatchResult, key: str, pages: int, after: int, id_of=lambda item: item["ID"],
               unwrap=lambda result: result) -> Chain:
    """Collect a chain's pages in order, stopping at the first short page;
    commands after it (whose references could not resolve) are ignored."""
    items: list[dict] = []
    last = after
    for i in range(pages):
        name = f"{key}{i}"
        if name in batch.errors and name not in batch.result:
            raise ChainBroken(name, batch.errors[name])
        page = _as_list(unwrap(batch.result.get(name)))
        items.extend(page)
        if page:
            last = int(id_of(page[-1]))
        if len(page) < PAGE:
            return Chain(items, last, True)
    return Chain(items, last, False)


class ChainBroken(Exception):
    pass


def new_records(rest: Rest, after_id: int, extra_filter: dict[str, Any] | None = None,
                pages_per_request: int = MAX_BATCH) -> Iterator[list[dict]]:
    """Every record with ID > after_id, oldest first, a batch of pages at a time."""
    cursor = after_id
    while True:
        cmds = chain_commands("r", cursor, pages_per_request, lambda ref: _records_page(ref, extra_filter))
        chain = read_chain(rest.batch(cmds), "r", pages_per_request, cursor)
        if chain.items:
            yield chain.items
        if chain.done:
            return
        cursor = chain.last_id


def records_since(rest: Rest, since: datetime) -> Iterator[list[dict]]:
    """Every record dated (CREATED_DATE) at or after `since`."""
    yield from new_records(rest, 0, {">=CREATED_DATE": since.isoformat()})


def _tasks_page(after: str, select: list[str], extra: dict[str, Any] | None = None) -> str:
    return _tasks_page_of(after, tuple(select), tuple((extra or {}).items()))


@functools.lru_cache(maxsize=4096)
def _tasks_page_of(after: str, select: tuple[str, ...], extra: tuple[tuple[str, Any], ...]) -> str:
    return command("tasks.task.list", {
        "order": {"ID": "asc"}, "filter": {">ID": after, **dict(extra)}, "select": list(select),
        "start": -1,  # no COUNT(*): the portal answers faster (huge-data.md)
    })


def task_chain_commands(after: int, pages: int, select: list[str]) -> dict[str, str]:
    cmds = {}
    for i in range(pages):
        ref = str(after) if i == 0 else f"$result[t{i - 1}][tasks][{PAGE - 1}][id]"
        cmds[f"t{i}"] = _tasks_page(ref, select)
    return cmds


def read_task_chain(batch: BatchResult, pages: int, after: int) -> Chain:
    return read_chain(batch, "t", pages, after, id_of=lambda item: item["id"],
                      unwrap=lambda result: (result or {}).get("tasks") if isinstance(result, dict) else result)


def task_totals(rest: Rest, after_id: int = 0, pages_per_request: int = MAX_BATCH) -> Iterator[list[dict]]:
    """Every task's ID and TIME_SPENT_IN_LOGS, in ID order, after `after_id`."""
    return task_list(rest, after_id, ["ID", "TIME_SPENT_IN_LOGS"], pages_per_request)


def task_list(rest: Rest, after_id: int, select: list[str],
              pages_per_request: int = MAX_BATCH) -> Iterator[list[dict]]:
    """Every task's `select` fields, in ID order, after `after_id`."""
    cursor = after_id
    while True:
        cmds = task_chain_commands(cursor, pages_per_request, select)
        chain = read_task_chain(rest.batch(cmds), pages_per_request, cursor)
        if chain.items:
            yield chain.items
        if chain.done:
            return
        cursor = chain.last_id


def records_of_tasks(rest: Rest, task_ids: list[int]) -> tuple[dict[int, list[dict]], set[int]]:
    """All records of each task (with a TASKID and no page size the method
    returns every row of the task); and the tasks the portal no longer has."""
    found: dict[int, list[dict]] = {}
    gone: set[int] = set()
    for start in range(0, len(task_ids), MAX_BATCH):
        chunk = task_ids[start:start + MAX_BATCH]
        # Positions matter and PHP's query format drops empty arrays, so the
        # filter repeats the task rather than being empty (facts §4.1).
        cmds = {f"k{tid}": command("task.elapseditem.getlist",
                                   [tid, {"ID": "asc"}, {"TASK_ID": tid}, RECORD_FIELDS])
                for tid in chunk}
        batch = rest.batch(cmds)
        for tid in chunk:
            name = f"k{tid}"
            if name in batch.result:
                found[tid] = _as_list(batch.result[name])
            else:
                gone.add(tid)  # "Task not found": deleted, and its records with it
    return found, gone


def tasks_meta(rest: Rest, task_ids: list[int]) -> list[dict]:
    """Title, status, group, parent, CRM binding, tags of the given tasks."""
    out: list[dict] = []
    chunks = [task_ids[i:i + PAGE] for i in range(0, len(task_ids), PAGE)]
    for start in range(0, len(chunks), MAX_BATCH):
        cmds = {f"m{n}": command("tasks.task.list", {"filter": {"ID": chunk}, "select": TASK_FIELDS, "start": -1})
                for n, chunk in enumerate(chunks[start:start + MAX_BATCH])}
        batch = rest.batch(cmds)
        for name in cmds:
            result = batch.result.get(name)
            out.extend(_as_list((result or {}).get("tasks") if isinstance(result, dict) else result))
    return out


def changed_tasks(rest: Rest, since: datetime) -> list[dict]:
    """Tasks changed at or after `since` (moved, re-bound, renamed)."""
    out: list[dict] = []
    cursor = 0
    while True:
        cmds = {f"t{i}": _tasks_page(str(cursor) if i == 0 else f"$result[t{i - 1}][tasks][{PAGE - 1}][id]",
                                     TASK_FIELDS, {">=CHANGED_DATE": since.isoformat()})
                for i in range(10)}
        chain = read_task_chain(rest.batch(cmds), 10, cursor)
        out.extend(chain.items)
        if chain.done:
            return out
        cursor = chain.last_id
