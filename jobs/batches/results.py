"""Writing a finished batch's results: one file per request with a metadata JSON beside it,
images decoded and converted to WebP; every file written atomically (temp file + rename).

A line is a success when it has a response with a 2xx status and no error; then its body is
written (`NAME.json`, or its images). Any other line is a failed request: `NAME.error.json`
holds its error object (or the response it got), and it is counted as failed. A line without a
custom_id, or with one already seen in this batch, is not written over the first: it is listed
as invalid."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cronsole.core import atomic_write, remove_leftovers

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Written:
    results: int = 0  # requests that succeeded
    images: int = 0
    errors: int = 0  # requests that failed, each with its error file
    invalid: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # custom_ids written
    names: dict[str, str] = field(default_factory=dict)  # file name -> the custom_id it holds


def safe_name(text: str) -> str:
    """A file name from an untrusted id: safe characters, bounded, unique by a short hash."""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]
    cleaned = UNSAFE.sub("_", text).strip("._")[:80] or "result"
    return f"{cleaned}-{digest}"


Fetch = Callable[[str], bytes]  # an image's url -> its bytes; ImageError when it cannot


def write_results(
    files: Iterable[tuple[str, Iterable[bytes]]],
    folder: Path,
    batch_id: str,
    now: datetime,
    provider: str = "",
    fetch: Fetch | None = None,
    submitted_at: str | None = None,
) -> Written:
    """Write every line of the batch's result files ((name, lines): the output file, then
    the error file); what was written, counted."""
    remove_leftovers(folder)
    written = Written()
    for source, lines in files:
        for number, line in enumerate(lines, start=1):
            try:
                result = json.loads(line)
                if not isinstance(result, dict):
                    raise ValueError("not an object")
            except ValueError:
                written.invalid.append(f"{source} line {number}: {line[:80]!r}")
                continue
            where = f"{source} line {number}"
            batch = {"batch_id": batch_id, "provider": provider, "submitted_at": submitted_at}
            _write_one(result, folder, batch, now, where, written, fetch)
    return written


def _write_one(
    result: dict[str, Any],
    folder: Path,
    batch: dict[str, str | None],
    now: datetime,
    where: str,
    written: Written,
    fetch: Fetch | None,
) -> None:
    line = _line(result)
    custom_id = line.custom_id
    if not custom_id:
        written.invalid.append(f"{where}: no custom_id")
        return
    if custom_id in written.seen:
        written.invalid.append(f"{where}: custom_id {custom_id[:80]!r} again (the first is kept)")
        return
    written.seen.add(custom_id)
    status, body, error = line.status, line.body, line.error
    meta = {
        **batch,
        "custom_id": custom_id,
        "line_id": line.line_id,
        "request_id": line.request_id,
        "status_code": status,
        "model": line.model,
        "written_at": now.isoformat(),
        "error": error,
    }
    name = _unique(safe_name(custom_id), custom_id, written)
    if not line.ok:
        failure = error or {"status_code": status, "body": body}
        meta["error"] = failure
        _with_meta(folder / f"{name}.error.json", json.dumps(failure, indent=2).encode(), meta)
        written.errors += 1
        return
    try:
        images = list(_images(body, fetch))
    except ImageError as exc:  # a request whose image cannot be had did not succeed
        failure = {"code": "image", "message": str(exc)}
        meta["error"] = failure
        _with_meta(folder / f"{name}.error.json", json.dumps(failure, indent=2).encode(), meta)
        written.errors += 1
        return
    if not images:
        _with_meta(folder / f"{name}.json", json.dumps(body, indent=2).encode(), meta)
        written.results += 1
        return
    for index, image in enumerate(images):
        _write_image(folder / f"{name}-{index}", image, meta)
        written.images += 1
    written.results += 1


@dataclass(frozen=True)
class Line:
    """A result line, whichever provider wrote it."""

    custom_id: str | None
    ok: bool
    status: int | None
    body: Any
    error: Any
    request_id: str | None = None
    line_id: str | None = None
    model: str | None = None


def _line(result: dict[str, Any]) -> Line:
    """An OpenAI batch output line (`custom_id`, `response` {status_code, request_id, body},
    `error`), or a Gemini one (`key`, a GenerateContentResponse as `response`, or an `error`
    status; its request key may also sit in `metadata.key`)."""
    if "custom_id" in result or ("key" not in result and "metadata" not in result):
        response = result.get("response") if isinstance(result.get("response"), dict) else None
        status = response.get("status_code") if response else None
        body = response.get("body") if response else None
        error = result.get("error")
        return Line(
            _text(result.get("custom_id")),
            isinstance(status, int) and 200 <= status < 300 and not error,
            status,
            body,
            error,
            _text(response.get("request_id")) if response else None,
            _text(result.get("id")),
            _text(body.get("model")) if isinstance(body, dict) else None,
        )
    metadata: dict[str, Any] = result.get("metadata") or {}
    key = result.get("key", metadata.get("key") if isinstance(metadata, dict) else None)
    answer = result.get("response") if isinstance(result.get("response"), dict) else None
    failure = result.get("error")
    return Line(
        _text(key),
        answer is not None and not failure,
        None,
        answer,
        failure,
        _text(answer.get("responseId")) if answer else None,
        None,
        _text(answer.get("modelVersion")) if answer else None,
    )


def _unique(name: str, custom_id: str, written: Written) -> str:
    """A file name no other request of this batch holds (safe names of two ids could meet)."""
    candidate, n = name, 1
    while written.names.get(candidate, custom_id) != custom_id:
        n += 1
        candidate = f"{name}-{n}"
    written.names[candidate] = custom_id
    return candidate


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ImageError(Exception):
    """An image a response names that cannot be decoded or fetched."""


def _images(body: Any, fetch: Fetch | None) -> Iterable[bytes]:
    """The images of a body: an images-API one (`data[].b64_json` decoded, `data[].url`
    fetched) or a Gemini GenerateContentResponse (`inlineData` image parts, decoded)."""
    yield from _inline_images(body)
    entries = body.get("data") if isinstance(body, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        if isinstance(encoded := entry.get("b64_json"), str):
            try:
                yield base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ImageError(f"image {index}: b64_json is not valid base64") from None
        elif isinstance(url := entry.get("url"), str):
            if fetch is None:
                raise ImageError(f"image {index}: a url, and nothing here fetches urls")
            try:
                yield fetch(url)
            except ImageError as exc:
                raise ImageError(f"image {index}: {exc}") from None


def _inline_images(body: Any) -> Iterable[bytes]:
    candidates = body.get("candidates") if isinstance(body, dict) else None
    for candidate in candidates if isinstance(candidates, list) else []:
        content = candidate.get("content") if isinstance(candidate, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for index, part in enumerate(parts if isinstance(parts, list) else []):
            inline = part.get("inlineData") if isinstance(part, dict) else None
            if not isinstance(inline, dict) or not str(inline.get("mimeType", "")).startswith(
                "image/"
            ):
                continue
            try:
                yield base64.b64decode(str(inline.get("data", "")), validate=True)
            except (binascii.Error, ValueError):
                raise ImageError(f"part {index}: inlineData is not valid base64") from None


def _write_image(stem: Path, data: bytes, meta: dict[str, Any]) -> None:
    from PIL import Image  # here: the console and the CLI load this module, and Pillow is slow

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind = (image.format or "bin").lower()
            size = image.size
            webp = io.BytesIO()
            image.save(webp, format="WEBP", quality=85)
    except OSError as exc:  # UnidentifiedImageError is one
        _with_meta(stem.with_suffix(".bin"), data, {**meta, "error": f"not an image: {exc}"})
        return
    original = stem.with_name(f"{stem.name}.{kind}")
    _with_meta(original, data, {**meta, "width": size[0], "height": size[1], "format": kind})
    _with_meta(
        stem.with_name(f"{stem.name}.webp"),
        webp.getvalue(),
        {
            **meta,
            "width": size[0],
            "height": size[1],
            "format": "webp",
            "converted_from": original.name,
        },
    )


def _with_meta(path: Path, data: bytes, meta: dict[str, Any]) -> None:
    atomic_write(path, data)
    info = {
        **meta,
        "file": path.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    atomic_write(
        path.with_name(path.name + ".meta.json"), json.dumps(info, indent=2, default=str).encode()
    )


def outcomes(folder: Path) -> list[dict[str, Any]]:
    """Each request of a downloaded batch, read back from its `.meta.json` files: custom_id,
    outcome (ok or failed), status code, request id, the files written, the error."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.meta.json")) if folder.is_dir() else []:
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("custom_id"), str):
            continue
        entry = found.setdefault(
            meta["custom_id"],
            {
                "custom_id": meta["custom_id"],
                "outcome": "ok",
                "status_code": meta.get("status_code"),
                "request_id": meta.get("request_id"),
                "files": [],
                "error": None,
            },
        )
        entry["files"].append(meta.get("file"))
        if str(meta.get("file", "")).endswith(".error.json"):
            entry["outcome"], entry["error"] = "failed", meta.get("error")
    return [found[key] for key in sorted(found)]


def requests_text(data: dict[str, Any]) -> str:
    """A tracked batch's requests as its provider counts them: ok/failed/total."""
    counts = data.get("requests")
    if not isinstance(counts, dict):
        return "-"
    return f"{counts.get('completed')}/{counts.get('failed')}/{counts.get('total')}"


def on_disk_text(data: dict[str, Any]) -> str:
    """What a tracked batch has on disk: results, and failed requests."""
    if "results" not in data:
        return "-"
    failed = data.get("result_errors") or 0
    return f"{data['results']}" + (f" + {failed} failed" if failed else "")


def request_error(error: Any) -> str | None:
    """A downloaded request's error, as its provider worded it."""
    if isinstance(error, dict):
        return str(error.get("message") or error.get("body") or error)
    return None if error is None else str(error)


def note_text(data: dict[str, Any]) -> str:
    """Why a tracked batch needs a look: stuck, or its error."""
    return ("STUCK " if data.get("stuck") else "") + str(data.get("error") or "")
