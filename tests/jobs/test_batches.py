"""The remote batch checker against a Batch API on 127.0.0.1, and the folder provider."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.errors import ConfigError, UsageError
from cronsole.core.models import Overlap, Record, RunReason, RunStatus
from tests.conftest import T0, Workspace, eventually, run_job
from tests.jobs.fake_batch_api import FakeBatchAPI

KEY = "sk-test-0123456789abcdefSECRET"


@pytest.fixture
def engine(
    workspace: Workspace, clock: FrozenClock, api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    workspace.configure(f"""
[jobs.batch-check]
schedule = "every 10m"
[jobs.batch-check.settings]
provider = "openai"
base_url = "{api.url}"
api_key_env = "TEST_BATCH_KEY"
output_dir = "results"
request_timeout = 2
attempts = 3
retry_base = 0.01
stuck_after_hours = 6
""")
    return workspace.engine(clock, builtin=True)


def track(engine: Engine, batch_id: str, hours_ago: float = 1) -> None:
    at = (T0 - timedelta(hours=hours_ago)).isoformat()
    engine.store.put_records(
        "batch",
        [
            Record(
                batch_id,
                {"provider": "openai", "submitted_at": at, "polls": 0},
                at=at,
                status="submitted",
            )
        ],
        T0,
    )


def png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 10, 10)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def complete(api: FakeBatchAPI, batch_id: str) -> None:
    api.batches[batch_id] = {
        "id": batch_id,
        "status": "completed",
        "output_file_id": f"out-{batch_id}",
    }
    lines = [
        {
            "id": "batch_req_1",
            "custom_id": "../../etc/passwd",
            "response": {
                "status_code": 200,
                "request_id": "req_1",
                "body": {"choices": [{"message": {"content": "hi"}}]},
            },
            "error": None,
        },
        {
            "id": "batch_req_2",
            "custom_id": "img",
            "response": {
                "status_code": 200,
                "request_id": "req_2",
                "body": {"data": [{"b64_json": png()}]},
            },
            "error": None,
        },
    ]
    api.files[f"out-{batch_id}"] = "\n".join(json.dumps(x) for x in lines).encode() + b"\nnot json"


def batch(engine: Engine, batch_id: str) -> Record:
    found = engine.store.get_record("batch", batch_id)
    assert found is not None
    return found


@pytest.mark.scenario("S3")
def test_a_completed_batch_is_downloaded_with_metadata_and_webp(
    engine: Engine, api: FakeBatchAPI, workspace: Workspace
) -> None:
    complete(api, "batch_a")
    track(engine, "batch_a")
    run = run_job(engine, "batch-check")
    assert run.status is RunStatus.SUCCEEDED
    record = batch(engine, "batch_a")
    assert record.status == "completed"
    assert (record.data["results"], record.data["images"]) == (2, 1)
    assert record.data["invalid_lines"] == ["output line 3: b'not json'"]
    folder = Path(record.data["folder"])
    assert folder.parent == workspace.root / "results"
    names = sorted(p.name for p in folder.iterdir())
    assert any(n.startswith("etc_passwd-") and n.endswith(".json") for n in names)
    webp = next(p for p in folder.iterdir() if p.suffix == ".webp")
    with Image.open(webp) as image:
        assert image.format == "WEBP" and image.size == (8, 6)
    meta = json.loads(webp.with_name(webp.name + ".meta.json").read_text())
    assert meta["batch_id"] == "batch_a" and meta["custom_id"] == "img"
    assert not [n for n in names if n.endswith(".part")]
    assert all(auth == f"Bearer {KEY}" for _, _, auth in api.seen)


@pytest.mark.scenario("F7")
def test_the_key_never_reaches_the_database_or_the_logs(
    engine: Engine, api: FakeBatchAPI, workspace: Workspace
) -> None:
    complete(api, "batch_a")
    track(engine, "batch_a")
    api.fail_next("/v1/batches/batch_b", 401, b'{"error": "bad key"}')
    track(engine, "batch_b")
    run_job(engine, "batch-check")
    engine.flush_logs()
    engine.store.close()
    assert KEY.encode() not in workspace.stored()


@pytest.mark.scenario("F7")
def test_500_and_429_are_retried_honouring_retry_after(engine: Engine, api: FakeBatchAPI) -> None:
    complete(api, "batch_a")
    track(engine, "batch_a")
    api.fail_next("/v1/batches/batch_a", 500)
    api.fail_next("/v1/batches/batch_a", 429, headers={"Retry-After": "1"})
    run_job(engine, "batch-check")
    assert batch(engine, "batch_a").status == "completed"
    polls = [path for method, path, _ in api.seen if path == "/v1/batches/batch_a"]
    assert len(polls) == 3


@pytest.mark.scenario("F7")
def test_attempts_are_bounded_and_other_batches_carry_on(engine: Engine, api: FakeBatchAPI) -> None:
    complete(api, "batch_ok")
    track(engine, "batch_ok")
    track(engine, "batch_down")
    for _ in range(5):
        api.fail_next("/v1/batches/batch_down", 503)
    run = run_job(engine, "batch-check")
    assert run.status is RunStatus.PARTIAL and (run.processed, run.failed) == (1, 1)
    down = batch(engine, "batch_down")
    assert down.status == "submitted" and "HTTP 503" in down.data["error"]
    assert len([p for _, p, _ in api.seen if p == "/v1/batches/batch_down"]) == 3
    assert batch(engine, "batch_ok").status == "completed"


@pytest.mark.scenario("F7")
@pytest.mark.scenario("B7")
def test_invalid_json_and_unknown_status_are_recorded_with_a_sample(
    engine: Engine, api: FakeBatchAPI
) -> None:
    track(engine, "batch_bad")
    track(engine, "batch_odd")
    api.fail_next("/v1/batches/batch_bad", 200, b"<html>\x1b[2J oops</html>")
    api.batches["batch_odd"] = {"id": "batch_odd", "status": "teleported"}
    api.off_spec.add("batch_odd")  # a status the spec does not have, on purpose
    run_job(engine, "batch-check")
    assert "invalid JSON" in batch(engine, "batch_bad").data["error"]
    assert "\\x1b" in batch(engine, "batch_bad").data["error"]
    assert "unknown batch status" in batch(engine, "batch_odd").data["error"]


@pytest.mark.scenario("B7")
def test_missing_fields_and_a_huge_body_are_recorded_with_a_bounded_sample(
    engine: Engine, api: FakeBatchAPI
) -> None:
    for name in ("batch_noid", "batch_huge", "batch_fine"):
        track(engine, name)
    api.fail_next("/v1/batches/batch_noid", 200, b'{"status": "completed"}')
    api.fail_next(
        "/v1/batches/batch_huge",
        200,
        json.dumps({"id": "batch_huge", "status": "x" * 5_000_000}).encode(),
    )
    complete(api, "batch_fine")
    run = run_job(engine, "batch-check")
    assert (run.processed, run.failed) == (1, 2)
    assert "unexpected batch payload" in batch(engine, "batch_noid").data["error"]
    huge = batch(engine, "batch_huge").data["error"]
    assert "unknown batch status" in huge and len(huge) < 500
    assert batch(engine, "batch_fine").status == "completed"


@pytest.mark.scenario("F7")
def test_slow_and_truncated_responses_time_out_retry_and_are_recorded(
    engine: Engine, api: FakeBatchAPI
) -> None:
    for name in ("batch_slow", "batch_cut", "batch_fine"):
        track(engine, name)
    for _ in range(3):  # every attempt (attempts = 3) is too slow, or cut short
        api.fail_next("/v1/batches/batch_slow", 200, b"{}", {"X-Test-Delay": "3"})
        api.fail_next(
            "/v1/batches/batch_cut", 200, b'{"id": "batch_cut", "sta', {"X-Test-Truncate": "1"}
        )
    complete(api, "batch_fine")
    run = run_job(engine, "batch-check")
    assert (run.processed, run.failed) == (1, 2)
    assert "ReadTimeout" in batch(engine, "batch_slow").data["error"]
    assert "RemoteProtocolError" in batch(engine, "batch_cut").data["error"]
    polls = [p for _, p, _ in api.seen if p == "/v1/batches/batch_cut"]
    assert len(polls) == 3  # bounded
    assert batch(engine, "batch_fine").status == "completed"


@pytest.mark.scenario("F7")
def test_refused_connections_are_recorded(
    engine: Engine, workspace: Workspace, clock: FrozenClock
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens here
    engine.store.set_job_settings("batch-check", {"base_url": f"http://127.0.0.1:{port}"}, T0)
    track(engine, "batch_x")
    run = run_job(engine, "batch-check")
    assert run.failed == 1 and "ConnectError" in batch(engine, "batch_x").data["error"]


@pytest.mark.scenario("F7")
def test_expired_failed_and_stuck_batches_are_marked(engine: Engine, api: FakeBatchAPI) -> None:
    api.batches["batch_exp"] = {"id": "batch_exp", "status": "expired"}
    api.batches["batch_slow"] = {"id": "batch_slow", "status": "in_progress"}
    api.batches["batch_new"] = {"id": "batch_new", "status": "in_progress"}
    track(engine, "batch_exp")
    track(engine, "batch_slow", hours_ago=7)
    track(engine, "batch_new", hours_ago=1)
    run_job(engine, "batch-check")
    assert batch(engine, "batch_exp").status == "expired"
    assert batch(engine, "batch_exp").data["error"] == "batch expired"
    assert batch(engine, "batch_slow").data.get("stuck") is True
    assert batch(engine, "batch_new").data.get("stuck") is None
    run_job(engine, "batch-check")
    assert batch(engine, "batch_exp").data["polls"] == 1  # finished batches are not polled


@pytest.mark.scenario("B7")
def test_output_over_the_size_cap_is_refused(engine: Engine, api: FakeBatchAPI) -> None:
    complete(api, "batch_big")
    line = {"id": "r", "custom_id": "x", "response": None, "error": {"code": "c", "message": "m"}}
    api.files["out-batch_big"] = (json.dumps(line) + "\n").encode() * 10_000
    engine.store.set_job_settings("batch-check", {"max_output_bytes": 1000}, T0)
    track(engine, "batch_big")
    run_job(engine, "batch-check")
    record = batch(engine, "batch_big")
    assert record.status == "too_large"
    size = len(api.files["out-batch_big"])
    assert f"is {size} bytes, over the 1000 byte cap (max_output_bytes)" in record.data["error"]
    assert not Path(record.data.get("folder", "/nonexistent")).exists()  # nothing written
    run_job(engine, "batch-check")  # refused for good: not downloaded again
    downloads = [p for _, p, _ in api.seen if p == "/v1/files/out-batch_big/content"]
    assert len(downloads) == 1 and batch(engine, "batch_big").data["polls"] == 1


def request(custom_id: str, url: str = "/v1/chat/completions", **body: Any) -> str:
    """One input line, as the Batch API takes it."""
    body = body or {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def test_submit_uploads_and_tracks(engine: Engine, api: FakeBatchAPI, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(request("a") + "\n" + request("b") + "\n")
    assert (
        engine.action("batch-check", "submit", [str(requests)])
        == "submitted requests.jsonl as batch_new (validating)"
    )
    tracked = batch(engine, "batch_new").data
    assert (tracked["source"], tracked["endpoint"]) == ("requests.jsonl", "/v1/chat/completions")
    assert [(m, p) for m, p, _ in api.seen] == [("POST", "/v1/files"), ("POST", "/v1/batches")]
    [created] = api.created
    assert {k: v for k, v in created.items() if k != "metadata"} == {
        "input_file_id": "file-in-1",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    assert len(created["metadata"]["cronsole_submission"]) == 32  # a fresh id per submit


def test_an_images_batch_is_sent_to_the_images_endpoint(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    requests = tmp_path / "pictures.jsonl"
    lines = [
        request(f"p{n}", "/v1/images/generations", model="gpt-image-1", prompt="a fox")
        for n in range(3)
    ]
    requests.write_text("\n".join(lines) + "\n")
    engine.action("batch-check", "submit", [str(requests)])
    assert [body["endpoint"] for body in api.created] == ["/v1/images/generations"]
    assert batch(engine, "batch_new").data["endpoint"] == "/v1/images/generations"


def test_the_endpoints_cronsole_accepts_are_the_sdks() -> None:
    from typing import get_args, get_type_hints

    from openai.types import BatchCreateParams

    from cronsole.jobs.batches.requests import ENDPOINTS

    hint = get_type_hints(BatchCreateParams, include_extras=True)["endpoint"]
    (literal,) = get_args(hint)  # Required[Literal[...]]
    assert set(ENDPOINTS) == set(get_args(literal))


@pytest.mark.parametrize(
    "lines, message",
    [
        ([request("a"), request("a")], "line 2: custom_id 'a' again (first on line 1)"),
        (
            [request("a"), request("b", "/v1/embeddings")],
            "line 2: url '/v1/embeddings', but the batch is for '/v1/chat/completions'",
        ),
        ([request("a"), "{not json"], "line 2: not valid JSON"),
        (['{"method": "POST", "url": "/v1/embeddings", "body": {}}'], "line 1: no custom_id"),
        (
            ['{"custom_id": "a", "method": "GET", "url": "/v1/embeddings", "body": {}}'],
            'method must be "POST"',
        ),
        ([request("a", "/v1/chat")], "line 1: url '/v1/chat' is not one of"),
        (
            ['{"custom_id": "a", "method": "POST", "url": "/v1/embeddings"}'],
            "line 1: body must be a JSON object",
        ),
        (["", "  "], "no requests in it"),
    ],
)
def test_a_bad_input_file_is_refused_before_anything_is_sent(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path, lines: list[str], message: str
) -> None:
    requests = tmp_path / "bad.jsonl"
    requests.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=re.escape(message)):
        engine.action("batch-check", "submit", [str(requests)])
    assert api.seen == [] and engine.store.get_record("batch", "batch_new") is None


def test_more_than_50000_requests_are_refused(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    requests = tmp_path / "many.jsonl"
    requests.write_text(
        "".join(
            request(f"r{n}", "/v1/embeddings", model="e", input="x") + "\n" for n in range(50_001)
        )
    )
    with pytest.raises(UsageError, match="more than 50000 requests in one batch"):
        engine.action("batch-check", "submit", [str(requests)])
    assert api.seen == []


def test_an_upload_answer_without_a_file_id_creates_no_batch(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    from cronsole.jobs.batches.providers import ProviderError

    requests = tmp_path / "requests.jsonl"
    requests.write_text(request("a") + "\n")
    api.fail_next("/v1/files", 200, b'{"object": "file", "bytes": 10}')
    with pytest.raises(ProviderError, match="the upload's answer has no file id"):
        engine.action("batch-check", "submit", [str(requests)])
    assert [(m, p) for m, p, _ in api.seen] == [("POST", "/v1/files")]  # no create


def test_the_folder_provider_reads_an_inbox(
    workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    from cronsole.tui.demo import write_batches

    workspace.configure(
        '[jobs.batch-check]\n[jobs.batch-check.settings]\ninbox = "inbox"\noutput_dir = "out"\n'
    )
    engine = workspace.engine(clock, builtin=True)
    import random

    write_batches(workspace.root / "inbox", random.Random(1))
    for batch_id in ("batch_demo_done", "batch_demo_running", "batch_demo_failed"):
        track(engine, batch_id)
    run_job(engine, "batch-check")
    statuses = {
        b: batch(engine, b).status
        for b in ("batch_demo_done", "batch_demo_running", "batch_demo_failed")
    }
    assert statuses == {
        "batch_demo_done": "completed",
        "batch_demo_running": "in_progress",
        "batch_demo_failed": "failed",
    }
    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    assert engine.action("batch-check", "submit", [str(requests)]).startswith("submitted r.jsonl")


@pytest.mark.parametrize("schedule", ["every 3m", "every 2d", "*/10 * * * *", "every 90s"])
def test_the_interval_must_be_5_to_1440_minutes(workspace: Workspace, schedule: str) -> None:
    workspace.configure(f'[jobs.batch-check]\nschedule = "{schedule}"\n')
    with pytest.raises(ConfigError, match="every N minutes, N from 5 to 1440"):
        workspace.engine(builtin=True)


def provider(api: FakeBatchAPI, waits: list[float] | None = None, **options: Any) -> Any:
    """The OpenAI provider on the fake server, its waits recorded instead of slept."""
    from cronsole.jobs.batches.providers import OpenAIProvider

    def wait(seconds: float) -> bool:
        if waits is not None:
            waits.append(seconds)
        return False

    options.setdefault("retry_base", 0.01)
    return OpenAIProvider(api.url, "TEST_BATCH_KEY", wait=wait, **options)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_timeouts_conflicts_throttling_and_server_errors_are_retried(
    api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    complete(api, "batch_a")
    api.fail_next("/v1/batches/batch_a", status)
    assert provider(api).status("batch_a").status == "completed"
    assert [p for _, p, _ in api.seen].count("/v1/batches/batch_a") == 2


def test_a_client_error_is_not_retried(api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    from cronsole.jobs.batches.providers import ProviderError

    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    api.fail_next("/v1/batches/batch_a", 400, b'{"error": {"message": "bad"}}')
    with pytest.raises(ProviderError, match="HTTP 400"):
        provider(api).status("batch_a")
    assert [p for _, p, _ in api.seen].count("/v1/batches/batch_a") == 1


@pytest.mark.parametrize(
    "headers, wait",
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "90"}, 90.0),  # over a minute is honoured, not cut to 60 s
    ],
)
def test_the_servers_retry_after_is_waited_for(
    api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], wait: float
) -> None:
    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    complete(api, "batch_a")
    api.fail_next("/v1/batches/batch_a", 429, headers=headers)
    waits: list[float] = []
    assert provider(api, waits).status("batch_a").status == "completed"
    assert waits == [wait]


def test_retry_after_as_an_http_date_is_waited_for(
    api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    complete(api, "batch_a")
    when = datetime.now(UTC) + timedelta(seconds=40)
    api.fail_next("/v1/batches/batch_a", 503, headers={"Retry-After": format_datetime(when, True)})
    waits: list[float] = []
    assert provider(api, waits).status("batch_a").status == "completed"
    [waited] = waits
    assert 38 <= waited <= 40  # the date has whole seconds; the request took a moment


def test_a_retry_after_past_the_longest_wait_is_left_for_the_next_run(
    engine: Engine, api: FakeBatchAPI
) -> None:
    track(engine, "batch_a")
    api.fail_next("/v1/batches/batch_a", 503, headers={"Retry-After": "7200"})
    run = run_job(engine, "batch-check")
    assert (run.processed, run.failed) == (0, 1)
    error = batch(engine, "batch_a").data["error"]
    assert "HTTP 503" in error and "asks to wait 2h, longer than 5m" in error
    assert [p for _, p, _ in api.seen].count("/v1/batches/batch_a") == 1


def test_a_trickling_answer_is_cut_at_the_request_deadline(
    engine: Engine, api: FakeBatchAPI
) -> None:
    track(engine, "batch_slow")
    body = json.dumps({"id": "batch_slow", "status": "in_progress"}).encode()
    for _ in range(3):  # attempts = 3, request_timeout = 2 s; each answer would take 15 s
        api.fail_next("/v1/batches/batch_slow", 200, body, {"X-Test-Trickle": "0.3"})
    run = run_job(engine, "batch-check")
    assert (run.processed, run.failed) == (0, 1)
    assert "no whole answer within 2s" in batch(engine, "batch_slow").data["error"]
    assert [p for _, p, _ in api.seen].count("/v1/batches/batch_slow") == 3


def test_a_cancel_ends_a_retry_wait_at_once(engine: Engine, api: FakeBatchAPI) -> None:
    track(engine, "batch_a")
    api.fail_next("/v1/batches/batch_a", 429, headers={"Retry-After": "120"})
    run = engine.store.insert_run(
        "batch-check", T0, RunReason.MANUAL, engine.node_id, Overlap.SKIP, T0
    )
    assert run is not None
    engine.runner.start(engine.jobs["batch-check"], run)
    eventually(lambda: [p for _, p, _ in api.seen].count("/v1/batches/batch_a") == 1)
    engine.runner.cancel(run.id)
    eventually(lambda: not engine.runner.active(), timeout=10)  # not 120 s
    finished = engine.store.get_run(run.id)
    assert finished is not None and finished.status is RunStatus.CANCELLED
    assert [p for _, p, _ in api.seen].count("/v1/batches/batch_a") == 1


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_base_url_is_taken_with_or_without_v1(
    api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    from cronsole.jobs.batches.providers import OpenAIProvider

    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    complete(api, "batch_a")
    OpenAIProvider(api.url + suffix, "TEST_BATCH_KEY").status("batch_a")
    assert [p for _, p, _ in api.seen] == ["/v1/batches/batch_a"]


def test_an_api_prefix_other_than_v1_is_kept() -> None:
    from cronsole.jobs.batches.providers import api_prefix

    gemini = "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert api_prefix(gemini) == "https://generativelanguage.googleapis.com/v1beta/openai"
    assert api_prefix("https://api.openai.com") == "https://api.openai.com/v1"


def test_a_trickling_download_is_cut_at_the_download_deadline(
    api: FakeBatchAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cronsole.jobs.batches.providers import ProviderError, RemoteBatch

    monkeypatch.setenv("TEST_BATCH_KEY", KEY)
    api.fail_next(
        "/v1/files/out-a/content", 200, b'{"custom_id": "a"}\n' * 4, {"X-Test-Trickle": "0.2"}
    )
    done = RemoteBatch("batch_a", "completed", "out-a")
    with pytest.raises(ProviderError, match="not downloaded within 1s"):
        list(provider(api, download_timeout=1).lines(done, "out-a", limit=10_000))


def test_a_submit_is_audited_and_a_refused_one_leaves_no_trace(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    from cronsole.core.commands import Commands

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(request("a") + "\n")
    bad.write_text(request("a") + "\n" + request("a") + "\n")
    commands = Commands(engine)
    with pytest.raises(UsageError, match="again"):
        commands.action("batch-check", "submit", [str(bad)], who="ops", reason="nightly pictures")
    assert engine.store.list_commands() == []
    done = commands.action("batch-check", "submit", [str(good)], who="ops", reason="retry")
    [audited] = engine.store.list_commands()
    assert audited.id == done.id and (audited.action, audited.job) == ("submit", "batch-check")
    assert (audited.who, audited.reason, audited.args) == ("ops", "retry", {"args": [str(good)]})
    assert audited.result == "submitted good.jsonl as batch_new (validating)"


def ok_line(n: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    body = body or {"model": "gpt-4o-mini", "choices": [{"message": {"content": f"answer {n}"}}]}
    response = {"status_code": 200, "request_id": f"req_{n}", "body": body}
    return {"id": f"batch_req_{n}", "custom_id": f"r{n}", "response": response, "error": None}


def http_failed_line(n: int, code: int = 400) -> dict[str, Any]:
    body = {"error": {"message": "Invalid 'messages'", "type": "invalid_request_error"}}
    response = {"status_code": code, "request_id": f"req_{n}", "body": body}
    return {"id": f"batch_req_{n}", "custom_id": f"r{n}", "response": response, "error": None}


def error_line(n: int) -> dict[str, Any]:
    error = {"code": "batch_expired", "message": "This request could not be executed"}
    return {"id": f"batch_req_{n}", "custom_id": f"r{n}", "response": None, "error": error}


def serve_file(api: FakeBatchAPI, file_id: str, lines: list[dict[str, Any]]) -> None:
    api.files[file_id] = "".join(json.dumps(line) + "\n" for line in lines).encode()


def on_disk(engine: Engine, batch_id: str) -> tuple[int, int]:
    """(result files, error files) of a batch, meta files aside."""
    folder = Path(batch(engine, batch_id).data["folder"])
    names = [p.name for p in folder.iterdir() if not p.name.endswith(".meta.json")]
    errors = [n for n in names if n.endswith(".error.json")]
    return len(names) - len(errors), len(errors)


def test_95_ok_and_5_failed_are_all_accounted_for(engine: Engine, api: FakeBatchAPI) -> None:
    track(engine, "batch_mixed")
    api.batches["batch_mixed"] = {
        "id": "batch_mixed",
        "status": "completed",
        "output_file_id": "out-mixed",
        "error_file_id": "err-mixed",
        "request_counts": {"total": 100, "completed": 95, "failed": 5},
    }
    serve_file(api, "out-mixed", [ok_line(n) for n in range(95)])
    serve_file(api, "err-mixed", [http_failed_line(n) for n in range(95, 100)])
    run_job(engine, "batch-check")
    record = batch(engine, "batch_mixed")
    assert record.status == "completed_with_errors"
    assert record.data["requests"] == {"total": 100, "completed": 95, "failed": 5}
    assert (record.data["results"], record.data["result_errors"]) == (95, 5)
    assert on_disk(engine, "batch_mixed") == (95, 5)
    folder = Path(record.data["folder"])
    meta = json.loads(next(folder.glob("r97-*.error.json.meta.json")).read_text())
    assert (meta["request_id"], meta["status_code"]) == ("req_97", 400)
    assert meta["error"]["body"]["error"]["type"] == "invalid_request_error"
    ok = json.loads(next(folder.glob("r3-*.json.meta.json")).read_text())
    assert (ok["request_id"], ok["line_id"], ok["model"]) == ("req_3", "batch_req_3", "gpt-4o-mini")
    tracked = batch(engine, "batch_mixed").data
    assert (ok["submitted_at"], ok["written_at"]) == (
        tracked["submitted_at"],
        tracked["downloaded_at"],
    )
    run_job(engine, "batch-check")
    assert batch(engine, "batch_mixed").data["polls"] == 1  # ended: never polled again


def test_a_batch_whose_every_request_failed_ends_and_is_not_polled_again(
    engine: Engine, api: FakeBatchAPI
) -> None:
    track(engine, "batch_none")
    api.batches["batch_none"] = {  # the spec allows a completed batch with no output file
        "id": "batch_none",
        "status": "completed",
        "output_file_id": None,
        "error_file_id": "err-none",
        "request_counts": {"total": 3, "completed": 0, "failed": 3},
    }
    serve_file(api, "err-none", [error_line(n) for n in range(3)])
    first = run_job(engine, "batch-check")
    assert first.status is RunStatus.SUCCEEDED
    record = batch(engine, "batch_none")
    assert record.status == "completed_with_errors" and record.data["result_errors"] == 3
    assert on_disk(engine, "batch_none") == (0, 3)
    run_job(engine, "batch-check")
    assert batch(engine, "batch_none").data["polls"] == 1


@pytest.mark.parametrize("status", ["expired", "cancelled", "failed"])
def test_what_an_ended_batch_finished_is_kept(
    engine: Engine, api: FakeBatchAPI, status: str
) -> None:
    track(engine, "batch_part")
    api.batches["batch_part"] = {
        "id": "batch_part",
        "status": status,
        "output_file_id": "out-part",
        "error_file_id": "err-part",
        "request_counts": {"total": 4, "completed": 2, "failed": 2},
    }
    serve_file(api, "out-part", [ok_line(0), ok_line(1)])
    serve_file(api, "err-part", [error_line(2), error_line(3)])
    run_job(engine, "batch-check")
    record = batch(engine, "batch_part")
    assert record.status == status and record.data["error"] == f"batch {status}"
    assert on_disk(engine, "batch_part") == (2, 2)


def test_output_lines_are_judged_by_their_status_and_never_overwrite_each_other(
    engine: Engine, api: FakeBatchAPI
) -> None:
    track(engine, "batch_odd_lines")
    api.batches["batch_odd_lines"] = {
        "id": "batch_odd_lines",
        "status": "completed",
        "output_file_id": "out-odd",
        "request_counts": {"total": 4, "completed": 2, "failed": 2},
    }
    again = {**ok_line(7), "id": "batch_req_again"}  # the same custom_id a second time
    serve_file(
        api, "out-odd", [ok_line(1), http_failed_line(2, 400), error_line(3), ok_line(7), again]
    )
    run_job(engine, "batch-check")
    record = batch(engine, "batch_odd_lines")
    assert record.status == "completed_with_errors"
    assert (record.data["results"], record.data["result_errors"]) == (2, 2)
    assert record.data["invalid_lines"] == [
        "output line 5: custom_id 'r7' again (the first is kept)"
    ]
    folder = Path(record.data["folder"])
    kept = json.loads(next(folder.glob("r7-*.json.meta.json")).read_text())
    assert kept["line_id"] == "batch_req_7"
    failure = json.loads(next(folder.glob("r3-*.error.json")).read_text())
    assert failure == {"code": "batch_expired", "message": "This request could not be executed"}


def test_a_download_cut_short_is_not_called_downloaded(engine: Engine, api: FakeBatchAPI) -> None:
    complete(api, "batch_cut")
    track(engine, "batch_cut")
    api.fail_next(
        "/v1/files/out-batch_cut/content", 200, b'{"id": "r", "custom_id"', {"X-Test-Truncate": "1"}
    )
    run = run_job(engine, "batch-check")
    assert run.failed == 1
    record = batch(engine, "batch_cut")
    assert (
        record.status == "submitted" and "cut short (RemoteProtocolError)" in record.data["error"]
    )
    run_job(engine, "batch-check")  # the next run downloads it whole
    assert batch(engine, "batch_cut").status == "completed"


def test_a_batch_is_cancelled_at_the_provider_and_its_finished_part_kept(
    engine: Engine, api: FakeBatchAPI
) -> None:
    from cronsole.core.commands import Commands

    track(engine, "batch_c")
    api.batches["batch_c"] = {"id": "batch_c", "status": "in_progress"}
    done = Commands(engine).action(
        "batch-check", "cancel", ["batch_c"], who="ops", reason="wrong prompt"
    )
    assert done.result == "asked openai to cancel batch batch_c: now cancelling"
    assert ("POST", "/v1/batches/batch_c/cancel") in [(m, p) for m, p, _ in api.seen]
    assert batch(engine, "batch_c").status == "cancelling"
    [audited] = engine.store.list_commands()
    assert (audited.action, audited.reason) == ("cancel", "wrong prompt")
    api.batches["batch_c"].update(
        status="cancelled",
        output_file_id="out-c",
        request_counts={"total": 10, "completed": 1, "failed": 0},
    )
    serve_file(api, "out-c", [ok_line(0)])
    run_job(engine, "batch-check")
    assert batch(engine, "batch_c").status == "cancelled"
    assert on_disk(engine, "batch_c") == (1, 0)


@pytest.mark.parametrize(
    "batch_id, status, message",
    [
        ("batch_gone", None, "no tracked batch 'batch_gone'"),
        ("batch_end", "completed", "has already ended (completed)"),
    ],
)
def test_cancelling_what_is_not_running_is_refused_and_sends_nothing(
    engine: Engine, api: FakeBatchAPI, batch_id: str, status: str | None, message: str
) -> None:
    from cronsole.core.commands import Commands

    if status:
        track(engine, batch_id)
        record = batch(engine, batch_id)
        engine.store.put_records(
            "batch", [Record(batch_id, record.data, at=record.at, status=status)], T0
        )
    with pytest.raises(UsageError, match=re.escape(message)):
        Commands(engine).action("batch-check", "cancel", [batch_id])
    assert api.seen == [] and engine.store.list_commands() == []


def test_the_folder_provider_cancels_at_once(
    workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    from cronsole.core.commands import Commands

    workspace.configure('[jobs.batch-check]\n[jobs.batch-check.settings]\ninbox = "inbox"\n')
    engine = workspace.engine(clock, builtin=True)
    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    submitted = engine.action("batch-check", "submit", [str(requests)])
    batch_id = submitted.split(" as ")[1].split(" ")[0]
    done = Commands(engine).action("batch-check", "cancel", [batch_id])
    assert done.result == f"asked folder to cancel batch {batch_id}: now cancelled"
    run_job(engine, "batch-check")
    assert batch(engine, batch_id).status == "cancelled"


def test_a_stream_without_a_length_is_refused_once_it_passes_the_cap() -> None:
    from cronsole.jobs.batches.providers import TooLarge, _capped_lines

    chunks = iter([b'{"a": 1}\n{"b"', b": 2}\n", b"x" * 100])
    lines = _capped_lines(chunks, limit=50)
    assert [next(lines), next(lines)] == [b'{"a": 1}', b'{"b": 2}']
    with pytest.raises(TooLarge, match="larger than the 50 byte cap"):
        next(lines)


def test_a_create_whose_answer_is_lost_makes_exactly_one_batch(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    api.lose_creates = 1  # the batch is made, the answer never arrives
    result = engine.action("batch-check", "submit", [str(requests)])
    assert result == "submitted r.jsonl as batch_new (validating)"
    assert list(api.batches) == ["batch_new"] and len(api.created) == 1
    assert ("GET", "/v1/batches?limit=100") in [(m, p) for m, p, _ in api.seen]
    assert batch(engine, "batch_new").status == "validating"


def test_a_create_that_failed_before_making_a_batch_is_tried_again(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    api.fail_next("/v1/batches", 503)  # refused: nothing made
    engine.action("batch-check", "submit", [str(requests)])
    assert list(api.batches) == ["batch_new"] and len(api.created) == 1
    posts = [p for m, p, _ in api.seen if m == "POST" and p == "/v1/batches"]
    assert len(posts) == 2


def test_a_lost_create_that_cannot_be_looked_up_is_never_blindly_retried(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    from cronsole.jobs.batches.providers import ProviderError

    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    api.lose_creates = 1
    for _ in range(3):  # every try of the lookup fails
        api.fail_next("/v1/batches?limit", 500)
    with pytest.raises(ProviderError, match="look for metadata cronsole_submission=[0-9a-f]{32}"):
        engine.action("batch-check", "submit", [str(requests)])
    assert len(api.created) == 1  # no second, billed batch


def test_url_images_are_fetched_without_the_key_and_bad_base64_is_a_failure(
    engine: Engine, api: FakeBatchAPI, workspace: Workspace
) -> None:
    api.images["fox.png"] = base64.b64decode(png())
    track(engine, "batch_img")
    api.batches["batch_img"] = {
        "id": "batch_img",
        "status": "completed",
        "output_file_id": "out-img",
        "request_counts": {"total": 3, "completed": 3, "failed": 0},
    }
    lines = [
        ok_line(1, {"created": 1, "data": [{"url": f"{api.url}/images/fox.png"}]}),
        ok_line(2, {"created": 1, "data": [{"b64_json": "not base64!"}]}),
        ok_line(3, {"created": 1, "data": [{"url": f"{api.url}/images/missing.png"}]}),
    ]
    serve_file(api, "out-img", lines)
    run_job(engine, "batch-check")
    record = batch(engine, "batch_img")
    assert (record.data["results"], record.data["images"], record.data["result_errors"]) == (
        1,
        1,
        2,
    )
    folder = Path(record.data["folder"])
    [webp] = folder.glob("r1-*.webp")
    with Image.open(webp) as image:
        assert image.format == "WEBP" and image.size == (8, 6)
    bad = json.loads(next(folder.glob("r2-*.error.json")).read_text())
    assert bad == {"code": "image", "message": "image 0: b64_json is not valid base64"}
    missing = json.loads(next(folder.glob("r3-*.error.json")).read_text())
    assert "HTTP 404" in missing["message"]
    fetched = [auth for m, p, auth in api.seen if p.startswith("/images/")]
    assert fetched == [None, None]  # the API key is never sent to an image host


def gemini_lines() -> list[dict[str, Any]]:
    """A Gemini Batch API responses file: one line per request, `key` and a
    GenerateContentResponse, or `key` and an error status (Google's Batch API reference,
    "Batch Mode": the output file). Each line is checked with the google-genai SDK's types."""
    from google.genai import types

    def text(key: str, words: str) -> dict[str, Any]:
        content = {"role": "model", "parts": [{"text": words}]}
        response = {
            "candidates": [{"content": content, "finishReason": "STOP"}],
            "modelVersion": "gemini-2.5-flash",
            "responseId": f"resp-{key}",
        }
        return {"key": key, "response": response}

    image = {"inlineData": {"mimeType": "image/png", "data": png()}}
    picture = {
        "key": "picture-1",
        "response": {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "a fox"}, image]}}],
            "modelVersion": "gemini-2.5-flash-image",
            "responseId": "resp-picture-1",
        },
    }
    failed = {
        "key": "request-3",
        "error": {"code": 3, "message": "Request contains an invalid argument."},
    }
    lines = [text("request-1", "one"), text("request-2", "two"), picture, failed]
    for line in lines:
        if "response" in line:
            types.GenerateContentResponse.model_validate(line["response"])
        else:
            types.JobError.model_validate(line["error"])
    return lines


def test_a_gemini_responses_file_in_the_inbox_is_written_request_by_request(
    workspace: Workspace, clock: FrozenClock
) -> None:
    workspace.configure(
        '[jobs.batch-check]\n[jobs.batch-check.settings]\ninbox = "inbox"\noutput_dir = "out"\n'
    )
    engine = workspace.engine(clock, builtin=True)
    folder = workspace.root / "inbox" / "batch_gem"
    folder.mkdir(parents=True)
    (folder / "status.json").write_text('{"status": "completed"}')
    (folder / "output.jsonl").write_text("".join(json.dumps(x) + "\n" for x in gemini_lines()))
    track(engine, "batch_gem")
    run_job(engine, "batch-check")
    record = batch(engine, "batch_gem")
    assert record.status == "completed_with_errors"
    assert (record.data["results"], record.data["images"], record.data["result_errors"]) == (
        3,
        1,
        1,
    )
    out = Path(record.data["folder"])
    answer = json.loads(next(out.glob("request-2-*.json")).read_text())
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == "two"
    meta = json.loads(next(out.glob("request-2-*.json.meta.json")).read_text())
    assert (meta["request_id"], meta["model"]) == ("resp-request-2", "gemini-2.5-flash")
    [webp] = out.glob("picture-1-*.webp")
    with Image.open(webp) as image:
        assert image.format == "WEBP" and image.size == (8, 6)
    error = json.loads(next(out.glob("request-3-*.error.json")).read_text())
    assert error == {"code": 3, "message": "Request contains an invalid argument."}


def test_batches_show_lists_each_request_with_its_outcome(
    engine: Engine, api: FakeBatchAPI, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tui.conftest import run

    track(engine, "batch_show")
    api.batches["batch_show"] = {
        "id": "batch_show",
        "status": "completed",
        "output_file_id": "out-show",
        "error_file_id": "err-show",
        "request_counts": {"total": 3, "completed": 2, "failed": 1},
    }
    serve_file(api, "out-show", [ok_line(0), ok_line(1)])
    hostile = {**error_line(2), "error": {"code": "x", "message": "bad \x1b[2J row"}}
    serve_file(api, "err-show", [hostile])
    run_job(engine, "batch-check")
    config = str(workspace.root / "cronsole.toml")
    code, out, _ = run(capsys, "--config", config, "batches", "show", "batch_show")
    assert code == 0 and out.startswith("batch_show: completed_with_errors  (openai, ")
    assert "requests 2/1/3 (ok/failed/total); on disk 2 + 1 failed" in out
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[3:]}
    assert rows == {"r0": ["ok", "200"], "r1": ["ok", "200"], "r2": ["failed", "-"]}
    assert "bad \\x1b[2J row" in out and "\x1b" not in out
    code, out, _ = run(capsys, "--config", config, "batches", "show", "batch_show", "--json")
    shown = json.loads(out)
    assert [r["outcome"] for r in shown["outcomes"]] == ["ok", "ok", "failed"]
    assert shown["outcomes"][0]["request_id"] == "req_0"
    code, _, err = run(capsys, "--config", config, "batches", "show", "batch_nope")
    assert code == 2 and "no tracked batch 'batch_nope'" in err


PROVIDER = '''
import json
from cronsole.jobs.batches.providers import RemoteBatch

class Mine:
    """A provider of the user's own: every batch completes with one answer."""

    def __init__(self, settings, base):
        self.inbox = base / settings.inbox

    def submit(self, path, endpoint):
        return RemoteBatch("mine-1", "submitted")

    def status(self, batch_id):
        counts = {"total": 1, "completed": 1, "failed": 0}
        return RemoteBatch(batch_id, "completed", "out", counts=counts)

    def cancel(self, batch_id):
        return RemoteBatch(batch_id, "cancelled")

    def lines(self, batch, file_id, limit):
        response = {"status_code": 200, "request_id": "q1", "body": {"answer": 42}}
        line = {"id": "l1", "custom_id": "a", "response": response, "error": None}
        yield json.dumps(line).encode()

def make(settings, base):
    return Mine(settings, base)
'''


def test_a_provider_of_ones_own_is_named_as_module_function(
    workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    (workspace.root / "myprov.py").write_text(PROVIDER)
    workspace.configure(
        '[jobs.batch-check]\n[jobs.batch-check.settings]\nprovider = "myprov.py:make"\n'
    )
    engine = workspace.engine(clock, builtin=True)
    requests = tmp_path / "r.jsonl"
    requests.write_text(request("a") + "\n")
    assert engine.action("batch-check", "submit", [str(requests)]) == (
        "submitted r.jsonl as mine-1 (submitted)"
    )
    run_job(engine, "batch-check")
    done = batch(engine, "mine-1")
    assert done.status == "completed" and done.data["results"] == 1
    assert done.data["requests"] == {"total": 1, "completed": 1, "failed": 0}


def test_an_unknown_provider_refuses_to_start(workspace: Workspace, clock: FrozenClock) -> None:
    workspace.configure('[jobs.batch-check]\n[jobs.batch-check.settings]\nprovider = "azure"\n')
    with pytest.raises(
        ConfigError, match="provider 'azure' is not folder, openai, gemini or module:function"
    ):
        workspace.engine(clock, builtin=True)


def test_two_requests_never_share_a_file_even_when_their_safe_names_meet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronsole.jobs.batches.results as results

    monkeypatch.setattr(results, "safe_name", lambda text: "same")  # as if two ids met
    lines = [json.dumps(ok_line(n)).encode() for n in (1, 2)]
    written = results.write_results([("output", lines)], tmp_path / "b", "b", T0)
    assert written.results == 2
    names = sorted(p.name for p in (tmp_path / "b").iterdir() if not p.name.endswith(".meta.json"))
    assert names == ["same-2.json", "same.json"]
    metas = [json.loads(p.read_text()) for p in sorted((tmp_path / "b").glob("*.meta.json"))]
    assert sorted(m["custom_id"] for m in metas) == ["r1", "r2"]


def test_an_openai_images_batch_goes_end_to_end_to_webp(
    engine: Engine, api: FakeBatchAPI, tmp_path: Path
) -> None:
    requests = tmp_path / "pictures.jsonl"
    lines = [
        request(f"fox-{n}", "/v1/images/generations", model="gpt-image-1", prompt="a fox")
        for n in range(2)
    ]
    requests.write_text("\n".join(lines) + "\n")
    engine.action("batch-check", "submit", [str(requests)])
    api.batches["batch_new"].update(
        status="completed",
        output_file_id="out-pictures",
        request_counts={"total": 2, "completed": 2, "failed": 0},
    )
    picture = {"created": 1, "data": [{"b64_json": png()}]}
    serve_file(
        api, "out-pictures", [{**ok_line(n, picture), "custom_id": f"fox-{n}"} for n in range(2)]
    )
    run_job(engine, "batch-check")
    done = batch(engine, "batch_new")
    assert done.status == "completed" and (done.data["results"], done.data["images"]) == (2, 2)
    webps = sorted(Path(done.data["folder"]).glob("*.webp"))
    assert [p.name.split("-")[0:2] for p in webps] == [["fox", "0"], ["fox", "1"]]
    for path in webps:
        with Image.open(path) as image:
            assert image.format == "WEBP" and image.size == (8, 6)
