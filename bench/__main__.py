"""`python -m bench`: run every benchmark of the project, then print one
table of every judged figure (target, measured, ratio, pass or fail), and
keep it as bench/results/summary.json and bench/results/summary.png.

    python -m bench              # run them all (several minutes), then the table
    python -m bench --quick      # each benchmark's smoke size
    python -m bench --collect    # no run: the table from the results on disk
    python -m bench --only widget --only reports

Each benchmark still runs as its own process (`python -m bench.<name>`), so
one's memory and connections never colour another's figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from .common import RESULTS, exit_status, passed, results_path, table, write_json

BENCHMARKS = ("ledger", "rest_economy", "widget", "reports", "load", "ingest")


def run_one(name: str, quick: bool) -> tuple[int, float]:
    started = time.perf_counter()
    args = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if quick else [])
    if name in ("ledger", "widget", "ingest") and not quick:
        args.append("--db=both")
    code = subprocess.call(args, cwd=Path(__file__).resolve().parent.parent)
    return code, time.perf_counter() - started


def collect(names: tuple[str, ...], quick: bool) -> list[dict]:
    """Every judged row of the named benchmarks' latest results."""
    rows = []
    for name in names:
        path = results_path(name, quick)
        if not path.exists():
            rows.append({"bench": name, "figure": "(no results: run it)", "target": None, "measured": None,
                         "unit": "", "ratio": None, "pass": False})
            continue
        for row in json.loads(path.read_text(encoding="utf-8")):
            if row.get("target"):
                rows.append({"bench": name, **{k: row.get(k) for k in ("figure", "target", "measured", "unit",
                                                                        "ratio", "pass")}})
    return rows


def _measured(row: dict) -> str:
    value, unit = row["measured"], row["unit"] or ""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.3f}" if value < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def _ratio(row: dict) -> str:
    return "" if row.get("ratio") is None else f"{row['ratio']:,}x"


def cells(rows: list[dict]) -> list[tuple[str, ...]]:
    return [(row["bench"], row["figure"], row["target"] or "", _measured(row), _ratio(row), passed(row))
            for row in rows]


HEADER = ("bench", "figure", "target", "measured", "ratio", "pass")


def chart(rows: list[dict], path: Path) -> None:
    """The table as a PNG: one line a figure, pass in green, fail in red."""
    from PIL import Image, ImageDraw, ImageFont

    lines = [HEADER, *cells(rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    font = ImageFont.load_default(size=14)
    char_w, line_h, pad = 8, 22, 16
    width = pad * 2 + char_w * (sum(widths) + 3 * (len(widths) - 1))
    height = pad * 2 + line_h * (len(lines) + 1)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        y = pad + number * line_h + (line_h if number else 0)
        x = pad
        for i, cell in enumerate(line):
            colour = "#151515" if number else "#828b95"
            if number and i == len(line) - 1 and cell:
                colour = "#0b7a47" if cell == "PASS" else "#c0392b"
            draw.text((x, y), cell, fill=colour, font=font)
            x += char_w * (widths[i] + 3)
        if number == 0:
            draw.line((pad, y + line_h - 4, width - pad, y + line_h - 4), fill="#e6e7e9", width=1)
    image.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark at its smoke size")
    parser.add_argument("--collect", action="store_true", help="no run: the table from the results on disk")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="only this benchmark (repeatable)")
    args = parser.parse_args(argv)
    names = tuple(args.only or BENCHMARKS)
    if not args.collect:
        for name in names:
            code, took_s = run_one(name, args.quick)
            print(f"\n== bench.{name}: exit {code}, {took_s:.0f} s\n", flush=True)
    rows = collect(names, args.quick)
    print(table(HEADER, cells(rows)))
    suffix = ".quick" if args.quick else ""
    write_json(rows, RESULTS / f"summary{suffix}.json")
    chart(rows, RESULTS / f"summary{suffix}.png")
    print(f"\nwritten to {RESULTS / f'summary{suffix}.json'} and {RESULTS / f'summary{suffix}.png'}")
    return exit_status(rows)


if __name__ == "__main__":
    sys.exit(main())
