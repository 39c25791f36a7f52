"""`python -m bench NAME [--repeat N] [--quick]`; `python -m bench list` names them."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import common

BENCHMARKS = {
    "throughput": "engine throughput vs huey (SqliteHuey) and raw batched SQLite (figure 5)",
    "lateness": "scheduler lateness vs bare APScheduler (figure 4)",
    "refresh": "the console's periodic snapshot read at 10k/100k/1M rows (figure 6)",
    "retention": "archiving 500,000 runs: longest write lock, ticks meanwhile (figure 7)",
    "console": "console CPU, bytes/s and first paint in a pty vs a bare Textual app (figures 1-3)",
    "memory": "RSS of cronsole --no-tui over an hour of the demo at 10x speed (figure 8)",
    "postgres": "figure 5 on PostgreSQL, 1 and 3 nodes, vs procrastinate on the same server",
    "soak": "RSS and WAL of cronsole --no-tui for 30 min with 200,000 pending items (figure 9)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=[*BENCHMARKS, "list"])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median and spread)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    args = parser.parse_args(argv)
    if args.name == "list":
        for name, what in BENCHMARKS.items():
            print(f"{name:<12} {what}")
        return 0
    common.QUICK = args.quick
    module = importlib.import_module(f"bench.{args.name}")
    module.run(repeat=max(1, args.repeat), quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
