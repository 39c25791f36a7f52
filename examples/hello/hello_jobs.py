"""Example jobs: an inbox drained with a watermark, and a heartbeat."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cronsole.core import Item, JobContext, Watermark, job


@dataclass(frozen=True)
class InboxSettings:
    folder: str = "inbox"
    batch_size: int = field(default=20, metadata={"min": 1, "max": 10_000})


@job(schedule="every 1m", settings=InboxSettings, resets_watermark=("folder",))
def inbox(ctx: JobContext[InboxSettings]) -> dict[str, int]:
    """Record every new file in the inbox folder: size and SHA-256, oldest first."""
    folder = Path(__file__).parent / ctx.settings.folder
    folder.mkdir(exist_ok=True)
    mark = ctx.watermark
    for path in sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        cursor = Watermark(f"{path.stat().st_mtime:017.6f}", path.name)
        if path.is_file() and not path.is_symlink() and (mark is None or mark < cursor):
            ctx.items.enqueue(path.name, payload={"at": cursor.at})

    def record(item: Item) -> dict[str, object]:
        data = (folder / item.key).read_bytes()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    out = ctx.items.drain(
        record,
        limit=ctx.settings.batch_size,
        watermark=lambda item: Watermark(item.payload["at"], item.key),
    )
    ctx.log.info("recorded %d new file(s), %d failed", len(out.done), len(out.failed))
    return {"recorded": len(out.done), "failed": len(out.failed)}


@job(schedule="* * * * *")
def heartbeat(ctx: JobContext) -> None:
    """Log that the scheduler is alive."""
    ctx.log.info("alive; watermark of inbox: %s", ctx.watermark_of("inbox"))
