"""Atomic files (everything a run writes appears whole or not at all) and the lock of a directory being written."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would give a new file


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`.

    The temporary name is unique (`mkstemp`), so that two writers of the same path (two processes resuming into one
    experiment directory, say) never rename each other's half-written file; the last rename wins, whole.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _MODE)  # mkstemp makes 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_figure_atomic(fig, out: Path) -> list[Path]:
    """A matplotlib figure as OUT.png and OUT.svg, each rendered in memory and then written atomically."""
    paths = []
    for suffix in (".png", ".svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix[1:])
        path = Path(out).with_suffix(suffix)
        write_bytes_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_csv_atomic(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buf.getvalue().encode())


LOCK_NAME = ".lock"


class DirectoryLocked(RuntimeError):
    """Another process holds the directory's lock; `pid` is what it wrote there (None if unreadable)."""

    def __init__(self, path: Path, pid: int | None):
        super().__init__(f"{path} is locked by process {pid}")
        self.path, self.pid = path, pid


class DirectoryLock:
    """An exclusive advisory lock on a directory (`flock` on DIR/.lock), held while one process writes it.

    `flock` locks belong to an open file, so a second lock of the same directory fails in the same process too, and
    the kernel drops the lock when its holder dies, however it dies: a stale .lock file never blocks. Where `fcntl`
    does not exist (Windows), or the filesystem refuses `flock` (a warning says so), the lock is a no-op.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.file = None
        if fcntl is None:
            return
        f = open(self.path / LOCK_NAME, "a+")  # never truncate: the holder's pid is in it
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            text = f.read().strip()
            f.close()
            raise DirectoryLocked(self.path, int(text) if text.isdigit() else None) from None
        except OSError as e:  # a filesystem without flock (some network or FUSE mounts): run unlocked, and say so
            f.close()
            warnings.warn(f"{self.path}: cannot lock ({e.strerror}); nothing stops a second writer here", stacklevel=2)
            return
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self.file = f

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the file drops the flock
            self.file = None
