"""Google's Gemini Batch API, spoken natively over HTTP (the REST reference of
`models.batchGenerateContent` and `batches`; the product does not depend on Google's SDK).

A batch is created with its requests inline (`inputConfig.requests`) up to the 20 MB Google
takes that way, or, larger, from the file uploaded as it is (`inputConfig.fileName`, by the
resumable upload protocol, up to 2 GB). It is a long-running operation `batches/ID` whose
`metadata.state` is one of `BATCH_STATE_*` (also seen as `JOB_STATE_*`). When it ends, its
results are inline (`metadata.output.inlinedResponses`) or in a responses file
(`metadata.output.responsesFile`), each a GenerateContentResponse or an error with its key;
images come as `inlineData` parts. The key goes in the `x-goog-api-key` header, read from the
environment at call time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from cronsole.core import Retryable, UsageError

from .providers import HTTPProvider, ProviderError, RemoteBatch, check, json_object, sample

INLINE_BYTES = 20 * 1024 * 1024  # larger inputs are uploaded as a file
FILE_BYTES = 2 * 1024 * 1024 * 1024  # the largest file the Files API takes
STATES = {  # Gemini's states, as cronsole names them
    "QUEUED": "validating",
    "PENDING": "validating",
    "RUNNING": "in_progress",
    "UPDATING": "in_progress",
    "PAUSED": "in_progress",
    "CANCELLING": "cancelling",
    "SUCCEEDED": "completed",
    "PARTIALLY_SUCCEEDED": "completed",  # what failed is counted and written as failed
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "EXPIRED": "expired",
}
INLINE = "inline"  # the result "file" of a batch whose results came inline


def check_gemini_requests(path: Path) -> int:
    """How many requests the file holds, or UsageError naming the first bad line: each line
    `{"key": ..., "request": {GenerateContentRequest}}`, keys unique, at most 2 GB in all."""
    size = path.stat().st_size
    if size > FILE_BYTES:
        raise UsageError(f"{path.name}: {size} bytes, over the 2 GB a Gemini batch file may hold")
    seen: dict[str, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise UsageError(f"line {number}: not valid JSON") from None
            key = line.get("key") if isinstance(line, dict) else None
            if not isinstance(key, str) or not key:
                raise UsageError(f"line {number}: no key (a non-empty string)")
            if key in seen:
                raise UsageError(f"line {number}: key {key!r} again (first on line {seen[key]})")
            seen[key] = number
            request = line.get("request")
            if not isinstance(request, dict) or not isinstance(request.get("contents"), list):
                raise UsageError(f"line {number}: request must be an object with contents")
    if not seen:
        raise UsageError(f"{path.name}: no requests in it")
    return len(seen)


def _inline(path: Path) -> list[dict[str, Any]]:
    """The file's requests as `input_config.requests` takes them, each with its key."""
    found = []
    for raw in path.read_bytes().splitlines():
        if raw.strip():
            line = json.loads(raw)
            found.append({"request": line["request"], "metadata": {"key": line["key"]}})
    return found


def parse_operation(payload: Any) -> RemoteBatch:
    """A batch as `batches.get` (or the create) returns it: an operation named batches/ID."""
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        raise ProviderError(f"unexpected batch payload: {sample(json.dumps(payload))}")
    metadata: dict[str, Any] = _object(payload.get("metadata"))
    raw = str(metadata.get("state", ""))
    state = STATES.get(raw.removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_"))
    if state is None:
        raise ProviderError(f"unknown batch state {sample(raw)}")
    results = _results(payload)
    output = results.get("responsesFile")
    if not isinstance(output, str) and isinstance(results.get("inlinedResponses"), dict):
        output = INLINE
    error = payload.get("error")
    message = sample(json.dumps(error), 500) if error else None
    return RemoteBatch(
        payload["name"].removeprefix("batches/"),
        state,
        output if isinstance(output, str) else None,
        message,
        None,
        _counts(metadata.get("batchStats")),
    )


def _results(operation: Any) -> dict[str, Any]:
    """Where an ended batch's results are said: `metadata.output` (where the google-genai SDK
    reads them), else the operation's `response`."""
    operation = _object(operation)
    return _object(_object(operation.get("metadata")).get("output")) or _object(
        operation.get("response")
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _counts(stats: Any) -> dict[str, int] | None:
    """batchStats' counts (int64, sent as strings) as total, completed, failed."""
    if not isinstance(stats, dict):
        return None
    try:
        total = int(stats.get("requestCount", 0))
        return {
            "total": total,
            "completed": int(stats.get("successfulRequestCount", 0)),
            "failed": int(stats.get("failedRequestCount", 0)),
        }
    except (TypeError, ValueError):
        return None


class GeminiProvider(HTTPProvider):
    """`POST /v1beta/models/{model}:batchGenerateContent`, `GET /v1beta/batches/{id}`,
    `POST /v1beta/batches/{id}:cancel`, `GET /download/v1beta/{file}:download?alt=media`."""

    def __init__(self, base_url: str, key_env: str, model: str, *args: Any, **kwargs: Any):
        super().__init__(base_url.rstrip("/"), key_env, *args, **kwargs)
        if not model:
            raise UsageError(
                "the gemini provider needs a model (setting model, e.g. gemini-2.5-flash)"
            )
        self.model = model.removeprefix("models/")

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._key()}

    def submit(self, path: Path, endpoint: str) -> RemoteBatch:
        with self._redacting():
            if path.stat().st_size > INLINE_BYTES:
                source: dict[str, Any] = {"fileName": self._upload(path)}
            else:
                source = {"requests": {"requests": _inline(path)}}
            # the display name carries a submission id: a create whose answer was lost is
            # found by it before any retry, so no second, billed batch is made
            name = f"{path.stem} [{uuid.uuid4().hex}]"
            body = {"batch": {"displayName": name, "inputConfig": source}}  # as the SDK sends
            url = f"/v1beta/models/{self.model}:batchGenerateContent"

            def create() -> dict[str, Any]:
                try:
                    return self._attempt("POST", url, json=body)
                except Retryable as lost:
                    try:
                        found = self._find(name)
                    except (Retryable, ProviderError) as exc:
                        raise ProviderError(
                            f"{lost}; and looking for the batch it may have made failed "
                            f"({exc}): look for a batch named {name!r} before submitting again"
                        ) from None
                    if found is not None:
                        return found
                    raise

            return parse_operation(self._retrying(create))

    def _find(self, display_name: str) -> dict[str, Any] | None:
        """The batch created under this display name, among the newest (where it would be)."""
        listed = self._request("GET", "/v1beta/batches", params={"pageSize": 100})
        for operation in listed.get("operations") or []:
            metadata = _object(operation.get("metadata") if isinstance(operation, dict) else None)
            if metadata.get("displayName") == display_name:
                return operation  # type: ignore[no-any-return]
        return None

    def _upload(self, path: Path) -> str:
        """Upload the input file by the resumable protocol; its name (`files/ID`). An upload
        is not billed: one that fails is said, and the submit can be made again."""
        try:
            return self._upload_once(path)
        except httpx.HTTPError as exc:
            raise ProviderError(f"uploading {path.name}: {type(exc).__name__}") from None
        except Retryable as exc:
            raise ProviderError(f"uploading {path.name}: {exc}") from None

    def _upload_once(self, path: Path) -> str:
        size = str(path.stat().st_size)
        start = {
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": size,
            "X-Goog-Upload-Header-Content-Type": "application/jsonl",
        }
        reply = self.client.post(
            "/upload/v1beta/files",
            headers={**self._headers(), **start},
            json={"file": {"displayName": path.stem}},
        )
        check(reply, "POST", "/upload/v1beta/files")
        target = reply.headers.get("x-goog-upload-url")
        if not target:
            raise ProviderError("the upload's start answer has no X-Goog-Upload-URL")
        finish = {"X-Goog-Upload-Offset": "0", "X-Goog-Upload-Command": "upload, finalize"}
        with path.open("rb") as handle:
            done = self.client.post(target, headers={**self._headers(), **finish}, content=handle)
        check(done, "POST", "the upload URL")
        uploaded = json_object(done.content, "the upload URL").get("file")
        name = uploaded.get("name") if isinstance(uploaded, dict) else None
        if not isinstance(name, str) or not name.startswith("files/"):
            raise ProviderError(f"the upload's answer has no file name: {sample(done.content)}")
        return name

    def status(self, batch_id: str) -> RemoteBatch:
        with self._redacting():
            return parse_operation(self._request("GET", f"/v1beta/batches/{batch_id}"))

    def cancel(self, batch_id: str) -> RemoteBatch:
        with self._redacting():
            self._request("POST", f"/v1beta/batches/{batch_id}:cancel")
            return parse_operation(self._request("GET", f"/v1beta/batches/{batch_id}"))

    def lines(self, batch: RemoteBatch, file_id: str, limit: int) -> Iterator[bytes]:
        if file_id != INLINE:
            yield from self._download(
                f"/download/v1beta/{file_id}:download", limit, params={"alt": "media"}
            )
            return
        with self._redacting():
            done = self._request("GET", f"/v1beta/batches/{batch.id}")
        inlined = _object(_results(done).get("inlinedResponses"))
        for entry in inlined.get("inlinedResponses") or []:
            yield json.dumps(entry).encode()
