"""Log output of the shells: human lines on a TTY, JSON lines otherwise, a rotating file."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cronsole.core.config import Settings
from cronsole.core.errors import StateFileUnsafe, UsageError
from cronsole.core.text import visible


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).astimezone().strftime("%H:%M:%S")
        run_id = getattr(record, "run_id", None)
        job = getattr(record, "job", None)
        source = f"{job}#{run_id}" if job and run_id else job or "cronsole"
        text = f"{at} {record.levelname:<7} {source}: {visible(record.getMessage())}"
        if record.exc_info:
            text += " | " + visible(self.formatException(record.exc_info))
        return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "job": getattr(record, "job", None),
            "run_id": getattr(record, "run_id", None),
            "message": visible(record.getMessage()),
        }
        if record.exc_info:
            data["exception"] = visible(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


SYSLOG_LEVEL = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class JournalFormatter(HumanFormatter):
    """For systemd's journal: a syslog priority prefix instead of the time and level words
    (the journal records both)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).split(None, 2)[2]
        return f"<{SYSLOG_LEVEL.get(record.levelname, 6)}>{text}"


def stderr_is_journal() -> bool:
    """systemd sets JOURNAL_STREAM to the device:inode of the stream it connected."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


def log_file(settings: Settings) -> Path:
    """The log file, checked before anything is written: `log_dir` must be a folder (or not
    exist yet) and the file no symbolic link (lines and a mode change would land on its
    target)."""
    folder = settings.log_dir
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"log_dir {folder}: not a folder")
    path = folder / "cronsole.log"
    if path.is_symlink():
        raise StateFileUnsafe(
            f"{path}: is a symbolic link; cronsole does not follow links "
            "for the files it keeps (give the real path)"
        )
    return path


def private_file(path: Path) -> None:
    """The log directory 0700 and the file 0600, whatever the umask; never through a link."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


class PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """Rotation keeps 0600 on every new file; a write failure is reported once, not looped."""

    failed = False

    def _open(self):  # type: ignore[no-untyped-def]
        private_file(Path(self.baseFilename))
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            sys.stderr.write(
                f"cronsole: cannot write the log file {self.baseFilename}; continuing without it\n"
            )


def log_thread_errors(hook: threading.ExceptHookArgs) -> None:
    """An exception that escapes a thread is a bug: record it where operators look."""
    logging.getLogger("cronsole.threads").error(
        "uncaught exception in thread %s",
        hook.thread.name if hook.thread else "?",
        exc_info=hook.exc_value or True,
    )


@contextmanager
def configured(settings: Settings, fmt: str, level: str, stderr: bool = True) -> Iterator[Path]:
    """`configure` for one command: its handlers are closed and removed at the end."""
    root = logging.getLogger("cronsole")
    before = list(root.handlers)
    try:
        yield configure(settings, fmt, level, stderr)
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()


def configure(settings: Settings, fmt: str, level: str, stderr: bool = True) -> Path:
    """Attach handlers to the `cronsole` logger; returns the log file path."""
    threading.excepthook = log_thread_errors
    root = logging.getLogger("cronsole")
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    path = log_file(settings)
    file_handler = PrivateRotatingHandler(
        path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups, encoding="utf-8"
    )
    file_handler.setFormatter(JsonFormatter())
    root.addHandler(file_handler)
    if stderr:
        human = fmt == "human" or (fmt == "auto" and sys.stderr.isatty())
        handler = logging.StreamHandler(sys.stderr)
        if fmt == "auto" and stderr_is_journal():
            handler.setFormatter(JournalFormatter())
        else:
            handler.setFormatter(HumanFormatter() if human else JsonFormatter())
        root.addHandler(handler)
    return path
