"""What every benchmark shares: result rows, the printed table, the JSON file,
the command line, and the exit status (1 when a judged target fails; "(info)"
rows never fail)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgresql", "both")

# A column of a benchmark's table: its header and how a row shows in it.
Column = tuple[str, Callable[[dict], str]]


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def stop_on_problems(problems: Sequence[object], message: str) -> None:
    """A benchmark of a broken ledger means nothing: when `ledger verify`
    found problems, the first 20 go to stderr and the run stops with `message`."""
    if problems:
        for problem in problems[:20]:
            log(f"  {problem}")
        raise SystemExit(message)


def result(figure: str, measured: Any, unit: str, target: str | None = None, ratio: float | None = None,
           passed: bool | None = None) -> dict:
    """One row of a benchmark's results: the shape its JSON file keeps and
    `python -m bench --collect` reads. No target: shown, never judged."""
    return {"figure": figure, "target": target, "measured": measured, "unit": unit,
            "ratio": ratio, "pass": passed}


def passed(row: dict) -> str:
    return "" if row["pass"] is None else "PASS" if row["pass"] else "FAIL"


def table(header: Sequence[str], cells: list[Sequence[str]]) -> str:
    """A plain-text table: columns padded, a rule under the header."""
    lines_in = [tuple(header)] + [tuple(c) for c in cells]
    widths = [max(len(line[i]) for line in lines_in) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines_in]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def figures_table(rows: list[dict], measured: Callable[[dict], str], ratio: Callable[[dict], str] | None = None,
                  after: Sequence[Column] = ()) -> str:
    """A benchmark's rows as its printed table: figure, target, measured,
    ratio (where the benchmark shows one), pass, then columns of its own.
    How a figure is measured (units, precision) is each benchmark's."""
    columns: list[Column] = [("figure", lambda row: row["figure"]), ("target", lambda row: row["target"] or ""),
                             ("measured", measured)]
    if ratio is not None:
        columns.append(("ratio", ratio))
    columns += [("pass", passed), *after]
    return table([name for name, _ in columns], [[cell(row) for _, cell in columns] for row in rows])


def write_json(rows: list[dict], path: Path) -> None:
    """Written beside and renamed, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def results_path(name: str, quick: bool) -> Path:
    # A smoke run keeps its own file so that it never replaces the full figures.
    return RESULTS / (f"{name}.quick.json" if quick else f"{name}.json")


def exit_status(rows: list[dict]) -> int:
    failed = [row for row in rows if row["pass"] is False and "(info)" not in (row["target"] or "")]
    return 1 if failed else 0


def finish(name: str, rows: list[dict], printed_table: str, quick: bool, started: float | None = None) -> int:
    """Print the table, keep the rows as JSON, and give the exit status;
    with `started` (a perf_counter reading), say how long the run took."""
    print(printed_table)
    path = results_path(name, quick)
    write_json(rows, path)
    took = "" if started is None else f" ({time.perf_counter() - started:.0f} s in all)"
    print(f"\nwritten to {path}{took}")
    return exit_status(rows)


def arguments(name: str, doc: str, quick_help: str, db: bool = False,
              profile_help: str | None = None) -> argparse.ArgumentParser:
    """`python -m bench.<name>`'s options: --db where the benchmark runs on
    either database, --quick, --profile where it has one. The options' names
    are `run`'s parameters (quick, db, want_profile); see `command`."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.splitlines()[0])
    if db:
        parser.add_argument("--db", choices=DATABASES, default="sqlite")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if profile_help is not None:
        parser.add_argument("--profile", dest="want_profile", action="store_true", help=profile_help)
    return parser


def command(name: str, doc: str, run: Callable[..., list[dict]], format_table: Callable[[list[dict]], str],
            argv: list[str] | None, quick_help: str, db: bool = False, profile_help: str | None = None) -> int:
    """A benchmark's whole command: read `argv` (see `arguments`), run it
    with the options by name, then `finish` (table, JSON, time, exit status)."""
    args = arguments(name, doc, quick_help, db=db, profile_help=profile_help).parse_args(argv)
    started = time.perf_counter()
    rows = run(**vars(args))
    return finish(name, rows, format_table(rows), args.quick, started)
