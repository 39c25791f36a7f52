"""Where batches run: an OpenAI-compatible Batch API, or a folder another program fills."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from cronsole.core import (
    CronsoleError,
    Retryable,
    atomic_write,
    format_duration,
    retry_after,
    safe_join,
    with_retries,
)

from .results import ImageError

FINAL = {"completed", "failed", "expired", "cancelled"}
SUBMISSION = "cronsole_submission"  # the metadata key a create is tagged with
RETRIED = {408, 409, 429}  # and every 5xx: timed out, in conflict, too many, the server's fault
KNOWN = FINAL | {"validating", "in_progress", "finalizing", "cancelling", "submitted"}


class ProviderError(CronsoleError):
    """The provider answered in a way we cannot use; the message carries a safe sample."""


class TooLarge(ProviderError):
    """A result file over `max_output_bytes`: it is not downloaded, now or later."""


@dataclass(frozen=True)
class RemoteBatch:
    id: str
    status: str
    output_file: str | None = None
    error: str | None = None
    error_file: str | None = None  # the lines of the requests that failed
    counts: dict[str, int] | None = None  # request_counts: total, completed, failed


class Provider(Protocol):
    def submit(self, path: Path, endpoint: str) -> RemoteBatch:
        """Upload a checked JSONL file of requests (all for `endpoint`) and start a batch."""

    def status(self, batch_id: str) -> RemoteBatch:
        """The batch as the provider sees it now."""

    def cancel(self, batch_id: str) -> RemoteBatch:
        """Ask the provider to stop the batch; what it finished stays downloadable."""

    def lines(self, batch: RemoteBatch, file_id: str, limit: int) -> Iterator[bytes]:
        """A result file's lines (the output or the error file), streamed; ProviderError past
        `limit` bytes or when the download is cut short."""


def sample(text: str | bytes, size: int = 200) -> str:
    """A short, printable piece of an unexpected payload, for the tracking record."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return raw[:size].encode("unicode_escape").decode("ascii")


def parse_batch(payload: Any) -> RemoteBatch:
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        raise ProviderError(f"unexpected batch payload: {sample(json.dumps(payload))}")
    status = payload.get("status")
    if status not in KNOWN:
        raise ProviderError(f"unknown batch status {sample(str(status))}")
    errors = payload.get("errors") or {}
    message = None
    if isinstance(errors, dict) and errors.get("data"):
        message = sample(json.dumps(errors["data"][:3]), 500)
    return RemoteBatch(
        payload["id"],
        status,
        _file_id(payload.get("output_file_id")),
        message,
        _file_id(payload.get("error_file_id")),
        _counts(payload.get("request_counts")),
    )


def _file_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _counts(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    found = {k: value.get(k) for k in ("total", "completed", "failed")}
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in found.values()):
        return None
    return found  # type: ignore[return-value]


def api_prefix(base_url: str) -> str:
    """The URL the API's paths (`/files`, `/batches`) follow, taken as the OpenAI spec and SDK
    take `base_url` (`https://api.openai.com/v1`, or Gemini's `.../v1beta/openai`); a bare
    host gets `/v1`."""
    url = base_url.rstrip("/")
    return url if urlsplit(url).path else url + "/v1"


def _no_wait(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class HTTPProvider:
    """What every HTTP batch API shares: the key read from the environment at call time and
    never stored or logged (nor echoed: `_redacting`), a total deadline per answer however
    slowly the server trickles it (`timeout`), retries with the one backoff honouring
    Retry-After, and waits (`wait`) that return True to stop (a cancelled run)."""

    def __init__(
        self,
        base_url: str,
        key_env: str,
        timeout: float = 30.0,
        attempts: int = 4,
        retry_base: float = 1.0,
        longest_retry_after: float = 300.0,
        download_timeout: float = 600.0,
        wait: Callable[[float], bool] = _no_wait,
    ) -> None:
        self.base_url, self.key_env, self.attempts = base_url, key_env, attempts
        self.retry_base, self.timeout = retry_base, timeout
        self.longest_retry_after, self.wait = longest_retry_after, wait
        self.download_timeout = download_timeout
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False)

    def _key(self) -> str:
        key = os.environ.get(self.key_env)
        if not key:
            raise ProviderError(f"no API key: set the environment variable {self.key_env}")
        return key

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key()}"}

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object the API answers, read within the deadline, with retries."""
        return self._retrying(lambda: self._attempt(method, url, **kwargs))

    def _retrying(self, once: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return with_retries(
            once,
            attempts=self.attempts,
            base=self.retry_base,
            cap=60.0,
            wait=self.wait,
            longest_asked=self.longest_retry_after,
        )

    def _attempt(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One try: the JSON object the API answers, read within the deadline."""
        deadline = time.monotonic() + self.timeout
        try:
            with self.client.stream(method, url, headers=self._headers(), **kwargs) as reply:
                check(reply, method, url)
                body = bytearray()
                for chunk in reply.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:  # a server trickling its answer
                        raise Retryable(
                            f"{method} {url}: no whole answer within "
                            f"{format_duration(self.timeout)}"
                        )
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise Retryable(f"{method} {url}: {type(exc).__name__}") from None
        return json_object(bytes(body), url)

    def _download(self, url: str, limit: int, **kwargs: Any) -> Iterator[bytes]:
        """A result file's lines, streamed within the size cap and the download deadline."""
        with self._redacting():
            try:
                with self.client.stream("GET", url, headers=self._headers(), **kwargs) as response:
                    check(response, "GET", url)
                    size = response.headers.get("content-length", "")
                    if size.isdigit() and int(size) > limit:  # said before a byte is read
                        raise TooLarge(f"{url} is {size} bytes, over the {limit} byte cap")
                    chunks = _within(response.iter_bytes(), self.download_timeout, f"GET {url}")
                    yield from _capped_lines(chunks, limit)
            except httpx.HTTPError as exc:  # reset, timed out, shorter than it said
                raise ProviderError(f"GET {url}: cut short ({type(exc).__name__})") from None

    @contextmanager
    def _redacting(self) -> Iterator[None]:
        """A server may echo the key in an error body: no message carries it further."""
        try:
            yield
        except (ProviderError, Retryable) as exc:
            key = os.environ.get(self.key_env) or ""
            if len(key) >= 8 and key in str(exc):
                masked = str(exc).replace(key, "****" + key[-4:])
                raise type(exc)(masked) from None
            raise


class OpenAIProvider(HTTPProvider):
    """Any OpenAI-compatible Batch API: `POST /files` + `/batches`, `GET /batches/{id}`,
    `GET /files/{id}/content`, `POST /batches/{id}/cancel`, below the API prefix."""

    def __init__(self, base_url: str, key_env: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(api_prefix(base_url), key_env, *args, **kwargs)

    def submit(self, path: Path, endpoint: str) -> RemoteBatch:
        with self._redacting():
            return self._submit(path, endpoint)

    def _submit(self, path: Path, endpoint: str) -> RemoteBatch:
        with path.open("rb") as handle:
            uploaded = self._request(
                "POST", "/files", data={"purpose": "batch"}, files={"file": (path.name, handle)}
            )
        file_id = uploaded.get("id")
        if not isinstance(file_id, str) or not file_id:
            raise ProviderError(
                f"the upload's answer has no file id: {sample(json.dumps(uploaded))}"
            )
        submission = uuid.uuid4().hex
        body = {
            "input_file_id": file_id,
            "endpoint": endpoint,
            "completion_window": "24h",
            "metadata": {SUBMISSION: submission},
        }

        def create() -> dict[str, Any]:
            """A create whose answer was lost may have made the batch: look for it by its
            submission id before trying again, so that no second batch is made (and billed)."""
            try:
                return self._attempt("POST", "/batches", json=body)
            except Retryable as lost:
                try:
                    found = self._find(submission)
                except (Retryable, ProviderError) as exc:
                    raise ProviderError(
                        f"{lost}; and looking for the batch it may have made failed ({exc}): "
                        f"look for metadata {SUBMISSION}={submission} before submitting again"
                    ) from None
                if found is not None:
                    return found
                raise

        return parse_batch(self._retrying(create))

    def _find(self, submission: str) -> dict[str, Any] | None:
        """The batch created with this submission id, among the newest (where it would be)."""
        listed = self._request("GET", "/batches", params={"limit": 100})
        for batch in listed.get("data") or []:
            metadata = batch.get("metadata") if isinstance(batch, dict) else None
            if isinstance(metadata, dict) and metadata.get(SUBMISSION) == submission:
                return batch  # type: ignore[no-any-return]
        return None

    def status(self, batch_id: str) -> RemoteBatch:
        with self._redacting():
            return parse_batch(self._request("GET", f"/batches/{batch_id}"))

    def cancel(self, batch_id: str) -> RemoteBatch:
        with self._redacting():
            return parse_batch(self._request("POST", f"/batches/{batch_id}/cancel"))

    def lines(self, batch: RemoteBatch, file_id: str, limit: int) -> Iterator[bytes]:
        return self._download(f"/files/{file_id}/content", limit)


def check(response: httpx.Response, method: str, url: str) -> httpx.Response:
    if response.status_code in RETRIED or response.status_code >= 500:
        raise Retryable(
            f"{method} {url}: HTTP {response.status_code}", after=retry_after(response.headers)
        )
    if response.status_code >= 400:
        body = response.read()
        raise ProviderError(f"{method} {url}: HTTP {response.status_code}: {sample(body)}")
    return response


def json_object(body: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ProviderError(f"invalid JSON from {url}: {sample(body)}") from None
    if not isinstance(data, dict):
        raise ProviderError(f"unexpected JSON from {url}")
    return data


def fetch_image(url: str, limit: int, timeout: float) -> bytes:
    """An image a result names by url (the provider's signed link), with the download's own
    limits; never with the API key, which is not the image host's."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ImageError(f"not an http(s) url: {sample(url, 80)}")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise ImageError(f"GET {sample(url, 80)}: HTTP {response.status_code}")
            size = response.headers.get("content-length", "")
            if size.isdigit() and int(size) > limit:
                raise ImageError(f"{size} bytes, over the {limit} byte cap")
            data = bytearray()
            for chunk in _within(response.iter_bytes(), timeout, "image", ImageError):
                data += chunk
                if len(data) > limit:
                    raise ImageError(f"over the {limit} byte cap")
            return bytes(data)
    except httpx.HTTPError as exc:
        raise ImageError(f"GET {sample(url, 80)}: {type(exc).__name__}") from None


def _within(
    chunks: Iterator[bytes],
    seconds: float,
    what: str,
    error: type[Exception] = ProviderError,
) -> Iterator[bytes]:
    """The chunks, until `seconds` have passed since the first was asked for."""
    deadline = time.monotonic() + seconds
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise error(f"{what}: not downloaded within {format_duration(seconds)}")
        yield chunk


def _capped_lines(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    seen, pending = 0, b""
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(f"output larger than the {limit} byte cap")
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


class FolderProvider:
    """Batches as folders in an inbox: `<id>/input.jsonl`, then a processor writes
    `<id>/status.json` ({"status": ...}) and `<id>/output.jsonl`."""

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox

    def submit(self, path: Path, endpoint: str) -> RemoteBatch:
        batch_id = f"batch_{uuid.uuid4().hex[:16]}"
        folder = self.inbox / batch_id
        atomic_write(folder / "input.jsonl", path.read_bytes())
        atomic_write(folder / "status.json", b'{"status": "submitted"}')
        return RemoteBatch(batch_id, "submitted")

    def status(self, batch_id: str) -> RemoteBatch:
        try:
            raw = safe_join(self.inbox, f"{batch_id}/status.json").read_bytes()
        except FileNotFoundError:
            raise ProviderError(f"batch {batch_id} is not in {self.inbox}") from None
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ProviderError(f"invalid status.json: {sample(raw)}") from None
        if not isinstance(payload, dict):
            return parse_batch(payload)
        files = {
            key: name
            for key, name in (("output_file_id", "output.jsonl"), ("error_file_id", "errors.jsonl"))
            if safe_join(self.inbox, f"{batch_id}/{name}").is_file()
        }
        return parse_batch({"id": batch_id, **payload, **files})

    def cancel(self, batch_id: str) -> RemoteBatch:
        """Nothing runs here but the program filling the inbox: the batch ends at once."""
        self.status(batch_id)  # it must exist
        atomic_write(safe_join(self.inbox, f"{batch_id}/status.json"), b'{"status": "cancelled"}')
        return self.status(batch_id)

    def lines(self, batch: RemoteBatch, file_id: str, limit: int) -> Iterator[bytes]:
        path = safe_join(self.inbox, f"{batch.id}/{file_id}")
        if path.stat().st_size > limit:
            raise TooLarge(
                f"file {file_id} is {path.stat().st_size} bytes, over the {limit} byte cap"
            )
        with path.open("rb") as handle:
            yield from _capped_lines(iter(lambda: handle.read(65536), b""), limit)
