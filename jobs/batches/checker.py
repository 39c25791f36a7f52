"""Poll tracked batches; download finished ones; record failures; flag stuck ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from cronsole.core import (
    ActionContext,
    JobContext,
    Record,
    Retryable,
    Schedule,
    UsageError,
    format_duration,
    job,
    load_function,
)

from .gemini import GeminiProvider, check_gemini_requests
from .providers import (
    FINAL,
    FolderProvider,
    OpenAIProvider,
    Provider,
    ProviderError,
    RemoteBatch,
    TooLarge,
    fetch_image,
)
from .requests import check_requests
from .results import safe_name, write_results

COLLECTION = "batch"
# the states polled; a batch that ended remotely is never polled again: every request
# succeeded and is on disk (`completed`), some failed (`completed_with_errors`), or the batch
# failed, expired or was cancelled (what it finished is on disk too), or its output is over
# max_output_bytes (`too_large`)
OPEN = ["submitted", "validating", "in_progress", "finalizing", "cancelling"]
# (`downloaded`, what earlier builds named a completed batch, is not in it either: ended)


@dataclass(frozen=True)
class BatchSettings:
    # folder, openai, gemini, or your own: "module:function" called with these settings and
    # the config's folder, returning a Provider (jobs/batches/providers.py)
    provider: str = "folder"
    inbox: str = "batches/inbox"
    # empty: the provider's own (DEFAULTS); openai's is taken as the SDK takes it, a bare host
    # getting /v1
    base_url: str = ""
    api_key_env: str = ""
    model: str = ""  # gemini: the model every request of a batch goes to
    output_dir: str = "batches/results"
    max_output_bytes: int = field(default=100 * 1024 * 1024, metadata={"min": 1})
    stuck_after_hours: float = field(default=24.0, metadata={"min": 0.01})
    request_timeout: float = field(default=30.0, metadata={"min": 0.1, "max": 600})
    attempts: int = field(default=4, metadata={"min": 1, "max": 10})
    retry_base: float = field(default=1.0, metadata={"min": 0.0, "max": 60})
    # a server asking to wait longer than this (Retry-After) is left for the next run
    longest_retry_after: float = field(default=300.0, metadata={"min": 0.0, "max": 86400})
    download_timeout: float = field(default=600.0, metadata={"min": 1, "max": 86400})

    def __post_init__(self) -> None:
        if self.provider not in ("folder", *DEFAULTS) and ":" not in self.provider:
            raise ValueError(
                f"provider {self.provider!r} is not folder, openai, gemini or module:function"
            )


def every_5_to_1440_minutes(schedule: Schedule) -> None:
    minutes = (schedule.every_seconds or 0) / 60
    if schedule.every_seconds is None or not minutes.is_integer() or not 5 <= minutes <= 1440:
        raise ValueError(
            "the batch checker runs every N minutes, N from 5 to 1440 "
            f"(e.g. 'every 10m'), not {schedule.text!r}"
        )


DEFAULTS = {  # base_url, api_key_env
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "gemini": ("https://generativelanguage.googleapis.com", "GEMINI_API_KEY"),
}


def make_provider(
    settings: BatchSettings, base: Path, wait: Callable[[float], bool] | None = None
) -> Provider:
    """The configured provider; `wait` (a run's `ctx.sleep`) lets a cancel end a retry wait."""
    if settings.provider in DEFAULTS:
        url, key_env = DEFAULTS[settings.provider]
        http = (
            settings.request_timeout,
            settings.attempts,
            settings.retry_base,
            settings.longest_retry_after,
            settings.download_timeout,
        )
        waiting = {"wait": wait} if wait else {}
        url, key_env = settings.base_url or url, settings.api_key_env or key_env
        if settings.provider == "gemini":
            return GeminiProvider(url, key_env, settings.model, *http, **waiting)
        return OpenAIProvider(url, key_env, *http, **waiting)
    if ":" in settings.provider:
        made: Provider = load_function(settings.provider, base)(settings, base)
        return made
    return FolderProvider((base / settings.inbox).resolve())


def submit(ctx: ActionContext, args: list[str]) -> str:
    """`cronsole batches submit FILE.jsonl`: start a batch and track it."""
    if len(args) != 1 or not args[0].endswith(".jsonl"):
        raise UsageError("give one .jsonl file of requests")
    path = Path(args[0])
    if not path.is_file():
        raise UsageError(f"{args[0]}: no such file")
    if ctx.settings.provider == "gemini":
        check_gemini_requests(path)
        endpoint = f"models/{ctx.settings.model}:batchGenerateContent"
    else:
        endpoint = check_requests(path)
    remote = make_provider(ctx.settings, ctx.base_dir).submit(path, endpoint)
    now: datetime = ctx.clock.now()
    data = {
        "provider": ctx.settings.provider,
        "endpoint": endpoint,
        "submitted_at": now.isoformat(),
        "remote_status": remote.status,
        "polls": 0,
        "source": path.name,
    }
    ctx.records(COLLECTION).put(remote.id, data, at=now.isoformat(), status=remote.status)
    return f"submitted {path.name} as {remote.id} ({remote.status})"


def cancel(ctx: ActionContext, args: list[str]) -> str:
    """`cronsole batches cancel ID`: ask the provider to stop a tracked batch; the next polls
    download what it finished."""
    if len(args) != 1:
        raise UsageError("give one batch id")
    records = ctx.records(COLLECTION)
    tracked = records.get(args[0])
    if tracked is None:
        raise UsageError(f"no tracked batch {args[0]!r}")
    if tracked.status not in OPEN:
        raise UsageError(f"batch {tracked.key} has already ended ({tracked.status})")
    remote = make_provider(ctx.settings, ctx.base_dir).cancel(tracked.key)
    data = {
        **tracked.data,
        "remote_status": remote.status,
        "cancel_asked_at": ctx.clock.now().isoformat(),
    }
    records.put(tracked.key, data, at=tracked.at, status=remote.status)
    return f"asked {ctx.settings.provider} to cancel batch {tracked.key}: now {remote.status}"


@job(
    name="batch-check",
    schedule="every 5m",
    settings=BatchSettings,
    enabled=False,
    schedule_check=every_5_to_1440_minutes,
    actions={"submit": submit, "cancel": cancel},
)
def check_batches(ctx: JobContext[BatchSettings]) -> dict[str, int]:
    """Poll submitted batches, download finished results, flag stuck ones."""
    provider = make_provider(ctx.settings, ctx.base_dir, ctx.sleep)
    tracked = [
        r for status in OPEN for r in ctx.records(COLLECTION).query(status=status, limit=10_000)
    ]
    ctx.set_total(len(tracked))
    out = ctx.run_items(tracked, lambda record: poll(ctx, provider, record))
    statuses = [result for _, result in out.done]
    return {
        "polled": len(tracked),
        "downloaded": sum(s in ("completed", "completed_with_errors") for s in statuses),
        "errors": len(out.failed),
    }


def poll(ctx: JobContext[BatchSettings], provider: Provider, record: Record) -> str:
    """One batch: its failure is recorded on it and never stops the others."""
    now = ctx.now()
    data = {**record.data, "polls": record.data.get("polls", 0) + 1, "last_polled": now.isoformat()}
    try:
        status = advance(ctx, provider, record, data)
    except (ProviderError, Retryable, OSError) as exc:
        data["error"] = str(exc)
        ctx.records(COLLECTION).put(record.key, data, at=record.at, status=record.status)
        raise
    if status in OPEN:
        data.pop("error", None)  # an earlier poll's error is over
    ctx.records(COLLECTION).put(record.key, data, at=record.at, status=status)
    return status


def finish(
    ctx: JobContext[BatchSettings],
    provider: Provider,
    record: Record,
    remote: RemoteBatch,
    data: dict[str, Any],
) -> str:
    """A batch that ended, in whatever state: download what it finished (the output file)
    and what failed (the error file), count both, and name the local state it ends in."""
    folder = (ctx.base_dir / ctx.settings.output_dir).resolve() / safe_name(record.key)
    cap = ctx.settings.max_output_bytes
    files = [
        (name, provider.lines(remote, file_id, cap))
        for name, file_id in (("output", remote.output_file), ("errors", remote.error_file))
        if file_id
    ]
    fetch = partial(fetch_image, limit=cap, timeout=ctx.settings.download_timeout)
    try:
        written = write_results(
            files,
            folder,
            record.key,
            ctx.now(),
            ctx.settings.provider,
            fetch,
            record.data.get("submitted_at"),
        )
    except TooLarge as exc:  # refused for good: downloading it again would refuse it again
        data.update(error=f"{exc} (max_output_bytes)", requests=remote.counts)
        ctx.log.warning("batch %s: %s", record.key, exc)
        return "too_large"
    data.update(
        downloaded_at=ctx.now().isoformat(),
        requests=remote.counts,
        results=written.results,
        images=written.images,
        result_errors=written.errors,
        invalid_lines=written.invalid[:5],
        folder=str(folder),
    )
    failed = written.errors or bool(remote.counts and remote.counts["failed"])
    ctx.log.info(
        "batch %s %s: %d results (%d images), %d failed requests written",
        record.key,
        remote.status,
        written.results,
        written.images,
        written.errors,
    )
    if remote.status == "completed":
        return "completed_with_errors" if failed else "completed"
    data["error"] = remote.error or f"batch {remote.status}"
    ctx.log.warning("batch %s ended %s", record.key, remote.status)
    return remote.status


def advance(
    ctx: JobContext[BatchSettings], provider: Provider, record: Record, data: dict[str, Any]
) -> str:
    remote = provider.status(record.key)
    data["remote_status"] = remote.status
    if remote.status in FINAL:
        return finish(ctx, provider, record, remote, data)
    age = ctx.now() - datetime.fromisoformat(data["submitted_at"])
    if age > timedelta(hours=ctx.settings.stuck_after_hours) and not data.get("stuck"):
        data["stuck"] = True
        ctx.log.warning(
            "batch %s is stuck: still %s after %s",
            record.key,
            remote.status,
            format_duration(age.total_seconds()),
        )
    return remote.status
