"""CLI commands of the job families: batches and demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cronsole.core.models import Record
from tests.conftest import T0, Workspace
from tests.tui.conftest import enter, run


@pytest.fixture
def cli(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace.configure('[jobs.batch-check]\n[jobs.batch-check.settings]\ninbox = "inbox"\n')
    return enter(workspace, monkeypatch)


def test_batches_lists_tracked_batches(cli: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    store = cli.store()
    store.put_records(
        "batch",
        [
            Record(
                "batch_1",
                {
                    "provider": "folder",
                    "polls": 2,
                    "submitted_at": T0.isoformat(),
                    "stuck": True,
                    "error": "\x1b[2J boom",
                },
                status="in_progress",
            ),
            Record(
                "batch_2",
                {
                    "provider": "openai",
                    "endpoint": "/v1/images/generations",
                    "submitted_at": T0.isoformat(),
                    "requests": {"total": 100, "completed": 95, "failed": 5},
                    "results": 95,
                    "result_errors": 5,
                },
                status="completed_with_errors",
            ),
        ],
        T0,
    )
    store.close()
    code, out, _ = run(capsys, "batches", "--json")
    assert code == 0 and {b["id"] for b in json.loads(out)} == {"batch_1", "batch_2"}
    code, out, _ = run(capsys, "batches")
    assert "STUCK \\x1b[2J boom" in out and "\x1b" not in out
    [row] = [line for line in out.splitlines() if line.startswith("batch_2")]
    fields = ["openai", "/v1/images/generations", "completed_with_errors", "95/5/100"]
    assert row.split()[1:5] == fields and " ago " in row  # submitted that long ago
    assert "95 + 5 failed" in row


def test_batches_submit(cli: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    line = {"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    requests.write_text(json.dumps(line) + "\n")
    code, out, _ = run(capsys, "batches", "submit", str(requests), "--reason", "embeddings")
    assert code == 0 and out.startswith("submitted r.jsonl as batch_")
    code, out, _ = run(capsys, "audit", "--json")
    [audited] = json.loads(out)
    assert (audited["action"], audited["reason"]) == ("submit", "embeddings")
    requests.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    code, _, err = run(capsys, "batches", "submit", str(requests))
    assert code == 2 and "line 2: custom_id 'a' again (first on line 1)" in err
    code, _, err = run(capsys, "batches", "submit", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "batches", "submit", str(tmp_path / "r.txt"))
    assert code == 2 and "give one .jsonl file" in err


def test_demo_refuses_a_folder_that_is_not_a_demo(
    cli: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("precious")
    code, _, err = run(capsys, "demo", str(busy), "--no-tui")
    assert code == 2 and "is not a demo workspace" in err
    assert sorted(p.name for p in busy.iterdir()) == ["thesis.tex"]
