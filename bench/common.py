"""What every benchmark shares: result rows, the printed table, the JSON file,
and the exit status (1 when a judged target fails; "(info)" rows never fail)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def passed(row: dict) -> str:
    return "" if row["pass"] is None else "PASS" if row["pass"] else "FAIL"


def table(header: Sequence[str], cells: list[Sequence[str]]) -> str:
    """A plain-text table: columns padded, a rule under the header."""
    lines_in = [tuple(header)] + [tuple(c) for c in cells]
    widths = [max(len(line[i]) for line in lines_in) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines_in]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


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


def finish(name: str, rows: list[dict], printed_table: str, quick: bool, suffix: str = "") -> int:
    """Print the table, keep the rows as JSON, and give the exit status."""
    print(printed_table)
    path = results_path(name, quick)
    write_json(rows, path)
    print(f"\nwritten to {path}{suffix}")
    return exit_status(rows)
