"""Checkpoints: the complete training state in a directory that appears whole or not at all.

Layout: RUN_DIR/checkpoints/STEP/ with one file per part and a manifest.json (written last) holding each file's
size and SHA-256. A checkpoint is written into a hidden temporary directory, every file fsynced, then renamed into
place; older checkpoints are deleted only after the new one is complete. On load, a checkpoint whose manifest is
missing or whose files do not match it (truncated, corrupted) is skipped with a warning and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

MANIFEST = "manifest.json"
Writer = Callable[[BinaryIO], None]


class _HashingFile:
    """A write-only file object that hashes what passes through it."""

    def __init__(self, f: BinaryIO):
        self.f, self.sha, self.size = f, hashlib.sha256(), 0

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(run_dir: Path, step: int, parts: dict[str, Writer], *, keep: int = 2) -> Path:
    """Write a checkpoint for `step`; `parts` maps file names to functions that write the file's bytes."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    recover(run_dir)
    for leftover in root.glob(".*.tmp"):  # half-written by a process that was killed (one writer per run: the lock)
        shutil.rmtree(leftover, ignore_errors=True)
    final = root / f"{step:010d}"
    tmp = root / f".{step:010d}.tmp"
    tmp.mkdir()
    manifest = {"step": step, "files": {}}
    for name, write in parts.items():
        with open(tmp / name, "wb") as raw:
            f = _HashingFile(raw)
            write(f)
            raw.flush()
            os.fsync(raw.fileno())
        manifest["files"][name] = {"size": f.size, "sha256": f.sha.hexdigest()}
    with open(tmp / MANIFEST, "w") as f:
        json.dump(manifest, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    if final.exists():  # the same step again (a resumed run that is stopped at once): replace it whole
        old = root / f".{step:010d}.old"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    _fsync_dir(root)
    # checkpoints past this step are from before a resume that went back past them (they were damaged): superseded
    for later in [p for p in complete_checkpoints(run_dir) if int(p.name) > step]:
        shutil.rmtree(later, ignore_errors=True)
    for stale in complete_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def recover(run_dir: Path) -> None:
    """Finish a same-step replacement that a kill interrupted: `.STEP.old` is the previous checkpoint of STEP, put
    back when the new one never arrived, and deleted when it did. Only under the run directory's lock."""
    root = Path(run_dir) / "checkpoints"
    for old in root.glob(".*.old"):
        final = root / old.name[1:-4]
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint directories with a manifest, oldest first (not verified)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit() and (p / MANIFEST).is_file())


def verify(path: Path) -> str | None:
    """None when every file matches the manifest, else what is wrong."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        for name, meta in manifest["files"].items():
            file = path / name
            if not file.is_file():
                return f"{name} is missing"
            if file.stat().st_size != meta["size"]:
                return f"{name} has {file.stat().st_size} bytes, the manifest says {meta['size']}"
            sha = hashlib.sha256()
            with open(file, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    sha.update(chunk)
            if sha.hexdigest() != meta["sha256"]:
                return f"{name} does not match its checksum"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"unreadable manifest ({e})"
    return None


def latest(run_dir: Path) -> Path | None:
    """The newest checkpoint that verifies; damaged newer ones are reported on stderr and skipped. The caller holds
    the run directory's lock (it may finish a replacement that a kill interrupted)."""
    recover(run_dir)
    for path in reversed(complete_checkpoints(run_dir)):
        problem = verify(path)
        if problem is None:
            return path
        print(f"memb: warning: checkpoint {path} is damaged ({problem}); using an older one", file=sys.stderr)
    return None
