"""The persistent compilation cache the `memb` command turns on (memb.training.compilation_cache)."""

import os
import subprocess
import sys
from pathlib import Path

from memb.training.compilation_cache import MAX_BYTES, cache_settings, machine_tag


def test_default_is_a_folder_per_kind_of_machine_under_the_user_cache(tmp_path):
    settings = cache_settings({"XDG_CACHE_HOME": str(tmp_path)})
    tag = machine_tag()
    assert len(tag) == 12 and int(tag, 16) >= 0
    assert settings == {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "memb" / "jax" / tag),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        "JAX_COMPILATION_CACHE_MAX_SIZE": str(MAX_BYTES),
    }


def test_memb_variable_moves_it_or_turns_it_off_and_jax_own_setting_stands(tmp_path):
    assert cache_settings({"MEMB_COMPILATION_CACHE": str(tmp_path)})["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)
    for off in ("off", "OFF", "0", "false", "none"):
        assert cache_settings({"MEMB_COMPILATION_CACHE": off}) == {}
    assert cache_settings({"JAX_COMPILATION_CACHE_DIR": "/elsewhere", "MEMB_COMPILATION_CACHE": str(tmp_path)}) == {}


def test_a_memb_command_fills_the_cache_in_a_fresh_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("JAX_") and "CACHE" in k)}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    env.pop("MEMB_COMPILATION_CACHE", None)
    args = ["train", "--steps", "120", "--epoch-length", "60", "--eval-episodes", "1", "--batch-size", "8"]
    args += ["--policy-hidden", "8,8", "--value-hidden", "8,8", "--model-hidden", "8,4", "--updates-per-step", "1"]
    args += ["--random-steps", "20", "--model-warmup-steps", "40", "--no-progress", "--no-tensorboard"]
    args += ["--out", str(tmp_path / "run")]
    code = f"from memb.cli.main import main; raise SystemExit(main({args!r}))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = Path(tmp_path) / "memb" / "jax" / machine_tag()
    names = [p.name for p in folder.iterdir()]
    # the model-only warm-up and the fused per-env-step update, at least, are there
    assert any(n.startswith("jit_warmup_fn-") for n in names), names
    assert any(n.startswith("jit_update_fn-") for n in names), names
