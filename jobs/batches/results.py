"""Writing a finished batch's results: one file per request with a metadata JSON beside it,
images decoded and converted to WebP; every file written atomically (temp file + rename)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from cronsole.core import atomic_write, remove_leftovers

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Written:
    results: int = 0
    images: int = 0
    errors: int = 0
    invalid: list[str] = field(default_factory=list)


def safe_name(text: str) -> str:
    """A file name from an untrusted id: safe characters, bounded, unique by a short hash."""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]
    cleaned = UNSAFE.sub("_", text).strip("._")[:80] or "result"
    return f"{cleaned}-{digest}"


def write_results(lines: Iterable[bytes], folder: Path, batch_id: str, now: datetime) -> Written:
    remove_leftovers(folder)
    written = Written()
    for number, line in enumerate(lines, start=1):
        try:
            result = json.loads(line)
            if not isinstance(result, dict):
                raise ValueError("not an object")
        except ValueError:
            written.invalid.append(f"line {number}: {line[:80]!r}")
            continue
        _write_one(result, folder, batch_id, now, written)
    return written


def _write_one(
    result: dict[str, Any], folder: Path, batch_id: str, now: datetime, written: Written
) -> None:
    custom_id = str(result.get("custom_id") or result.get("id") or "result")
    response = result.get("response") if isinstance(result.get("response"), dict) else {}
    body = response.get("body") if response else None
    meta = {
        "batch_id": batch_id,
        "custom_id": custom_id,
        "written_at": now.isoformat(),
        "status_code": response.get("status_code") if response else None,
        "error": result.get("error"),
    }
    name = safe_name(custom_id)
    written.errors += bool(result.get("error"))
    images = list(_images(body))
    if not images:
        _with_meta(folder / f"{name}.json", json.dumps(body, indent=2).encode(), meta)
        written.results += 1
        return
    for index, image in enumerate(images):
        _write_image(folder / f"{name}-{index}", image, meta)
        written.images += 1
    written.results += 1


def _images(body: Any) -> Iterable[bytes]:
    """Base64 images of an images-API body (`data[].b64_json`)."""
    entries = body.get("data") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        encoded = entry.get("b64_json") if isinstance(entry, dict) else None
        if isinstance(encoded, str):
            try:
                yield base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue


def _write_image(stem: Path, data: bytes, meta: dict[str, Any]) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind = (image.format or "bin").lower()
            size = image.size
            webp = io.BytesIO()
            image.save(webp, format="WEBP", quality=85)
    except (UnidentifiedImageError, OSError) as exc:
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
