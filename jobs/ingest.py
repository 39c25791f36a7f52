"""Document ingest: record every invoice file of the processing period, oldest first.

Storage layout: <root>/invoices/<Company>-<EIK>/<YYYY>/<MM>/<type>/<file>. Each file becomes a
`document` record (company, EIK, period, type, path, size, SHA-256, media type, image size).
A file is the same file while its path, modification time and size are: that triple is its
item key, and the ledger, not the watermark, decides what is new. Files past the watermark are
new at once (the fast path); older ones are looked up in the ledger, so a file copied in with
its old mtime (`cp -p`, `rsync -a`, `mv`) or replaced in place is found, and its document
updated. Keys encode a name's bytes injectively (`path_key`); documents show it with bytes that
are not UTF-8 as \\xNN. A file still being written (modified within `settle_seconds`) waits for
the next tick; a file that vanished is recorded `vanished`, not failed; symlinks are never
followed and no path leaves the root.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cronsole.core import (
    FoundFile,
    Item,
    JobContext,
    Watermark,
    check_period,
    current_period,
    job,
    load_function,
    path_key,
    printable_path,
    safe_join,
    walk_files,
)

COMPANY = re.compile(r"^(?P<company>.+)-(?P<eik>\d{9}|\d{13})$")
Processor = Callable[[Path, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class IngestSettings:
    root: str = "storage"
    period: str = ""  # YYYY-MM; empty means the current month in the job's time zone
    batch_size: int = field(default=100, metadata={"min": 1, "max": 100_000})
    settle_seconds: float = field(default=5.0, metadata={"min": 0})
    processor: str = ""  # "module:function" taking (path, document) and returning extra fields

    def __post_init__(self) -> None:
        if self.period:
            check_period(self.period)
        if self.processor and ":" not in self.processor:
            raise ValueError(f"processor must be 'module:function', got {self.processor!r}")


@job(
    name="invoice-ingest",
    schedule="* * * * *",
    settings=IngestSettings,
    time_budget=50,
    resets_watermark=("period",),
    enabled=False,
)
def ingest(ctx: JobContext[IngestSettings]) -> dict[str, Any]:
    """Record new invoice files of the processing period, oldest first, in batches."""
    settings = ctx.settings
    period = settings.period or current_period(ctx.now(), ctx.job.schedule.timezone)
    root = (ctx.base_dir / settings.root).resolve()
    process = load_processor(settings.processor, ctx.base_dir)
    queued = enqueue_new_files(ctx, root, period)
    out = ctx.items.drain(
        lambda item: record_document(ctx, root, item, process),
        limit=settings.batch_size,
        watermark=lambda item: Watermark(item.payload["at"], item.payload["path"]),
    )
    ctx.log.info(
        "period %s: %d new, %d recorded, %d failed, %d left for later",
        period,
        queued,
        len(out.done),
        len(out.failed),
        len(out.left),
    )
    return {
        "period": period,
        "queued": queued,
        "recorded": len(out.done),
        "failed": len(out.failed),
    }


def enqueue_new_files(ctx: JobContext[IngestSettings], root: Path, period: str) -> int:
    """Enqueue the period's settled files that the ledger does not know, oldest first: those
    past the watermark without a lookup, older ones (back-dated, replaced) after one."""
    mark, now = ctx.watermark, ctx.now().timestamp()
    settled = sorted(
        (cursor(found), found)
        for found in period_files(root, period)
        if now - found.mtime >= ctx.settings.settle_seconds
    )
    older = [
        file_key(found)
        for mark_of_file, found in settled
        if mark is not None and not mark < mark_of_file
    ]
    known = ctx.items.known(older) if older else set()
    entries: list[tuple[str, dict[str, Any], str]] = []
    for mark_of_file, found in settled:
        key = file_key(found)
        if key in known:
            continue
        if len(entries) >= ctx.settings.batch_size * 10:
            break  # enough queued for several ticks; the rest is found again later
        entries.append(
            (
                key,
                {
                    "path": found.relative,
                    "at": mark_of_file.at,
                    "size": found.size,
                    "period": period,
                },
                "",
            )
        )
    return ctx.items.enqueue_many(entries)


def cursor(found: FoundFile) -> Watermark:
    return Watermark(f"{found.mtime:017.6f}", found.relative)


def file_key(found: FoundFile) -> str:
    """What makes a file the same file: its path (its bytes, injectively), mtime and size."""
    return f"{path_key(found.relative)}@{found.mtime:017.6f}:{found.size}"


def period_files(root: Path, period: str) -> Iterator[FoundFile]:
    year, month = check_period(period)
    invoices = root / "invoices"
    if not invoices.is_dir() or invoices.is_symlink():
        return
    for entry in sorted(os.scandir(invoices), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False) or not COMPANY.match(entry.name):
            continue
        folder = invoices / entry.name / f"{year:04d}" / f"{month:02d}"
        if folder.is_dir() and not any(p.is_symlink() for p in (folder, folder.parent)):
            yield from (f for f in walk_files(root, folder) if len(f.relative.split("/")) >= 6)


def load_processor(name: str, base: Path) -> Processor | None:
    """A processor named "module:function"; none when the setting is empty."""
    return load_function(name, base) if name else None


def record_document(
    ctx: JobContext[IngestSettings], root: Path, item: Item, process: Processor | None
) -> dict[str, Any]:
    rel = item.payload["path"]  # the real name; JSON keeps bytes that are not UTF-8
    shown = printable_path(rel)
    parts = shown.split("/")
    company = COMPANY.match(parts[1])
    assert company is not None
    document: dict[str, Any] = {
        "company": company["company"],
        "eik": company["eik"],
        "period": item.payload["period"],
        "type": parts[4],
        "path": shown,
        "processed_at": ctx.now().isoformat(),
    }
    data = read_file(safe_join(root, rel))
    if data is None:
        document["status"] = "vanished"
    else:
        document.update(describe(rel, data), status="ok")
        if process:
            document.update(process(safe_join(root, rel), dict(document)))
    ctx.records("document").put(
        path_key(rel), document, grp=parts[1], at=document["period"], status=document["status"]
    )
    return {"status": document["status"], "sha256": document.get("sha256")}


def read_file(path: Path) -> bytes | None:
    """The file's bytes, or None when it vanished; a symlink swapped in is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def describe(rel: str, data: bytes) -> dict[str, Any]:
    media, _ = mimetypes.guess_type(rel)
    found: dict[str, Any] = {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "media_type": media or "application/octet-stream",
        "width": None,
        "height": None,
    }
    from PIL import Image  # loaded when a file is read, not with the job (the console's start)

    try:
        with Image.open(io.BytesIO(data)) as image:
            found["width"], found["height"] = image.size
            found["media_type"] = Image.MIME.get(image.format or "", found["media_type"])
    except OSError:  # UnidentifiedImageError is one
        pass  # not an image: size and hash are all we record
    return found
