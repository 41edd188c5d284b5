"""Atomic writes (whole or not at all, also with two writers of one path) and the directory lock."""

import os
import stat
import subprocess
import sys
import threading

import pytest

from memb.training.io import LOCK_NAME, DirectoryLock, DirectoryLocked, write_bytes_atomic, write_csv_atomic


def test_two_writers_of_one_path_never_collide(tmp_path):
    # Two experiment processes resuming into one directory both rewrite index.csv; with one fixed temporary name the
    # first rename took the other's file away and the second raised FileNotFoundError (found in session 16).
    path = tmp_path / "index.csv"
    payloads = [b"a" * 50_000, b"b" * 70_000]
    errors = []

    def writer(data):
        try:
            for _ in range(300):
                write_bytes_atomic(path, data)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_bytes() in payloads  # one writer's bytes, whole
    assert [p.name for p in tmp_path.iterdir()] == ["index.csv"]  # no temporary left behind


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    (tmp_path / "plain.csv").write_text("x\n1\n")  # mkstemp alone would make 0600, unreadable to others
    write_csv_atomic(tmp_path / "a.csv", [{"x": 1}])
    mode = stat.S_IMODE((tmp_path / "a.csv").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode)
    assert (tmp_path / "a.csv").read_text() == "x\n1\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_bytes_atomic(path, b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_directory_lock_is_exclusive_names_its_holder_and_is_released(tmp_path):
    lock = DirectoryLock(tmp_path)
    with pytest.raises(DirectoryLocked) as e:
        DirectoryLock(tmp_path)  # flock belongs to the open file: a second open conflicts in one process too
    assert e.value.pid == os.getpid()
    lock.release()
    DirectoryLock(tmp_path).release()  # free again


def test_a_dead_holder_leaves_no_stale_lock(tmp_path):
    # the kernel drops a flock when its process dies, whatever the .lock file still says
    code = f"import os, sys; from memb.training.io import DirectoryLock; DirectoryLock({str(tmp_path)!r}); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / LOCK_NAME).read_text().strip().isdigit()  # the dead holder's pid is still written there
    DirectoryLock(tmp_path).release()


def test_a_filesystem_without_flock_runs_unlocked_with_a_warning(tmp_path, monkeypatch):
    import errno

    from memb.training import io as memb_io

    def refuse(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(memb_io.fcntl, "flock", refuse)
    with pytest.warns(UserWarning, match="cannot lock"):
        lock = DirectoryLock(tmp_path)
    assert lock.file is None
    lock.release()
