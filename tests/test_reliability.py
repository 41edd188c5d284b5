"""Reliability: kill-and-resume gives the same run, damaged checkpoints are skipped, divergence is guarded."""

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memb.training import DivergenceError, ReplayBuffer, RunConfig, TrainConfig, checkpoint, memory, train

import envs_for_tests  # noqa: F401
from conftest import tiny_config

TIMING = {"updates_per_s", "env_steps_per_s", "train_time", "eval_time", *memory.COLUMNS}  # and memory


def cli_args(env: str, steps: int) -> list[str]:
    return [
        "--env", env, "--steps", str(steps), "--epoch-length", "100", "--checkpoint-every", "30",
        "--eval-episodes", "2", "--random-steps", "60", "--model-warmup-steps", "90", "--batch-size", "16",
        "--policy-hidden", "16,16", "--value-hidden", "16,16", "--model-hidden", "16,16", "--updates-per-step", "2",
        "--no-progress", "--no-tensorboard",
    ]  # fmt: skip


def memb(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "memb.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw
    )


def finish(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def metrics_without_timings(run_dir: Path) -> list[dict]:
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def assert_same_run(a: Path, b: Path) -> None:
    assert (a / "eval.csv").read_bytes() == (b / "eval.csv").read_bytes()
    assert metrics_without_timings(a) == metrics_without_timings(b)
    assert (a / "state.msgpack").read_bytes() == (b / "state.msgpack").read_bytes()


def newest_step(run_dir: Path) -> int:
    return max((int(p.name) for p in checkpoint.complete_checkpoints(run_dir)), default=-1)


def wait_for_checkpoint_after(run_dir: Path, step: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 240
    while newest_step(run_dir) <= step and proc.poll() is None:
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("env,steps,kills", [("Pendulum-v1", 400, 2), ("InvertedPendulum-v5", 300, 1)])
def test_sigkill_at_random_moments_then_resume_is_bit_identical(env, steps, kills, tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    ref = memb("train", *cli_args(env, steps), "--out", str(reference))
    rng = np.random.default_rng(abs(hash(env)) % 2**32)
    proc = memb("train", *cli_args(env, steps), "--out", str(killed))
    moments = []
    for _ in range(kills):
        # a random moment after this process has made progress: its first new checkpoint, plus up to 1.5 s
        wait_for_checkpoint_after(killed, newest_step(killed), proc)
        time.sleep(float(rng.uniform(0.0, 1.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        moments.append(newest_step(killed))
        proc = memb("train", "--resume", str(killed), "--no-progress", "--no-tensorboard")
    code, err = finish(proc)
    assert code == 0, err
    assert "resuming" in err
    code, err = finish(ref)
    assert code == 0, err
    assert_same_run(reference, killed)
    assert len(moments) == kills and moments == sorted(moments)  # each kill came after new progress


def test_sigterm_writes_a_resumable_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = memb("train", *cli_args("Pendulum-v1", 300), "--checkpoint-every", "0", "--out", str(run_dir))
    deadline = time.time() + 240
    while not (run_dir / "eval.csv").exists():  # wait until it is training, then stop it
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    t0 = time.time()
    code, err = finish(proc)
    assert time.time() - t0 < 10
    assert code == 128 + signal.SIGTERM and "memb train --resume" in err
    assert len(err.strip().splitlines()) == 1
    [ckpt] = checkpoint.complete_checkpoints(run_dir)
    assert checkpoint.verify(ckpt) is None
    events = json.loads((run_dir / "events.json").read_text())
    assert events[-1]["event"] == "interrupted" and events[-1]["signal"] == "SIGTERM"
    code, err = finish(memb("train", "--resume", str(run_dir), "--no-progress"))
    assert code == 0, err
    assert list(csv.DictReader((run_dir / "eval.csv").open()))[-1]["step"] == "300"


def small_run(**train_overrides) -> RunConfig:
    return RunConfig(
        train=TrainConfig(
            env="Pendulum-v1", steps=200, epoch_length=100, eval_episodes=1, checkpoint_every=50, **train_overrides
        ),
        agent=tiny_config(random_steps=40, model_warmup_steps=60, batch_size=16),
    )


def test_damaged_checkpoint_is_detected_and_the_previous_one_used(tmp_path, capsys):
    run_dir = tmp_path / "run"
    reference = train(small_run(keep_checkpoints=3), run_dir, progress=False, tensorboard=False)
    newest, previous = checkpoint.complete_checkpoints(run_dir)[::-1][:2]
    assert newest.name == "0000000200" and previous.name == "0000000150"
    # truncate a file of the newest checkpoint
    data = (newest / "arrays.npz").read_bytes()
    (newest / "arrays.npz").write_bytes(data[: len(data) // 2])
    assert "arrays.npz has" in checkpoint.verify(newest)
    assert checkpoint.latest(run_dir) == previous
    assert "damaged" in capsys.readouterr().err
    # flip one byte of the previous one's agent state: detected by the checksum, the one before is used
    raw = bytearray((previous / "agent.msgpack").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (previous / "agent.msgpack").write_bytes(bytes(raw))
    assert "checksum" in checkpoint.verify(previous)
    assert checkpoint.latest(run_dir).name == "0000000100"
    # resuming from that older checkpoint replays the rest: the same final state
    before = (run_dir / "state.msgpack").read_bytes()
    resumed = train(small_run(keep_checkpoints=3), run_dir, resume=True, progress=False, tensorboard=False)
    assert (run_dir / "state.msgpack").read_bytes() == before
    assert [r["return_mean"] for r in resumed.eval_rows] == [r["return_mean"] for r in reference.eval_rows]


def test_an_auto_alpha_run_checkpoints_log_alpha_and_resumes_to_the_same_state(tmp_path):
    run = small_run(keep_checkpoints=5)
    run = RunConfig(
        train=run.train,
        agent=tiny_config(
            random_steps=40, model_warmup_steps=60, batch_size=16, auto_alpha=True, alpha=0.5, alpha_lr=1e-2
        ),
    )
    reference = train(run, tmp_path / "a", progress=False, tensorboard=False)
    alphas = [float(r["alpha"]) for r in reference.metric_rows]
    # metrics.csv's alpha is the epoch's mean of the tuned α, not the config's 0.5
    assert alphas[0] != pytest.approx(0.5) and alphas[-1] != pytest.approx(alphas[0])
    assert float(np.exp(reference.state.params["log_alpha"])) != pytest.approx(0.5)
    # the same run resumed from its step-100 checkpoint: the same final state, log α and its Adam state included
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    for newer in checkpoint.complete_checkpoints(tmp_path / "b"):
        if int(newer.name) > 100:
            shutil.rmtree(newer)
    assert checkpoint.latest(tmp_path / "b").name == "0000000100"
    resumed = train(run, tmp_path / "b", resume=True, progress=False, tensorboard=False)
    assert (tmp_path / "b" / "state.msgpack").read_bytes() == (tmp_path / "a" / "state.msgpack").read_bytes()
    assert float(resumed.state.params["log_alpha"]) == float(reference.state.params["log_alpha"])


def test_a_finished_run_continued_with_more_steps_equals_the_longer_run(tmp_path):
    """The short run's buffer was sized to its 100 steps and full; the continued run must append after it (not
    overwrite it from row 0) and so reproduce the 200-step run bit for bit."""
    longer = small_run(keep_checkpoints=5)
    reference = train(longer, tmp_path / "a", progress=False, tensorboard=False)
    shorter = RunConfig(train=dataclasses.replace(longer.train, steps=100), agent=longer.agent)
    train(shorter, tmp_path / "b", progress=False, tensorboard=False)
    continued = train(longer, tmp_path / "b", resume=True, progress=False, tensorboard=False)
    assert [r["return_mean"] for r in continued.eval_rows] == [r["return_mean"] for r in reference.eval_rows]
    assert (tmp_path / "b" / "state.msgpack").read_bytes() == (tmp_path / "a" / "state.msgpack").read_bytes()


def test_a_checkpoint_without_manifest_is_ignored(tmp_path):
    run_dir = tmp_path / "run"
    train(small_run(), run_dir, progress=False, tensorboard=False)
    newest = checkpoint.complete_checkpoints(run_dir)[-1]
    (newest / checkpoint.MANIFEST).unlink()  # as if killed before the manifest was written
    assert newest not in checkpoint.complete_checkpoints(run_dir)


def poison_sample_at(monkeypatch, call: int):
    """A test hook: the `call`-th replay batch gets NaN rewards, so the jitted update produces NaN losses."""
    original = ReplayBuffer.sample
    calls = {"n": 0}

    def sample(self, rng, num_batches, batch_size):
        batch = original(self, rng, num_batches, batch_size)
        calls["n"] += 1
        if calls["n"] == call:
            batch = batch.replace(reward=np.full_like(batch.reward, np.nan))
        return batch

    monkeypatch.setattr(ReplayBuffer, "sample", sample)


def test_divergence_restores_the_last_good_state_and_halves_the_learning_rate(tmp_path, monkeypatch, capsys):
    poison_sample_at(monkeypatch, call=120)  # an update after the warm-up (step ~135)
    run = small_run(on_divergence="restore")
    result = train(run, tmp_path / "run", progress=False, tensorboard=False)
    events = json.loads((tmp_path / "run" / "events.json").read_text())
    [event] = [e for e in events if e["event"] == "divergence"]
    # NaN rewards poison the reward model (model step) and Q (value step); the policy step of the same round goes
    # through the poisoned reward model, so all three diverge together
    assert event["components"] == ["policy", "value", "model"]
    assert np.isnan(event["losses"]["q_loss"])
    assert "halved the learning rate" in capsys.readouterr().err
    hyper = result.state.opt_state
    assert float(hyper["value"].hyperparams["learning_rate"]) == pytest.approx(run.agent.value_lr / 2)
    assert float(hyper["model"].hyperparams["learning_rate"]) == pytest.approx(run.agent.model_lr / 2)
    assert float(hyper["policy"].hyperparams["learning_rate"]) == pytest.approx(run.agent.policy_lr / 2)
    import jax

    assert all(np.isfinite(x).all() for x in jax.tree.leaves(result.state.params))
    for row in csv.DictReader((tmp_path / "run" / "metrics.csv").open()):  # no non-finite result written
        assert all(v == "" or k == "train_return" or np.isfinite(float(v)) for k, v in row.items())
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["divergence_restores"] == 1


def test_divergence_stops_when_configured(tmp_path, monkeypatch):
    poison_sample_at(monkeypatch, call=120)
    with pytest.raises(DivergenceError, match="non-finite .* update at step"):
        train(small_run(on_divergence="stop"), tmp_path / "run", progress=False, tensorboard=False)
    assert checkpoint.latest(tmp_path / "run") is not None  # the last good checkpoint is intact
    assert not (tmp_path / "run" / "summary.json").exists()


def test_env_returning_nan_is_caught_with_a_clear_message(tmp_path, capsys):
    from memb.cli.main import main

    code = main(["train", "--env", "MembTestNaN-v0", "--steps", "50", "--no-progress", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and "non-finite observation or reward at step 7" in err and len(err.strip().splitlines()) == 1


def test_resume_refuses_config_changes(tmp_path, capsys):
    from memb.cli.main import main

    train(small_run(), tmp_path / "run", progress=False, tensorboard=False)
    with pytest.raises(SystemExit) as e:
        main(["train", "--resume", str(tmp_path / "run"), "--alpha", "0.5"])
    assert e.value.code == 2 and "--alpha can't be combined with --resume" in capsys.readouterr().err


def test_an_env_whose_state_cannot_be_captured_loses_only_the_episode_in_progress(tmp_path, capsys):
    import shutil

    run = RunConfig(
        train=TrainConfig(
            env="MembTestCountdown-v0",
            steps=40,
            epoch_length=20,
            eval_episodes=1,
            checkpoint_every=13,
            keep_checkpoints=9,
        ),
        agent=tiny_config(random_steps=10, model_warmup_steps=15, batch_size=4),
    )
    train(run, tmp_path / "run", progress=False, tensorboard=False)
    for newer in checkpoint.complete_checkpoints(tmp_path / "run")[2:]:  # 13, 26 | 39, 40: back to 26, mid-episode
        shutil.rmtree(newer)
    assert checkpoint.latest(tmp_path / "run").name == "0000000026"
    capsys.readouterr()
    result = train(run, tmp_path / "run", resume=True, progress=False, tensorboard=False)
    err = capsys.readouterr().err
    assert "state can't be restored; the episode in progress at step 26 was lost" in err
    assert [r["step"] for r in result.eval_rows] == [20, 40] and len(result.buffer) == 40
