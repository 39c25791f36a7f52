"""Files written atomically and paths that stay inside their root (no symlinks followed)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import CronsoleError
from .faults import fault


class UnsafePath(CronsoleError):
    """A path derived from data would leave its root or pass through a symlink."""


def safe_join(root: Path, relative: str) -> Path:
    """`root / relative`, refusing absolute parts, `..`, and symlinks along the way. Only `/`
    separates: a backslash is a character of a POSIX file name."""
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] == "/" or any(p in ("..", "") for p in parts) or "\x00" in relative:
        raise UnsafePath(f"unsafe relative path {relative!r}")
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise UnsafePath(f"{relative!r} passes through a symlink")
    return path


def atomic_write(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: readers see the
    old file or the new one, never a part. `mode` is the file's whatever the umask."""
    make_dirs(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        fault("after_download_write")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fault("after_rename")


def make_dirs(folder: Path, mode: int = 0o750) -> None:
    """Create `folder` and its missing parents with at most `mode`: never group- or
    world-writable, even under umask 000 (Path.mkdir(parents=True) gives parents 0777 minus
    the umask)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=mode)  # the umask can only take bits away
        except FileExistsError:
            continue  # made meanwhile by another writer


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files a crash left between write and rename."""
    removed = 0
    for path in folder.rglob(".*.part") if folder.is_dir() else ():
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass(frozen=True)
class FoundFile:
    path: Path
    relative: str
    size: int
    mtime: float


def walk_files(root: Path, start: Path | None = None) -> Iterator[FoundFile]:
    """Regular files under `start` (default `root`), never following symlinks."""
    stack = [start or root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # vanished or unreadable: the caller sees the files it could read
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(entry.path))
            elif stat.S_ISREG(info.st_mode):
                path = Path(entry.path)
                yield FoundFile(
                    path, path.relative_to(root).as_posix(), info.st_size, info.st_mtime
                )
