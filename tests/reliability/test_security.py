"""Security scenarios S3–S8 against the installed command and the real database."""

from __future__ import annotations

import ast
import os
import signal
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.errors import DamagedRow
from cronsole.core.models import Record
from cronsole.core.store.sqlite import SQLiteStore
from tests.conftest import T0, Workspace
from tests.e2e.test_headless import JOBS
from tests.jobs.fake_batch_api import FakeBatchAPI, batch_config, track_submitted
from tests.jobs.test_batches import complete
from tests.procs import Proc, cli, side_effects, start_host, wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-live-SECRETSECRETSECRET-9f3a"


@pytest.mark.slow
@pytest.mark.scenario("S5")
def test_the_api_key_appears_nowhere_but_its_last_four_characters(
    workspace: Workspace, api: FakeBatchAPI, procs: list[Proc]
) -> None:
    workspace.configure(batch_config(api, "CRONSOLE_TEST_KEY", attempts=2, retry_base=0.01))
    track_submitted(workspace.address, "ok", "denied", "boom")
    complete(api, "ok")
    api.fail_next("/v1/batches/denied", 401, f'{{"error": "bad key {KEY}"}}'.encode())
    for _ in range(2):
        api.fail_next("/v1/batches/boom", 500, b"{}")
    env = {"CRONSOLE_TEST_KEY": KEY}
    host = start_host(workspace, procs, env=env)
    assert cli(workspace, "fire", "batch-check", "--wait", env=env).returncode in (0, 1)
    host.signal(signal.SIGTERM)
    assert host.wait(20) == 0
    assert all(auth == f"Bearer {KEY}" for _, _, auth in api.seen)  # it was used

    outputs = [host.text()]
    for args in (
        ("config", "show"),
        ("batches",),
        ("logs", "--limit", "500"),
        ("runs",),
        ("run", "1", "--failed"),
        ("status", "--json"),
        ("doctor",),
    ):
        result = cli(workspace, *args, env=env)
        outputs += [result.stdout, result.stderr]
    assert "bad key ****9f3a" in "".join(outputs)  # the echoed key, masked
    secret = KEY[:-4]
    for text in outputs:
        assert secret not in text
    for path in workspace.root.rglob("*"):
        if path.is_file() and path.suffix != ".py":
            assert secret.encode() not in path.read_bytes(), path
    assert secret.encode() not in workspace.stored()  # every row of every table


@pytest.mark.sqlite_only  # files: PostgreSQL keeps the data in its own
@pytest.mark.slow
@pytest.mark.scenario("S6")
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_state_and_log_files_are_private_whatever_the_umask(
    workspace: Workspace, procs: list[Proc], umask: int
) -> None:
    workspace.write(JOBS, "[jobs.tick]\n")
    host = Proc(workspace, "--no-tui", preexec=lambda: None if os.umask(umask) else None)
    procs.append(host)
    wait_for(lambda: len(side_effects(workspace)) >= 2, 30)
    state, logs = workspace.root / "state", workspace.root / "logs"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [*state.iterdir(), *logs.iterdir()]}
    host.signal(signal.SIGTERM)
    assert host.wait(20) == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert {"cronsole.db", "cronsole.db-wal", "cronsole.db-shm", "cronsole.log"} <= set(modes)
    assert modes == {name: 0o600 for name in modes}


@pytest.mark.scenario("S4")
@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "--job", "x' OR '1'='1"),
        ("runs", "--status", "failed' OR 1=1 --"),
        ("logs", "--job", "nightly; DROP TABLE runs"),
        ("run", "1 OR 1=1"),
    ],
)
def test_operator_input_never_becomes_sql(workspace: Workspace, argv: tuple[str, ...]) -> None:
    workspace.write(JOBS)
    workspace.store().close()
    before = workspace.digest()
    result = cli(workspace, *argv)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert workspace.digest() == before


@pytest.mark.scenario("S4")
def test_names_in_config_are_checked_and_values_bound(
    workspace: Workspace, clock: FrozenClock
) -> None:
    bad = workspace.configure('[jobs."x\\"; DROP TABLE runs; --"]\n')
    result = cli(workspace, "-c", str(bad), "jobs")
    assert result.returncode == 2 and "unknown job" in result.stderr
    assert not workspace.db.exists()
    store = SQLiteStore.open(workspace.db)
    odd = "k'); DELETE FROM records; --"
    store.put_records("c'ollection", [Record(odd, {"v": odd}, grp=odd, at=odd, status=odd)], T0)
    [found] = store.query_records("c'ollection", grp=odd, status=odd, at_from=odd)
    assert found.key == odd and found.data == {"v": odd}
    store.close()


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def name_of(func: ast.expr) -> str:
    return ast.unparse(func)


@pytest.mark.scenario("S7")
@pytest.mark.scenario("S8")
def test_no_shell_no_pickle_and_no_markup_from_data_anywhere_in_the_source() -> None:
    """The CI grep gate, as a test: no shell, no pickle, and Rich/Textual markup is only ever
    parsed from literals written in our code, never from a variable."""
    sources = [p for folder in ("core", "jobs", "tui") for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 50
    problems = []
    for path in sources:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if any(n.split(".")[0] in ("pickle", "marshal", "shelve") for n in names):
                    problems.append(f"{path}:{node.lineno}: pickle-like import")
        for call in calls(tree):
            func = name_of(call.func)
            if func in ("os.system", "os.popen", "eval", "exec") or func.startswith("os.spawn"):
                problems.append(f"{path}:{call.lineno}: {func}")
            for kw in call.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    problems.append(f"{path}:{call.lineno}: shell=")
                if kw.arg == "markup" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    problems.append(f"{path}:{call.lineno}: markup enabled")
            if func.endswith("from_markup") or func.endswith("render_markup"):
                if not all(isinstance(a, ast.Constant) for a in call.args):
                    problems.append(f"{path}:{call.lineno}: markup from a variable")
    assert problems == []


@pytest.mark.sqlite_only  # tampers through sqlite3; the refusal is in the shared row code
@pytest.mark.scenario("S8")
def test_tampered_rows_are_refused_with_a_logged_error(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.write(JOBS)
    assert cli(workspace, "fire", "tick", "--here").returncode == 0
    assert cli(workspace, "fire", "tick", "--here").returncode == 0
    conn = sqlite3.connect(workspace.db)
    with conn:
        conn.execute("UPDATE runs SET status = 'owned' WHERE id = 1")
        conn.execute("UPDATE runs SET summary = '{not json' WHERE id = 2")
    conn.close()
    result = cli(workspace, "runs")
    assert result.returncode == 0
    assert "run 1 is damaged and was refused" in result.stderr
    assert "run 2 is damaged and was refused" in result.stderr
    shown = cli(workspace, "run", "1")
    assert shown.returncode == 1 and shown.stderr.count("\n") == 1
    assert "run 1 is damaged and was refused: ValueError: 'owned'" in shown.stderr
    store = SQLiteStore.open(workspace.db)
    with pytest.raises(DamagedRow):
        store.get_run(1)
    assert store.list_runs() == []
    assert "run 2 is damaged" in caplog.text
    store.close()
