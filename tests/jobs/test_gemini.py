"""The Gemini provider against a Gemini Batch API on 127.0.0.1 (tests/jobs/fake_gemini_api.py),
whose bodies the google-genai SDK's types accept: submit, poll, results inline and by file,
images to WebP, failures counted, cancel; states named as the SDK names them."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.errors import UsageError
from cronsole.core.models import Record
from tests.conftest import Workspace, run_job
from tests.jobs.fake_gemini_api import FakeGeminiAPI, serving

KEY = "AIza-test-0123456789SECRET"


@pytest.fixture
def gemini() -> Iterator[FakeGeminiAPI]:
    with serving(KEY) as server:
        yield server


@pytest.fixture
def engine(
    workspace: Workspace,
    clock: FrozenClock,
    gemini: FakeGeminiAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> Engine:
    monkeypatch.setenv("TEST_GEMINI_KEY", KEY)
    workspace.configure(f"""
[jobs.batch-check]
schedule = "every 10m"
[jobs.batch-check.settings]
provider = "gemini"
base_url = "{gemini.url}"
api_key_env = "TEST_GEMINI_KEY"
model = "gemini-2.5-flash-image"
output_dir = "results"
request_timeout = 2
attempts = 2
retry_base = 0.01
""")
    return workspace.engine(clock, builtin=True)


def png_b64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 120, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def requests_file(tmp_path: Path, *keys: str) -> Path:
    path = tmp_path / "requests.jsonl"
    lines = [
        {
            "key": key,
            "request": {"contents": [{"role": "user", "parts": [{"text": f"draw {key}"}]}]},
        }
        for key in keys
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def answer(text: str, image: bool = False) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": text}]
    if image:
        parts.append({"inlineData": {"mimeType": "image/png", "data": png_b64()}})
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.5-flash-image",
        "responseId": f"resp-{text}",
    }


def record(engine: Engine, batch_id: str) -> Record:
    found = engine.store.get_record("batch", batch_id)
    assert found is not None
    return found


def test_an_image_batch_goes_end_to_end_to_webp(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    result = engine.action("batch-check", "submit", [str(requests_file(tmp_path, "fox", "owl"))])
    assert result == "submitted requests.jsonl as b1 (validating)"
    [(model, body)] = gemini.created
    assert model == "gemini-2.5-flash-image"
    keys = [r["metadata"]["key"] for r in body["batch"]["inputConfig"]["requests"]["requests"]]
    assert keys == ["fox", "owl"]
    run_job(engine, "batch-check")
    assert record(engine, "b1").status == "validating"  # still pending: polled, kept
    gemini.finish(
        "b1",
        inline=[
            {"response": answer("fox", image=True), "metadata": {"key": "fox"}},
            {"response": answer("owl", image=True), "metadata": {"key": "owl"}},
        ],
        stats={"requestCount": "2", "successfulRequestCount": "2"},
    )
    run_job(engine, "batch-check")
    done = record(engine, "b1")
    assert done.status == "completed"
    assert done.data["requests"] == {"total": 2, "completed": 2, "failed": 0}
    assert (done.data["results"], done.data["images"]) == (2, 2)
    folder = Path(done.data["folder"])
    [webp] = folder.glob("fox-*.webp")
    with Image.open(webp) as image:
        assert image.format == "WEBP" and image.size == (8, 6)
    meta = json.loads(webp.with_name(webp.name + ".meta.json").read_text())
    assert (meta["custom_id"], meta["request_id"], meta["provider"]) == (
        "fox",
        "resp-fox",
        "gemini",
    )
    assert all(KEY not in p for _, p in gemini.seen)  # the key goes in a header, never a URL


def test_results_in_a_responses_file_with_a_failure_are_counted(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    engine.action("batch-check", "submit", [str(requests_file(tmp_path, "a", "b", "c"))])
    lines = [
        {"key": "a", "response": answer("a")},
        {"key": "b", "response": answer("b")},
        {"key": "c", "error": {"code": 3, "message": "Request contains an invalid argument."}},
    ]
    gemini.files["files/out-1"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
    gemini.finish(
        "b1",
        state="JOB_STATE_PARTIALLY_SUCCEEDED",  # the SDK's name for the state
        responses_file="files/out-1",
        stats={"requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"},
    )
    run_job(engine, "batch-check")
    done = record(engine, "b1")
    assert done.status == "completed_with_errors"
    assert (done.data["results"], done.data["result_errors"]) == (2, 1)
    assert ("GET", "/download/v1beta/files/out-1:download?alt=media") in gemini.seen


def test_every_state_the_sdk_names_is_understood() -> None:
    from google.genai import types

    from cronsole.jobs.batches.gemini import STATES

    named = {s.removeprefix("JOB_STATE_") for s in types.JobState.__members__} - {"UNSPECIFIED"}
    assert named <= set(STATES)


def test_a_gemini_batch_is_cancelled_remotely(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    from cronsole.core.commands import Commands

    engine.action("batch-check", "submit", [str(requests_file(tmp_path, "a"))])
    done = Commands(engine).action("batch-check", "cancel", ["b1"], reason="wrong model")
    assert done.result == "asked gemini to cancel batch b1: now cancelled"
    assert ("POST", "/v1beta/batches/b1:cancel") in gemini.seen


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"key": "a", "request": {"contents": []}}'] * 2, "line 2: key 'a' again"),
        (['{"request": {"contents": []}}'], "line 1: no key"),
        (['{"key": "a", "request": {}}'], "request must be an object with contents"),
    ],
)
def test_a_bad_gemini_input_file_is_refused_before_anything_is_sent(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path, lines: list[str], message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=message):
        engine.action("batch-check", "submit", [str(path)])
    assert gemini.seen == []


def test_the_gemini_provider_needs_a_model(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    engine.store.set_job_settings("batch-check", {"model": ""}, engine.clock.now())
    with pytest.raises(UsageError, match="the gemini provider needs a model"):
        engine.action("batch-check", "submit", [str(requests_file(tmp_path, "a"))])


def test_an_input_over_the_inline_limit_is_uploaded_as_a_file(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronsole.jobs.batches.gemini as provider

    monkeypatch.setattr(provider, "INLINE_BYTES", 100)  # instead of writing 20 MB
    path = requests_file(tmp_path, "a", "b", "c")
    assert path.stat().st_size > 100
    engine.action("batch-check", "submit", [str(path)])
    assert gemini.uploads == {"files/in-1": path.read_bytes()}  # uploaded as it is
    [(_, body)] = gemini.created
    assert body["batch"]["inputConfig"] == {"fileName": "files/in-1"}
    assert gemini.batches["b1"]["metadata"]["batchStats"]["requestCount"] == "3"


def test_a_gemini_create_whose_answer_is_lost_makes_exactly_one_batch(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    gemini.lose_creates = 1  # the batch is made, the answer never arrives
    result = engine.action("batch-check", "submit", [str(requests_file(tmp_path, "a"))])
    assert result == "submitted requests.jsonl as b1 (validating)"
    assert list(gemini.batches) == ["b1"] and len(gemini.created) == 1
    assert ("GET", "/v1beta/batches?pageSize=100") in gemini.seen
    [(_, body)] = gemini.created
    assert body["batch"]["displayName"].startswith("requests [")  # carries its submission id


def test_a_gemini_create_refused_before_it_was_made_is_tried_again(
    engine: Engine, gemini: FakeGeminiAPI, tmp_path: Path
) -> None:
    gemini.lose_creates = 0
    gemini.refuse_next = 1
    engine.action("batch-check", "submit", [str(requests_file(tmp_path, "a"))])
    assert len(gemini.created) == 1
    posts = [p for m, p in gemini.seen if m == "POST" and p.endswith(":batchGenerateContent")]
    assert len(posts) == 2
