"""A Batch API played by a real HTTP server on 127.0.0.1, with scripted failures.

It answers only with bodies of the published shapes: each batch and file object is checked
with the official `openai` SDK's types (`openai.types.Batch`, `FileObject`) before it is
sent, each create body cronsole sends with the SDK's `BatchCreateParams`, and each JSON line
of an output file with the OpenAPI spec's `BatchRequestOutput` (below). Only what a test
scripts on purpose (`fail_next`, `off_spec`, a line that is not JSON) departs from them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from openai.types import Batch, BatchCreateParams, FileObject
from pydantic import BaseModel, ConfigDict, TypeAdapter

from cronsole.core.models import Record
from cronsole.core.store import open_store

CREATED = 1_772_400_000  # 2026-03-01 21:20 UTC, the batches' created_at


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutputResponse(_Strict):
    status_code: int
    request_id: str
    body: dict[str, Any]


class OutputError(_Strict):
    code: str
    message: str


class BatchRequestOutput(_Strict):
    """One line of an output or error file: the OpenAI OpenAPI spec's
    components/schemas/BatchRequestOutput (id, custom_id, response {status_code, request_id,
    body}, error {code, message}); the SDK has no type for it."""

    id: str
    custom_id: str
    response: OutputResponse | None
    error: OutputError | None


def spec_batch(fields: dict[str, Any]) -> dict[str, Any]:
    """A batch object as `GET /v1/batches/{id}` returns it, from the fields a test set."""
    full = {
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in-1",
        "completion_window": "24h",
        "created_at": CREATED,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        **fields,
    }
    Batch.model_validate(full)
    return full


def spec_file(file_id: str, size: int, name: str) -> dict[str, Any]:
    found = {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": CREATED,
        "filename": name,
        "purpose": "batch",
        "status": "processed",
    }
    FileObject.model_validate(found)
    return found


def check_output(data: bytes) -> bytes:
    """An output file's bytes, each JSON line checked against BatchRequestOutput."""
    for line in data.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue  # a damaged line, on purpose
        BatchRequestOutput.model_validate(parsed)
    return data


class FakeBatchAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.batches: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.failures: list[tuple[str, int, dict[str, str], bytes]] = []  # (path prefix, ...)
        self.seen: list[tuple[str, str, str | None]] = []
        self.off_spec: set[str] = set()  # batch ids a test serves as they are, off the spec
        self.created: list[dict[str, Any]] = []  # the create bodies cronsole sent
        self.lose_creates = 0  # creates to make, then hang up on without an answer
        self.images: dict[str, bytes] = {}  # /images/NAME: what a `url` image result names
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail_next(
        self, prefix: str, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request under `prefix` so; the headers X-Test-Delay (seconds),
        X-Test-Truncate and X-Test-Trickle (seconds between bytes) make it slow, cut short or
        trickled instead of being sent."""
        self.failures.append((prefix, status, dict(headers or {}), body))

    def scripted(self, path: str) -> tuple[int, dict[str, str], bytes] | None:
        with self.lock:
            for index, (prefix, status, headers, body) in enumerate(self.failures):
                if path.startswith(prefix):
                    del self.failures[index]
                    return status, headers, body
        return None


class Handler(BaseHTTPRequestHandler):
    server: FakeBatchAPI

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        self.server.seen.append((method, self.path, self.headers.get("Authorization")))
        if scripted := self.server.scripted(self.path):
            status, headers, body = scripted
            time.sleep(float(headers.pop("X-Test-Delay", 0)))  # a slow server
            if trickle := headers.pop("X-Test-Trickle", None):  # the answer a byte at a time
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(float(trickle))
                return None
            if headers.pop("X-Test-Truncate", None):  # promise more than is sent, then hang up
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) * 2))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return None
            return self._send(status, body, headers)
        if method == "GET" and self.path.startswith("/v1/batches/"):
            batch_id = self.path.rsplit("/", 1)[-1]
            batch = self.server.batches.get(batch_id)
            if batch is None:
                return self._send(404, b'{"error": {"message": "No such batch"}}')
            shown = batch if batch_id in self.server.off_spec else spec_batch(batch)
            return self._send(200, json.dumps(shown).encode())
        if method == "GET" and self.path.startswith("/images/"):
            image = self.server.images.get(self.path.removeprefix("/images/"))
            return self._send(200 if image else 404, image or b"")
        if method == "GET" and self.path.endswith("/content"):
            data = self.server.files.get(self.path.split("/")[3])
            if data is None:
                return self._send(404, b'{"error": {"message": "No such file"}}')
            return self._send(200, check_output(data))
        if method == "POST" and self.path == "/v1/files":
            upload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            assert b'name="purpose"\r\n\r\nbatch\r\n' in upload, "uploaded without purpose=batch"
            return self._send(200, json.dumps(spec_file("file-in-1", len(upload), "in")).encode())
        if (
            method == "POST"
            and self.path.startswith("/v1/batches/")
            and self.path.endswith("/cancel")
        ):
            batch_id = self.path.split("/")[3]
            if batch_id not in self.server.batches:
                return self._send(404, b'{"error": {"message": "No such batch"}}')
            batch = self.server.batches[batch_id]
            batch.update(status="cancelling", cancelling_at=CREATED + 60)
            return self._send(200, json.dumps(spec_batch(batch)).encode())
        if method == "POST" and self.path == "/v1/batches":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            TypeAdapter(BatchCreateParams).validate_python(body)
            assert set(body) <= set(BatchCreateParams.__annotations__), body
            self.server.created.append(body)
            count = len(self.server.created)
            batch_id = "batch_new" if count == 1 else f"batch_new_{count}"
            batch = {
                "id": batch_id,
                "status": "validating",
                "input_file_id": body["input_file_id"],
                "endpoint": body["endpoint"],
                "metadata": body.get("metadata"),
            }
            self.server.batches[batch_id] = batch
            if self.server.lose_creates:  # made, but the answer never arrives
                self.server.lose_creates -= 1
                self.close_connection = True
                return None
            return self._send(200, json.dumps(spec_batch(batch)).encode())
        if method == "GET" and self.path.split("?")[0] == "/v1/batches":
            newest = [spec_batch(b) for b in reversed(self.server.batches.values())]
            page = {
                "object": "list",
                "data": newest,
                "first_id": newest[0]["id"] if newest else None,
                "last_id": newest[-1]["id"] if newest else None,
                "has_more": False,
            }
            return self._send(200, json.dumps(page).encode())
        return self._send(404, b"{}")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


Server = TypeVar("Server", bound=ThreadingHTTPServer)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """A fake API served on its own thread for the block, then shut down."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def serving() -> AbstractContextManager[FakeBatchAPI]:
    return running(FakeBatchAPI())


def batch_config(api: FakeBatchAPI, key_env: str = "TEST_BATCH_KEY", **settings: object) -> str:
    """The config tables of the batch checker on this server (plus settings given)."""
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    return (
        '[jobs.batch-check]\n[jobs.batch-check.settings]\nprovider = "openai"\n'
        f'base_url = "{api.url}"\napi_key_env = "{key_env}"\n'
        f'output_dir = "results"\n{extra}'
    )


def track_submitted(address: str, *batch_ids: str) -> None:
    """Batches submitted an hour ago, as the submit action records them."""
    store = open_store(address)
    now = datetime.now(UTC)
    at = (now - timedelta(hours=1)).isoformat()
    store.put_records(
        "batch",
        [Record(b, {"submitted_at": at, "polls": 0}, at=at, status="submitted") for b in batch_ids],
        now,
    )
    store.close()
