"""Figures 1-3: the console in a real terminal (a pty of 100x30), against a bare Textual app with
the same widgets (`bench/bare_console.py`), interleaved in the same rounds.

1. idle: `cronsole --observe` on a workspace of 100 jobs, 100 tenants and 1,000,000 items and
   runs of history, nothing changing but countdowns; CPU % of one core, RSS and bytes/s written
   to the terminal over a 60 s window. The bare app updates one label every second.
2. live: the same while a headless host runs 5 jobs that each report progress and log 10 lines
   a second (50 lines/s), with the Logs tab showing; the bare app appends the same number of
   lines to a `Log` as they arrive. The key figure is measured in-process: a tab key is
   simulated and timed until the tab is active.
3. first paint: from spawning the process to the first frame that shows job rows.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

from .common import report, stats
from .refresh import fill

SIZE = (100, 30)
LIVE_JOBS, LINES_PER_JOB = 5, 10
MARKER = b"job-"  # a job row: cronsole's job names and the bare app's row labels both start so
LIVE_MODULE = f"""\
from cronsole.core import JobContext, job


def feed(ctx: JobContext) -> None:
    ctx.set_total(100_000)
    done = 0
    start = ctx.clock.monotonic()
    while not ctx.cancelled and done < 100_000:
        done += 1
        ctx.log.info("processed item %d of tenant-%03d in %d ms", done, done % 100, done % 37)
        ctx.add_progress(processed=1)
        ctx.sleep(max(0.0, start + done / {LINES_PER_JOB} - ctx.clock.monotonic()))
""" + "".join(
    f"""

@job(name="live-{n}", schedule="0 0 1 1 *")
def live_{n}(ctx: JobContext) -> None:
    feed(ctx)
"""
    for n in range(LIVE_JOBS)
)


class Terminal:
    """A process on a pty: counts what it writes, notes when `MARKER` first appears."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.bytes = 0
        self.painted = threading.Event()
        self.first_paint = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        tail = b""
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.bytes += len(chunk)
            if not self.painted.is_set() and MARKER in tail + chunk:
                self.first_paint = time.perf_counter() - self.started
                self.painted.set()
            tail = chunk[-len(MARKER) :]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def window(self, seconds: float) -> dict[str, float]:
        cpu, written, start = self.cpu_seconds(), self.bytes, time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - start
        return {
            "cpu %": (self.cpu_seconds() - cpu) / elapsed * 100,
            "bytes/s": (self.bytes - written) / elapsed,
            "rss MiB": self.rss_mib(),
        }

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def measure(
    argv: list[str], env: dict[str, str], seconds: float, keys: bytes = b""
) -> dict[str, float]:
    terminal = Terminal(argv, env)
    try:
        if not terminal.painted.wait(60):
            raise RuntimeError(f"{argv} showed no job rows within 60 s")
        if keys:
            os.write(terminal.master, keys)
        time.sleep(3)  # settle: the first refreshes, the tab switch
        return {"first paint s": terminal.first_paint, **terminal.window(seconds)}
    finally:
        terminal.close()


def workspace(folder: Path, rows: int) -> Path:
    config = fill(folder, rows)
    (folder / "livejobs.py").write_text(LIVE_MODULE)
    config.write_text(config.read_text().replace('["jobs100.py"]', '["jobs100.py", "livejobs.py"]'))
    return config


def start_live(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    host = subprocess.Popen(
        ["cronsole", "--config", str(config), "--no-tui"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for n in range(LIVE_JOBS):
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["cronsole", "--config", str(config), "fire", f"live-{n}"],
            env=env,
            capture_output=True,
            timeout=60,
        ).returncode:
            if time.monotonic() > deadline:  # exit 1 until the host is up; nothing written
                raise RuntimeError("the headless host did not take the live jobs")
            time.sleep(0.5)
    return host


def key_latencies(config: Path, presses: int) -> list[float]:
    """Milliseconds from a simulated tab key to the tab being active, in the console's process
    (observing, while the live jobs run elsewhere)."""
    from textual.widgets import TabbedContent

    from cronsole.core.config import load_settings
    from cronsole.core.engine import build_engine
    from cronsole.tui.console.app import CronsoleApp

    engine = build_engine(load_settings(str(config), env={}))
    engine.start_node("observer")
    app = CronsoleApp(engine, None)
    times: list[float] = []

    async def drive() -> None:
        async with app.run_test(size=SIZE):
            await asyncio.sleep(3)
            tabs = app.screen.query_one(TabbedContent)
            for n in range(presses):
                key, tab = ("4", "logs") if n % 2 == 0 else ("1", "jobs")
                start = time.perf_counter()
                app.simulate_key(key)
                while tabs.active != tab:  # noqa: ASYNC110 - polling is the measurement
                    await asyncio.sleep(0.001)
                times.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(0.4)

    asyncio.run(drive())
    engine.close()
    return times


def run(repeat: int, quick: bool) -> None:
    rows, seconds = (10_000, 10.0) if quick else (1_000_000, 60.0)
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    bare = [sys.executable, "-m", "bench.bare_console"]
    figures: dict[str, Any] = {
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "window s": seconds,
        "items and runs": rows,
    }
    rounds: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        config = workspace(Path(folder), rows)
        console = ["cronsole", "--config", str(config), "--observe"]
        for _ in range(repeat):
            rounds.setdefault("idle cronsole", []).append(measure(console, env, seconds))
            rounds.setdefault("idle bare", []).append(measure(bare, env, seconds))
        host = start_live(config, env)
        try:
            for _ in range(repeat):
                rounds.setdefault("live cronsole", []).append(
                    measure(console, env, seconds, keys=b"4")
                )
                rounds.setdefault("live bare", []).append(
                    measure(
                        [*bare, "--live", str(LIVE_JOBS * LINES_PER_JOB)], env, seconds, keys=b"4"
                    )
                )
            keys = key_latencies(config, 10 if quick else 40)
        finally:
            host.send_signal(signal.SIGTERM)
            host.wait(60)
    for name, values in rounds.items():
        for figure in ("cpu %", "bytes/s", "rss MiB"):
            figures[f"{name} {figure}"] = stats([v[figure] for v in values])
    for mode in ("idle", "live"):
        for figure in ("cpu %", "bytes/s"):
            figures[f"{mode} {figure} ratio"] = stats(
                [
                    c[figure] / b[figure]
                    for c, b in zip(rounds[f"{mode} cronsole"], rounds[f"{mode} bare"], strict=True)
                ]
            )
    figures["first paint s cronsole"] = stats([v["first paint s"] for v in rounds["idle cronsole"]])
    figures["first paint s bare"] = stats([v["first paint s"] for v in rounds["idle bare"]])
    figures["first paint ratio"] = stats(
        [
            c["first paint s"] / b["first paint s"]
            for c, b in zip(rounds["idle cronsole"], rounds["idle bare"], strict=True)
        ]
    )
    figures["live key to tab ms"] = {
        "p50": round(statistics.median(keys), 1),
        "max": round(max(keys), 1),
        "presses": len(keys),
    }
    report(
        "console",
        figures,
        {
            "idle": "CPU <= 2x bare and < 1 %; < 500 B/s; RSS < 150 MiB",
            "live": "CPU and bytes/s <= 0.3x bare; CPU < 5 %; a key acts within 100 ms",
            "first paint": "< 1.0 s and <= 1.5x bare",
        },
        [
            "cronsole observes (no scheduler in the console's process); in the live case a"
            " separate `cronsole --no-tui` runs the 5 jobs",
            "CPU % is of one core",
        ],
    )
