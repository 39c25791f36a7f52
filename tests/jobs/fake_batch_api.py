"""A Batch API played by a real HTTP server on 127.0.0.1, with scripted failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cronsole.core.models import Record
from cronsole.core.store import open_store


class FakeBatchAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.batches: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.failures: list[tuple[str, int, dict[str, str], bytes]] = []  # (path prefix, ...)
        self.seen: list[tuple[str, str, str | None]] = []
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
            batch = self.server.batches.get(self.path.rsplit("/", 1)[-1])
            return self._send(200 if batch else 404, json.dumps(batch or {"error": {}}).encode())
        if method == "GET" and self.path.endswith("/content"):
            data = self.server.files.get(self.path.split("/")[3])
            return self._send(200 if data is not None else 404, data or b"")
        if method == "POST" and self.path == "/v1/files":
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            return self._send(200, b'{"id": "file-in-1", "object": "file"}')
        if method == "POST" and self.path == "/v1/batches":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            batch = {
                "id": "batch_new",
                "status": "validating",
                "input_file_id": body["input_file_id"],
            }
            self.server.batches["batch_new"] = batch
            return self._send(200, json.dumps(batch).encode())
        return self._send(404, b"{}")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


@contextmanager
def serving() -> Iterator[FakeBatchAPI]:
    server = FakeBatchAPI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


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
