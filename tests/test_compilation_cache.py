"""The persistent compilation cache the `memb` command turns on (memb.training.compilation_cache)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from memb.training.compilation_cache import cache_settings, machine_tag

SETTINGS = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def test_default_is_a_folder_per_kind_of_machine_under_the_user_cache(tmp_path):
    tag = machine_tag()
    assert re.fullmatch(r"[0-9a-f]{12}", tag), tag
    for unset in ({}, {"MEMB_COMPILATION_CACHE": ""}, {"MEMB_COMPILATION_CACHE": "  "}):
        got = cache_settings({"XDG_CACHE_HOME": str(tmp_path), **unset})
        assert got == {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "memb" / "jax" / tag), **SETTINGS}


def test_memb_variable_moves_it_or_turns_it_off_and_jax_own_setting_stands(tmp_path, monkeypatch):
    assert cache_settings({"MEMB_COMPILATION_CACHE": str(tmp_path)})["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert cache_settings({"MEMB_COMPILATION_CACHE": "~/c"})["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "c")
    assert cache_settings({"MEMB_COMPILATION_CACHE": "rel"})["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "rel")
    for off in ("off", "OFF", "0", "false", "none"):
        assert cache_settings({"MEMB_COMPILATION_CACHE": off}) == {}
    assert cache_settings({"JAX_COMPILATION_CACHE_DIR": "/elsewhere", "MEMB_COMPILATION_CACHE": str(tmp_path)}) == {}


def test_a_memb_command_fills_the_cache_and_a_second_run_loads_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("JAX_") and "CACHE" in k)}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    env.pop("MEMB_COMPILATION_CACHE", None)
    folder = Path(tmp_path) / "memb" / "jax" / machine_tag()
    entries = []
    for out in ("run1", "run2"):
        args = ["train", "--steps", "120", "--epoch-length", "60", "--eval-episodes", "1", "--batch-size", "8"]
        args += ["--policy-hidden", "8,8", "--value-hidden", "8,8", "--model-hidden", "8,4"]
        args += ["--updates-per-step", "1", "--random-steps", "20", "--model-warmup-steps", "40"]
        args += ["--no-progress", "--no-tensorboard", "--out", str(tmp_path / out)]
        code = f"from memb.cli.main import main; raise SystemExit(main({args!r}))"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        entries.append(sorted(p.name for p in folder.iterdir()))
    # the first run wrote the model-only warm-up and the fused per-env-step update, among others ...
    assert any(n.startswith("jit_warmup_fn-") for n in entries[0]), entries[0]
    assert any(n.startswith("jit_update_fn-") for n in entries[0]), entries[0]
    # ... and the second, with the same settings, found every program it needed there: it wrote nothing new
    assert entries[1] == entries[0]
    # and it computed the same run
    first, second = ((tmp_path / r / "eval.csv").read_text() for r in ("run1", "run2"))
    assert first == second and len(first.splitlines()) == 3  # a header and two evaluations
