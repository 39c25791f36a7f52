"""The benchmarks stay runnable: each module imports, and a quick one runs end to end."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_imports_and_a_quick_one_reports() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "bench", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = [line.split()[0] for line in listed.splitlines()]
    assert {"throughput", "lateness", "refresh", "retention", "console", "memory"} <= set(names)
    for name in names:
        assert callable(importlib.import_module(f"bench.{name}").run)
    subprocess.run(
        [sys.executable, "-m", "bench", "refresh", "--quick", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads((ROOT / "bench/results/refresh.quick.json").read_text())
    assert result["command"] == "python -m bench refresh --quick --repeat 1"
    assert result["figures"]["snapshot ms at 10,000 items and runs"]["median"] > 0
    assert result["machine"]["cores"] and result["machine"]["versions"]["cronsole"]
