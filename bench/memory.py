"""Figure 8: resident memory of `cronsole --no-tui` running the demo workspace at 10x speed for
an hour (`--quick`: 2 minutes). Every schedule is divided by ten through the documented
`CRONSOLE_JOB_<NAME>_SCHEDULE` variables, except the batch checker, which already runs at its
shortest allowed interval (5 minutes). The two daily jobs (nightly entities, retention) would
still not fire within the hour, so they run every 30 minutes instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from .common import report

SCHEDULES = {  # demo schedule -> one tenth of it
    "invoice-ingest": "every 6s",  # every minute
    "batch-check": "every 5m",  # its shortest allowed interval (the demo's own)
    "nightly-entities": "every 30m",  # daily (see above)
    "hourly-rollup": "every 6m",  # hourly
    "stale-sweeper": "every 30s",  # every 5m
    "tenant-queue": "every 6s",  # every minute in the demo config
    "tenant-health": "every 6s",  # every minute
    "retention": "every 30m",  # daily (see above)
    "demo-traffic": "every 1s",  # every 10s
}
SAMPLE_SECONDS = 10


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def slope_per_10min(samples: list[tuple[float, float]]) -> float:
    """Least-squares growth of RSS in MiB per 10 minutes."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 600 if var else 0.0


def run(repeat: int, quick: bool) -> None:
    from cronsole.tui.demo import create_workspace

    minutes = 2.0 if quick else 60.0
    env = dict(os.environ)
    for name, schedule in SCHEDULES.items():
        env["CRONSOLE_JOB_" + name.upper().replace("-", "_") + "_SCHEDULE"] = schedule
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        config = create_workspace(Path(folder) / "demo", 7, datetime.now(UTC))
        stderr = (Path(folder) / "stderr.log").open("wb")
        proc = subprocess.Popen(
            ["cronsole", "--no-tui", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        samples: list[tuple[float, float]] = []
        start = time.monotonic()
        try:
            while (elapsed := time.monotonic() - start) < minutes * 60:
                if proc.poll() is not None:
                    tail = (Path(folder) / "stderr.log").read_text()[-2000:]
                    raise RuntimeError(f"cronsole exited {proc.returncode}: {tail}")
                samples.append((elapsed, rss_mib(proc.pid)))
                time.sleep(SAMPLE_SECONDS)
            samples.append((time.monotonic() - start, rss_mib(proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            stderr.close()
        listed = subprocess.run(
            ["cronsole", "--config", str(config), "runs", "--limit", "10000", "--json"],
            capture_output=True,
            text=True,
            env=env,
        )
        outcomes = Counter(run["status"] for run in json.loads(listed.stdout))
    second_half = [(t, m) for t, m in samples if t >= minutes * 30]
    figures = {
        "minutes": minutes,
        "samples": len(samples),
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "unset (glibc default)"),
        "RSS MiB after 1 minute": round(
            next(m for t, m in samples if t >= 60) if minutes > 1 else samples[0][1], 1
        ),
        "RSS MiB at the end": round(samples[-1][1], 1),
        "RSS MiB max": round(max(m for _, m in samples), 1),
        "RSS growth MiB per 10 min, second half": round(slope_per_10min(second_half), 2),
        "RSS MiB every 5 minutes": [
            round(m, 1) for t, m in samples if t >= 60 and int(t) % 300 < SAMPLE_SECONDS
        ],
        "runs by status (last 10,000)": dict(outcomes),
    }
    report(
        "memory",
        figures,
        {"RSS MiB at the end": "< 100", "RSS growth, second half": "about 0 (not growing)"},
        [
            "one round: an hour-long run is not repeated",
            "10x schedules: " + ", ".join(f"{k} {v}" for k, v in SCHEDULES.items()),
        ],
    )
