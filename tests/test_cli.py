"""The command line: every bad input gets one line, exit 2 and no run directory; a short run writes every file."""

import csv
import ctypes
import json
import math

import pytest

from memb.cli.main import main

import envs_for_tests  # noqa: F401  (registers the test envs)
from conftest import run_cli

FAST = [
    "--steps",
    "300",
    "--epoch-length",
    "150",
    "--eval-episodes",
    "2",
    "--random-steps",
    "100",
    "--model-warmup-steps",
    "150",
    "--batch-size",
    "16",
    "--policy-hidden",
    "16,16",
    "--value-hidden",
    "16,16",
    "--model-hidden",
    "16,16",
    "--updates-per-step",  # not the preset's 5: its unrolled update compiles for 15 s or more
    "2",
    "--no-progress",
]


BAD = {
    "unknown env": (["--env", "NoSuchEnv-v9"], "cannot make environment 'NoSuchEnv-v9'"),
    "discrete actions": (["--env", "CartPole-v1"], "Discrete action space"),
    "unbounded actions": (["--env", "MembTestUnbounded-v0"], "unbounded action space"),
    "zero batch size": (["--batch-size", "0"], "batch_size must be > 0"),
    "negative batch size": (["--batch-size=-5"], "batch_size must be > 0"),
    "zero learning rate": (["--policy-lr", "0"], "policy_lr must be > 0"),
    "negative learning rate": (["--model-lr=-1e-3"], "model_lr must be > 0"),
    "non-number": (["--value-lr", "fast"], "value_lr expects a number"),
    "unknown flag": (["--bach-size", "3"], "unrecognized arguments: --bach-size"),
    "bad layer list": (["--policy-hidden", "256,x"], "policy_hidden expects a comma-separated list"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_leaves_nothing(case, tmp_path, capsys):
    args, message = BAD[case]
    out = tmp_path / "run"
    code, _, err = run_cli(["train", *args, "--out", str(out)], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_unknown_config_key_in_file(tmp_path, capsys):
    conf = tmp_path / "c.toml"
    conf.write_text("[agent]\nbatch_size = 32\nlearning_rate = 1e-3\n")
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--config", str(conf), "--out", str(out)], capsys)
    assert code == 2 and "unknown config key 'learning_rate'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_config_file(tmp_path, capsys):
    code, _, err = run_cli(["train", "--config", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "does not exist" in err


def test_existing_nonempty_out_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(["train", *FAST, "--out", str(out)], capsys)
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_config_file_and_flags_resolve_in_order(tmp_path, capsys):
    conf = tmp_path / "c.toml"
    conf.write_text('env = "InvertedPendulum-v5"\n[agent]\nbatch_size = 32\nalpha = 0.3\n')
    code, out, _ = run_cli(["train", "--config", str(conf), "--alpha", "0.5", "--print-config"], capsys)
    assert code == 0
    resolved = json.loads(out)
    assert resolved["train"]["env"] == "InvertedPendulum-v5"
    assert resolved["agent"]["batch_size"] == 32  # file over preset
    assert resolved["agent"]["alpha"] == 0.5  # flag over file
    assert resolved["agent"]["value_lr"] == 1e-3  # the paper's preset for InvertedPendulum
    assert resolved["agent"]["updates_per_step"] == 1
    code, out, _ = run_cli(["train", "--env", "HalfCheetah-v5", "--steps", "paper", "--print-config"], capsys)
    assert json.loads(out)["train"]["steps"] == 200_000
    code, out, _ = run_cli(["train", "--env", "HalfCheetah-v5", "--preset", "none", "--print-config"], capsys)
    assert json.loads(out)["agent"]["alpha"] == 0.2


def test_help_lists_every_config_field(capsys):
    import dataclasses

    from memb.agents import MEMBConfig
    from memb.training import TrainConfig

    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    for f in dataclasses.fields(TrainConfig) + dataclasses.fields(MEMBConfig):
        assert f"--{f.name.replace('_', '-')}" in out


def test_help_shows_the_chosen_algos_defaults_for_shared_fields(capsys):
    import re

    def batch_default(argv):
        _, out, _ = run_cli(argv, capsys)
        return re.search(r"--batch-size BATCH_SIZE\s+(.*?)\(default: (\d+)\)", out, re.S).group(2)

    assert batch_default(["train", "--help"]) == "100"  # MEMB's (the paper's)
    assert batch_default(["train", "--algo", "sac", "--help"]) == "256"  # SAC's own
    assert batch_default(["train", "--algo=sac", "--help"]) == "256"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short `memb train` run shared by the tests that read a run directory."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *FAST, "--out", str(out)]) == 0
    return out


def test_short_train_writes_every_file_and_evaluate_reads_them(trained_run, capsys):
    out = trained_run
    for name in ("config.json", "eval.csv", "metrics.csv", "state.msgpack", "summary.json"):
        assert (out / name).is_file(), name
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tb").iterdir())
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["steps"] == 300 and config["agent"]["batch_size"] == 16 and "versions" in config
    rows = list(csv.DictReader((out / "eval.csv").open()))
    assert [int(r["step"]) for r in rows] == [150, 300]
    assert {"step", "return_mean", "return_std"} <= set(rows[0])
    metrics = list(csv.DictReader((out / "metrics.csv").open()))
    need = {
        "q_loss",
        "v_loss",
        "dynamics_loss",
        "reward_loss",
        "policy_objective",
        "alpha",
        "model_error_state",
        "model_error_reward",
        "updates_per_s",
        "env_steps_per_s",
    }
    assert need <= set(metrics[-1])
    assert float(metrics[-1]["updates_per_s"]) > 0 and float(metrics[-1]["q_loss"]) >= 0
    rss, anon = float(metrics[-1]["rss_mb"]), float(metrics[-1]["anon_mb"])
    assert 100 < anon < rss  # the anonymous part (JAX, the buffer) of all resident memory, libraries included
    heap = float(metrics[-1]["heap_mb"])
    assert 10 < heap < anon or (math.isnan(heap) and not hasattr(ctypes.CDLL(None), "mallinfo2"))  # glibc >= 2.33
    free = float(metrics[-1]["heap_free_mb"])  # malloc's free chunks (their count, resident or not)
    assert free >= 0 or (math.isnan(free) and math.isnan(heap))
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries

    code, stdout, err = run_cli(["evaluate", str(out), "--episodes", "2"], capsys)
    assert code == 0, err
    assert "over 2 episodes" in stdout


def test_evaluate_rejects_a_directory_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run_cli(["evaluate", str(tmp_path)], capsys)
    assert code == 2 and "no config.json" in err


def test_evaluate_records_a_video(trained_run, tmp_path, capsys):
    pytest.importorskip("pygame", reason="rendering Pendulum-v1 needs pygame (pip install -e '.[video]')")
    out = trained_run
    video = tmp_path / "pendulum.gif"
    code, stdout, err = run_cli(["evaluate", str(out), "--episodes", "1", "--video", str(video)], capsys)
    assert code == 0, err
    assert video.stat().st_size > 1000 and video.read_bytes()[:3] == b"GIF"


def test_top_level_and_evaluate_help(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "train" in out and "evaluate" in out
    code, out, _ = run_cli(["evaluate", "--help"], capsys)
    assert code == 0 and all(flag in out for flag in ("--episodes", "--seed", "--video"))
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0 and all(flag in out for flag in ("--resume", "--overwrite", "--preset", "--config", "--out"))
