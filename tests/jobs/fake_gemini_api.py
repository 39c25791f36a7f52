"""Google's Gemini Batch API played by a real HTTP server on 127.0.0.1.

Shapes follow Google's REST reference for `models.batchGenerateContent`, `batches.get`,
`batches.list`, `batches.cancel`, the resumable upload and file download: an operation named
`batches/ID` with the batch as its `metadata`, its results in `metadata.output`. They are
checked with the official google-genai SDK: every operation sent is read back through the
SDK's own REST reader (`_BatchJob_from_mldev`, into `types.BatchJob`), which must see the same
name, state and results; each request's `contents` with `types.Content`, each inline result
with `types.InlinedResponse`, each responses-file line with `types.GenerateContentResponse` or
`types.JobError`, each uploaded file with `types.File`. The create body must use the field
names the SDK sends (`batch.displayName`, `batch.inputConfig`).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.genai import types

from tests.jobs.fake_batch_api import running

TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."


def as_sdk_reads(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation, after checking that the google-genai SDK reads it as we mean it."""
    from google.genai.batches import _BatchJob_from_mldev  # the SDK's REST reader

    job = types.BatchJob.model_validate(_BatchJob_from_mldev(operation))
    metadata = operation["metadata"]
    assert job.name == operation["name"] and job.display_name == metadata.get("displayName")
    state = metadata["state"].replace("BATCH_STATE_", "JOB_STATE_")
    assert job.state is not None and job.state.value == state, (job.state, state)
    output = metadata.get("output")
    if output:
        assert job.dest is not None, "the SDK finds no results where they were put"
        if "responsesFile" in output:
            assert job.dest.file_name == output["responsesFile"]
        else:
            inline = output["inlinedResponses"]["inlinedResponses"]
            assert job.dest.inlined_responses is not None
            assert len(job.dest.inlined_responses) == len(inline)
    return operation


def check_result(result: dict[str, Any]) -> dict[str, Any]:
    """An inline result or a responses-file line, checked with the SDK's types."""
    if "response" in result:
        types.GenerateContentResponse.model_validate(result["response"])
    else:
        types.JobError.model_validate(result["error"])
    if "metadata" in result:
        types.InlinedResponse.model_validate(result)
    return result


class FakeGeminiAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, key: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.key = key
        self.batches: dict[str, dict[str, Any]] = {}  # id -> the operation
        self.files: dict[str, bytes] = {}  # "files/ID" -> a responses file
        self.created: list[tuple[str, dict[str, Any]]] = []  # (model, body)
        self.seen: list[tuple[str, str]] = []
        self.uploads: dict[str, bytes] = {}  # "files/ID" -> what was uploaded
        self.lose_creates = 0  # creates to make, then hang up on without an answer
        self.refuse_next = 0  # creates to refuse with 503 before making anything

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def finish(
        self,
        batch_id: str,
        state: str = "BATCH_STATE_SUCCEEDED",
        inline: list[dict[str, Any]] | None = None,
        responses_file: str | None = None,
        stats: dict[str, str] | None = None,
    ) -> None:
        """End a batch as Google would: its state, stats and where its results are."""
        operation = self.batches[batch_id]
        operation["metadata"]["state"] = state
        if stats:
            operation["metadata"]["batchStats"] = stats
        operation["done"] = True
        output: dict[str, Any] = {}
        if inline is not None:
            output["inlinedResponses"] = {"inlinedResponses": [check_result(r) for r in inline]}
        if responses_file:
            output["responsesFile"] = responses_file
        operation["metadata"]["output"] = output


class Handler(BaseHTTPRequestHandler):
    server: FakeGeminiAPI

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        self.server.seen.append((method, self.path))
        if self.headers.get("x-goog-api-key") != self.server.key:
            return self._send(401, {"error": {"code": 401, "message": "API key not valid"}})
        path = self.path.split("?")[0]
        if method == "POST" and path == "/upload/v1beta/files":  # the resumable protocol's start
            assert self.headers["X-Goog-Upload-Protocol"] == "resumable"
            assert self.headers["X-Goog-Upload-Command"] == "start"
            size = int(self.headers["X-Goog-Upload-Header-Content-Length"])
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            file_id = f"files/in-{len(self.server.uploads) + 1}"
            self.server.uploads[file_id] = b""
            self.send_response(200)
            self.send_header(
                "X-Goog-Upload-URL", f"{self.server.url}/upload-session/{file_id}?size={size}"
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if method == "POST" and path.startswith("/upload-session/"):  # upload, finalize
            assert self.headers["X-Goog-Upload-Command"] == "upload, finalize"
            file_id = path.removeprefix("/upload-session/")
            received = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.server.uploads[file_id] = received
            uploaded = {
                "name": file_id,
                "mimeType": "application/jsonl",
                "sizeBytes": str(len(received)),
                "state": "ACTIVE",
            }
            types.File.model_validate(uploaded)
            return self._send(200, {"file": uploaded})
        if (
            method == "POST"
            and path.startswith("/v1beta/models/")
            and path.endswith(":batchGenerateContent")
        ):
            if self.server.refuse_next:
                self.server.refuse_next -= 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                return self._send(503, {"error": {"code": 503, "message": "overloaded"}})
            model = path.removeprefix("/v1beta/models/").removesuffix(":batchGenerateContent")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            assert set(body["batch"]) <= {"displayName", "inputConfig"}, body["batch"]
            source = body["batch"]["inputConfig"]
            if "fileName" in source:  # the requests are the uploaded file's lines
                lines = self.server.uploads[source["fileName"]].splitlines()
                entries = [json.loads(line) for line in lines if line.strip()]
            else:
                entries = source["requests"]["requests"]
            for entry in entries:
                assert isinstance(entry.get("key") or entry["metadata"]["key"], str)
                for content in entry["request"]["contents"]:
                    types.Content.model_validate(content)
            self.server.created.append((model, body))
            batch_id = f"b{len(self.server.created)}"
            count = str(len(entries))
            self.server.batches[batch_id] = {
                "name": f"batches/{batch_id}",
                "metadata": {
                    "@type": TYPE + "GenerateContentBatch",
                    "model": f"models/{model}",
                    "displayName": body["batch"].get("displayName", ""),
                    "name": f"batches/{batch_id}",
                    "state": "BATCH_STATE_PENDING",
                    "batchStats": {"requestCount": count, "pendingRequestCount": count},
                },
            }
            if self.server.lose_creates:  # made, but the answer never arrives
                self.server.lose_creates -= 1
                self.close_connection = True
                return None
            return self._send(200, as_sdk_reads(self.server.batches[batch_id]))
        if method == "GET" and path == "/v1beta/batches":  # batches.list, newest first
            listed = [as_sdk_reads(b) for b in reversed(self.server.batches.values())]
            return self._send(200, {"operations": listed})
        if method == "GET" and path.startswith("/v1beta/batches/"):
            found = self.server.batches.get(path.removeprefix("/v1beta/batches/"))
            if found is None:
                return self._send(404, {"error": {"code": 404, "message": "not found"}})
            return self._send(200, as_sdk_reads(found))
        if method == "POST" and path.startswith("/v1beta/batches/") and path.endswith(":cancel"):
            found = self.server.batches.get(
                path.removeprefix("/v1beta/batches/").removesuffix(":cancel")
            )
            if found is None:
                return self._send(404, {"error": {"code": 404, "message": "not found"}})
            found["metadata"]["state"] = "BATCH_STATE_CANCELLED"
            return self._send(200, {})
        if method == "GET" and path.startswith("/download/v1beta/") and path.endswith(":download"):
            name = path.removeprefix("/download/v1beta/").removesuffix(":download")
            data = self.server.files.get(name)
            if data is None or "alt=media" not in self.path:
                return self._send(404, {"error": {"code": 404, "message": "not found"}})
            for line in data.splitlines():
                check_result(json.loads(line))
            return self._send(200, data)
        return self._send(404, {"error": {"code": 404, "message": "no such method"}})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


def serving(key: str) -> AbstractContextManager[FakeGeminiAPI]:
    return running(FakeGeminiAPI(key))
