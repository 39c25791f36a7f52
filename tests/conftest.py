"""Shared fixtures: real stores (a SQLite file; a schema of its own on a real PostgreSQL
server), a frozen clock, and workspaces with job modules."""

from __future__ import annotations

import hashlib
import os
import random
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.config import load_settings
from cronsole.core.engine import Engine, build_engine
from cronsole.core.models import Overlap, Run, RunReason
from cronsole.core.scheduling.host import Host
from cronsole.core.store import Store, open_store
from cronsole.jobs import builtin_modules
from tests.jobs.fake_batch_api import FakeBatchAPI, serving
from tests.receivers import Receiver

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FixedRandom(random.Random):
    """A random source that always draws `value` (0 the low end, 1 the high end)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def job_module(name: str) -> str:
    """The source of tests/jobmodules/NAME.py, for Workspace.write."""
    return (Path(__file__).parent / "jobmodules" / f"{name}.py").read_text()


def frozen(engine: Engine) -> FrozenClock:
    """The engine's clock, which these tests freeze (to move it by hand)."""
    assert isinstance(engine.clock, FrozenClock)
    return engine.clock


def eventually(
    check: Callable[[], bool],
    timeout: float = 10.0,
    every: float = 0.01,
    passing: tuple[type[BaseException], ...] = (),
) -> None:
    """The one polling helper: wait (bounded) for something another thread or process does,
    never a timing assertion. An exception in `passing` counts as not yet (a database not
    created yet, say)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except passing:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(every)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


# The PostgreSQL server the tests use: `.ci/run` finds or starts one and sets this; without
# it, the local default is tried and, if no server answers, the PostgreSQL cases are skipped
# with that reason (pytest prints it). With it set, an unreachable server fails them.
PG_URL = os.environ.get("CRONSOLE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema_address(name: str) -> str:
    """The address of one schema on the test server (created empty here)."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            conn.execute(f"CREATE SCHEMA {name}")
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server at {PG_URL}: {str(exc).strip().splitlines()[0]}"
        if "CRONSOLE_TEST_PG" in os.environ:
            pytest.fail(reason)
        pytest.skip(reason + " (set CRONSOLE_TEST_PG, or run .ci/run, which starts one)")
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options=-csearch_path%3D{name}"


def drop_pg_schema(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def pg_address() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_schema_address(name)
    drop_pg_schema(name)


@pytest.fixture(params=["sqlite", "postgres"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a store lives, once per backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "state" / "cronsole.db")
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_schema_address(name)
    drop_pg_schema(name)


@pytest.fixture
def store(address: str) -> Iterator[Store]:
    opened = open_store(address)
    yield opened
    opened.close()


class Workspace:
    """A folder with cronsole.toml and a job module, as an operator would set one up."""

    def __init__(self, root: Path, database: str = "state/cronsole.db") -> None:
        self.root = root
        self.db = root / "state" / "cronsole.db"  # the SQLite file, when the database is one
        self.database = database  # as cronsole.toml names it: that path, or a postgresql:// one
        self.engines: list[Engine] = []
        self.hosts: list[Host] = []

    @property
    def address(self) -> str:
        """The database as a store opens it: the SQLite file's full path, or the URL."""
        return self.database if "://" in self.database else str(self.root / self.database)

    @property
    def postgres(self) -> bool:
        return self.database.startswith("postgresql://")

    def store(self) -> Store:
        return open_store(self.address)

    def created(self) -> bool:
        """Whether cronsole has created its database here yet."""
        if not self.postgres:
            return self.db.exists()
        import psycopg

        with psycopg.connect(self.database) as conn:
            row = conn.execute("SELECT to_regclass('cronsole_migrations')").fetchone()
            return bool(row and row[0])

    def stored(self) -> bytes:
        """Everything stored: the SQLite file's bytes (with its WAL), or every PostgreSQL
        table's rows in order."""
        if not self.postgres:
            return b"".join(p.read_bytes() for p in sorted(self.db.parent.glob("cronsole.db*")))
        import psycopg

        found: list[bytes] = []
        with psycopg.connect(self.database) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " ORDER BY tablename"
                ).fetchall()
            ]
            for table in tables:
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall():
                    found.append(repr((table, row)).encode())
        return b"\n".join(found)

    def digest(self) -> str:
        """A fingerprint of everything stored (to check that refused input changed nothing)."""
        return hashlib.sha256(self.stored() if self.postgres else self.db.read_bytes()).hexdigest()

    def write(self, jobs_source: str, config: str = "") -> Path:
        (self.root / "wsjobs.py").write_text(textwrap.dedent(jobs_source))
        path = self.root / "cronsole.toml"
        path.write_text(
            f'[cronsole]\ndatabase = "{self.database}"\nlog_dir = "logs"\n'
            'modules = ["wsjobs.py"]\n' + textwrap.dedent(config)
        )
        return path

    def configure(self, config: str) -> Path:
        """cronsole.toml for the built-in jobs (no job module of our own)."""
        path = self.root / "cronsole.toml"
        path.write_text(
            f'[cronsole]\ndatabase = "{self.database}"\nlog_dir = "logs"\n'
            + textwrap.dedent(config)
        )
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONSOLE_")}
        env["CRONSOLE_CONFIG"] = str(self.root / "cronsole.toml")
        env["XDG_STATE_HOME"] = str(self.root / "xdg-state")
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        return env

    def engine(self, clock: FrozenClock | None = None, builtin: bool = False) -> Engine:
        settings = load_settings(str(self.root / "cronsole.toml"), env=self.env())
        engine = build_engine(settings, clock=clock, builtin=builtin_modules() if builtin else ())
        self.engines.append(engine)
        return engine

    def host(self, clock: FrozenClock | None = None) -> Host:
        """A host that is stopped before its engine closes, as the shells do."""
        host = Host(self.engine(clock))
        self.hosts.append(host)
        return host


def run_job(
    engine: Engine,
    name: str,
    reason: RunReason = RunReason.MANUAL,
    at: datetime | None = None,
    **overrides: object,
) -> Run:
    """Run a job now, in this thread, through the real runner; each run its own tick."""
    frozen(engine).advance(1)
    run = engine.store.insert_run(
        name,
        at or engine.clock.now(),
        reason,
        engine.node_id,
        Overlap.ALLOW,
        engine.clock.now(),
        dict(overrides),
    )
    assert run is not None
    return engine.runner.execute(engine.jobs[name], run)


# The suites that run on both backends: every test there that uses `workspace` runs twice,
# unless it is marked sqlite_only (it reads, damages or sizes the SQLite file itself, or, for
# the 500,000-row retention test, would double CI's time).
BOTH_BACKENDS = (
    "tests/core/test_host.py",
    "tests/core/test_job_api.py",
    "tests/jobs/",
    "tests/tui/test_cli",
    "tests/reliability/",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    where = Path(metafunc.definition.path).relative_to(Path(__file__).parent.parent).as_posix()
    if (
        "workspace" in metafunc.fixturenames
        and where.startswith(BOTH_BACKENDS)
        and not metafunc.definition.get_closest_marker("sqlite_only")
    ):
        metafunc.parametrize("workspace", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on a SQLite file, or (parametrized) on a fresh PostgreSQL schema."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres = getattr(request, "param", "sqlite") == "postgres"
    ws = Workspace(tmp_path, database=pg_schema_address(name)) if postgres else Workspace(tmp_path)
    yield ws
    for host in ws.hosts:
        host.stop(grace=5)
    for engine in ws.engines:
        engine.close()
    if postgres:
        drop_pg_schema(name)


@pytest.fixture
def pg_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose database is a fresh schema on the PostgreSQL test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    ws = Workspace(tmp_path, database=pg_schema_address(name))
    yield ws
    for host in ws.hosts:
        host.stop(grace=5)
    for engine in ws.engines:
        engine.close()
    drop_pg_schema(name)


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[Any] = []
    yield started
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that records each POST (see tests/receivers.py)."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def api() -> Iterator[FakeBatchAPI]:
    """A Batch API on 127.0.0.1 with scripted answers."""
    with serving() as server:
        yield server
