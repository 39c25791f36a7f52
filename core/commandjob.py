"""Jobs that are commands (`command = [...]` in cronsole.toml): the process runs in a group of
its own; its output lines become the run's log (stdout INFO, stderr WARNING), a stdout line that
is a JSON progress object moves the run's progress instead, and its exit code (or the signal
that ended it) is the outcome. Cancel, timeout and a graceful stop send SIGTERM to the group,
then SIGKILL after `kill_after`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from .commandspec import CommandSpec, read_env_file
from .errors import JobFailed

if TYPE_CHECKING:  # the context imports the registry, which makes command jobs
    from .context import JobContext

MAX_LINE = 8192  # bytes of one output line kept; the rest of it is cut, with a marker
MAX_LINES = 10_000  # lines of one run logged; past that they are counted, not logged
TAIL = 20  # last lines of output kept with the run (its screen and `runs show`)
PROGRESS_SCALE = 1000  # a `progress` fraction is shown as this many steps


class Output:
    """The lines of one run's output: logged up to MAX_LINES, the last TAIL kept, progress
    lines applied to the run. Called from the two reader threads."""

    def __init__(self, ctx: JobContext[Any]) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.tail: deque[str] = deque(maxlen=TAIL)
        self.logged = 0
        self.dropped = 0
        self.total: int | None = None
        self.done = 0

    def line(self, text: str, stderr: bool) -> None:
        if not stderr and self._progress(text):
            return
        with self.lock:
            self.tail.append(text)
            if self.logged >= MAX_LINES:
                self.dropped += 1
                return
            self.logged += 1
        if stderr:
            self.ctx.log.warning("%s", text)
        else:
            self.ctx.log.info("%s", text)

    def _progress(self, text: str) -> bool:
        """A JSON object with `progress` (0..1), `total`/`done` or `status`: applied, True."""
        if not text.startswith("{"):
            return False
        try:
            data = json.loads(text)
        except ValueError:
            return False
        if not isinstance(data, dict) or not {"progress", "total", "done", "status"} & set(data):
            return False
        try:
            self._apply(data)
        except (TypeError, ValueError):
            return False  # not ours after all: logged as it is
        return True

    def _apply(self, data: dict[str, Any]) -> None:
        total, done = data.get("total"), data.get("done")
        if "progress" in data:
            fraction = float(data["progress"])
            if not 0 <= fraction <= 1:
                raise ValueError("progress is a fraction")
            total, done = PROGRESS_SCALE, round(fraction * PROGRESS_SCALE)
        if total is not None and (int(total) < 0 or isinstance(total, bool)):
            raise ValueError("total is a count")
        if total is not None and int(total) != self.total:
            self.total = int(total)
            self.ctx.set_total(self.total)
        if done is not None and int(done) != self.done:
            step, self.done = int(done) - self.done, int(done)
            self.ctx.add_progress(processed=step)
        if isinstance(data.get("status"), str):
            self.ctx.log.info("status: %s", data["status"])


def _read(pipe: IO[bytes], output: Output, stderr: bool) -> None:
    with pipe:
        while raw := pipe.readline(MAX_LINE):
            cut = not raw.endswith(b"\n")
            text = raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
            if cut and len(raw) == MAX_LINE:
                while (rest := pipe.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                    pass  # the rest of an overlong line
                text += " … [line cut]"
            output.line(text, stderr)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the whole group has gone


def environment(spec: CommandSpec, base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    if spec.env_file is not None:
        env.update(read_env_file(spec.env_file))
    env.update(spec.env)
    return env


def command_text(spec: CommandSpec) -> str:
    """The command as an operator would type it (what `job NAME` and the log show)."""
    if spec.shell:
        return f"sh -c {shlex.quote(spec.argv[2])} (shell = true)"
    return shlex.join(spec.argv)


def run_command(ctx: JobContext[Any], spec: CommandSpec) -> dict[str, Any]:
    """Run the command to its end; its summary, or JobFailed with it."""
    ctx.log.info("running %s", command_text(spec))
    output = Output(ctx)
    try:
        proc = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=environment(spec, os.environ),
            user=spec.user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a group of its own: signals reach its children too
        )
    except (OSError, ValueError) as exc:  # no such program, the cwd or env_file gone since
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise JobFailed(f"cannot start {spec.argv[0]}: {why}") from None
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_read, args=(pipe, output, err), daemon=True, name="command-out")
        for pipe, err in ((proc.stdout, False), (proc.stderr, True))
    ]
    for reader in readers:
        reader.start()
    stopped = _wait(ctx, proc, spec.kill_after)
    for reader in readers:
        reader.join(2.0)
    if any(reader.is_alive() for reader in readers):
        ctx.log.warning("processes the command left still hold its output: their group is killed")
        _signal_group(proc, signal.SIGKILL)
        for reader in readers:
            reader.join(5.0)
    return _outcome(proc.returncode, stopped, output, spec)


def _wait(ctx: JobContext[Any], proc: subprocess.Popen[bytes], kill_after: float) -> str | None:
    """Wait for the process; on a cancel, timeout or stop, SIGTERM its group, then SIGKILL
    after `kill_after`. Which signal ended the wait early, or None."""
    termed_at: float | None = None
    while True:
        try:
            proc.wait(0.1)
            return None if termed_at is None else "SIGTERM"
        except subprocess.TimeoutExpired:
            pass
        if termed_at is None and ctx.cancelled:
            ctx.log.info("stopping: SIGTERM to the command's process group")
            _signal_group(proc, signal.SIGTERM)
            termed_at = time.monotonic()
        elif termed_at is not None and time.monotonic() - termed_at > kill_after:
            ctx.log.warning("still running %gs after SIGTERM: SIGKILL", kill_after)
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
            return "SIGKILL"


def _outcome(code: int, stopped: str | None, output: Output, spec: CommandSpec) -> dict[str, Any]:
    if output.dropped:
        output.ctx.log.warning(
            "%d more lines of output were not logged (at most %d a run)", output.dropped, MAX_LINES
        )
    summary: dict[str, Any] = {"exit_code": code, "output": list(output.tail)}
    if code < 0:
        name = signal.Signals(-code).name
        summary["signal"] = name
        raise JobFailed(f"killed by signal {name}" + (" (stopped)" if stopped else ""), summary)
    if code not in spec.success_exit_codes:
        raise JobFailed(f"exit code {code}", summary)
    return summary
