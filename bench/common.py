"""What every benchmark shares: machine facts, repetition statistics, and the JSON report."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
QUICK = False  # set by --quick: results go to <name>.quick.json (not kept in git)
PACKAGES = (
    "cronsole",
    "textual",
    "apscheduler",
    "sqlite-utils",
    "huey",
    "psycopg",
    "procrastinate",
)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "load_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "versions": versions,
    }


def stats(values: list[float]) -> dict[str, float]:
    """Median and spread ((max − min) / median) of repeated measurements."""
    median = statistics.median(values)
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread": (max(values) - min(values)) / median if median else 0.0,
        "runs": len(values),
    }


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(
    name: str, figures: dict[str, Any], targets: dict[str, str], notes: list[str] | None = None
) -> dict[str, Any]:
    """Print the figures with the command, versions and machine; write results/<name>.json."""
    result = {
        "benchmark": name,
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "figures": figures,
        "targets": targets,
        "notes": notes or [],
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = ".quick.json" if QUICK else ".json"
    (RESULTS / f"{name}{suffix}").write_text(json.dumps(result, indent=2) + "\n")
    print(f"== {name}: {result['command']}")
    m = result["machine"]
    print(
        f"   {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB, load {m['load_1m']:.2f},"
        f" Python {m['python']}, SQLite {m['sqlite']}"
    )
    print("   " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v))
    for key, value in figures.items():
        print(f"   {key}: {fmt(value)}")
    for key, target in targets.items():
        print(f"   target {key}: {target}")
    for note in notes or []:
        print(f"   note: {note}")
    return result


def fmt(value: Any) -> str:
    if isinstance(value, dict) and "median" in value:
        return (
            f"median {value['median']:.4g} (min {value['min']:.4g}, max {value['max']:.4g},"
            f" spread {value['spread']:.0%}, n={value['runs']})"
        )
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
