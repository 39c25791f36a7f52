"""The installed `cronsole` command in real subprocesses, and plain reads of its database."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import Workspace, eventually

CRONSOLE = str(Path(sys.executable).with_name("cronsole"))


class Proc:
    """`cronsole ARGS` in the workspace, its output in a file under the workspace."""

    def __init__(
        self,
        ws: Workspace,
        *args: str,
        config: str | None = None,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        full = {**ws.env(), "SIDE_EFFECTS": str(ws.root / "side.txt"), **(env or {})}
        if config:
            full["CRONSOLE_CONFIG"] = config
        self.output = ws.root / f"proc-{time.monotonic_ns()}.log"
        self.log = self.output.open("w")
        self.popen = subprocess.Popen(
            [CRONSOLE, "--log-format", "json", *args],
            env=full,
            cwd=ws.root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def text(self) -> str:
        self.log.flush()
        return self.output.read_text(errors="replace")


def query(ws: Workspace, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """A plain read of the workspace's database, with `?` placeholders on either backend."""
    if ws.postgres:  # the same reads in PostgreSQL's words
        sql = re.sub(r"json_extract\((\w+), '\$\.(\w+)'\)", r"(\1::json->>'\2')", sql)
        with psycopg.connect(ws.database, autocommit=True) as pg:
            return [tuple(row) for row in pg.execute(sql.replace("?", "%s"), params).fetchall()]
    conn = sqlite3.connect(ws.address, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """`eventually` for another process, whose database (or schema) may not exist yet."""
    not_yet = (sqlite3.OperationalError, psycopg.errors.UndefinedTable)
    eventually(check, timeout, every=0.1, passing=not_yet)


def side_effects(ws: Workspace) -> list[str]:
    path = ws.root / "side.txt"
    return path.read_text().splitlines() if path.exists() else []


def cli(
    ws: Workspace, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full = {**ws.env(), "SIDE_EFFECTS": str(ws.root / "side.txt"), **(env or {})}
    return subprocess.run(
        [CRONSOLE, *args], env=full, cwd=ws.root, capture_output=True, text=True, timeout=timeout
    )


def start_host(ws: Workspace, procs: list[Proc], env: dict[str, str] | None = None) -> Proc:
    """Start `cronsole --no-tui` and wait until it has registered in the database."""
    proc = Proc(ws, "--no-tui", env=env)
    procs.append(proc)
    wait_for(
        lambda: (
            query(
                ws,
                "SELECT count(*) FROM nodes WHERE pid = ? AND stopped_at IS NULL",
                proc.popen.pid,
            )
            == [(1,)]
            or proc.popen.poll() is not None
        )
    )
    return proc
