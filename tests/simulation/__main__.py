"""Replay simulation seeds: `python -m tests.simulation --seed 17 -v`.

Each seed runs on a fresh SQLite file (or, with --pg, a fresh PostgreSQL
schema at TEST_POSTGRES_URL) with its own emulated portal and the app
behind a real HTTP server, exactly as tests/test_simulation.py runs it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from emulators.bitrix24 import Emulator

from .runner import fresh_database
from .world import AppServer, simulate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", help="a seed to play (repeatable)")
    parser.add_argument("--seeds", default="", help="a range of seeds, e.g. 0-199")
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL instead of SQLite")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each seed's story")
    args = parser.parse_args(argv)
    seeds = list(args.seed or [])
    if args.seeds:
        low, _, high = args.seeds.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    if not seeds:
        parser.error("give --seed N or --seeds A-B")
    failed = []
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        server = AppServer()
        try:
            for seed in seeds:
                started = time.monotonic()
                with fresh_database(seed, Path(tmp), args.pg) as (url, instance):
                    out = simulate(seed, emu, server, url, instance)
                if args.verbose:
                    print("\n".join(out.story))
                print(f"{out.line()} ({time.monotonic() - started:.2f} s)")
                for problem in out.problems:
                    print(f"  PROBLEM {problem}")
                if out.problems:
                    failed.append(seed)
        finally:
            server.stop()
    if failed:
        print(f"failing seeds: {failed}; replay: python -m tests.simulation --seed {failed[0]} -v"
              + (" --pg" if args.pg else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
