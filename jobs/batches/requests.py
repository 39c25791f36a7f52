"""A batch's input file, checked before anything is sent: what a provider would refuse (or
worse, accept and bill) is said at once, with the line it is on.

Each line is a request as the OpenAI Batch API takes it: `{"custom_id": ..., "method": "POST",
"url": "/v1/...", "body": {...}}`. One batch has one endpoint (every line's `url`), unique
`custom_id`s, at most 50,000 lines and 200 MB (the limits of `POST /v1/batches`).
"""

from __future__ import annotations

import json
from pathlib import Path

from cronsole.core import UsageError

ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024


def check_requests(path: Path) -> str:
    """The batch's endpoint, or UsageError naming the first line that is wrong."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise UsageError(f"{path.name}: {size} bytes, over the 200 MB a batch may hold")
    endpoint: str | None = None
    seen: dict[str, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            if len(seen) == MAX_LINES:
                raise UsageError(f"{path.name}: more than {MAX_LINES} requests in one batch")
            url = _check_line(raw, number, seen)
            if endpoint is None:
                endpoint = url
            elif url != endpoint:
                raise UsageError(
                    f"line {number}: url {url!r}, but the batch is for {endpoint!r} (one "
                    "endpoint per batch)"
                )
    if endpoint is None:
        raise UsageError(f"{path.name}: no requests in it")
    return endpoint


def _check_line(raw: bytes, number: int, seen: dict[str, int]) -> str:
    try:
        line = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"line {number}: not valid JSON") from None
    if not isinstance(line, dict):
        raise UsageError(f"line {number}: a request must be a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise UsageError(f"line {number}: no custom_id (a non-empty string)")
    if custom_id in seen:
        raise UsageError(
            f"line {number}: custom_id {custom_id!r} again (first on line {seen[custom_id]})"
        )
    seen[custom_id] = number
    if line.get("method") != "POST":
        raise UsageError(f'line {number}: method must be "POST"')
    url = line.get("url")
    if url not in ENDPOINTS:
        raise UsageError(f"line {number}: url {url!r} is not one of {', '.join(ENDPOINTS)}")
    if not isinstance(line.get("body"), dict):
        raise UsageError(f"line {number}: body must be a JSON object")
    return str(url)
