"""Bad input to the commands: a one-line error, exit 2, and nothing half-written (a review's list of cases that used to
print a traceback, change a saved run, or be ignored). And a checkpoint directory after a kill at any point."""

import importlib.util
import json
import os

import pytest

from memb.training import checkpoint

import envs_for_tests  # noqa: F401  (registers the test envs)
from conftest import run_cli


def one_line_error(code, err, message):
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err


def saved_config(tmp_path, capsys, *flags, name="run"):
    """A run directory holding only the config.json that `memb train FLAGS` would write."""
    code, out, err = run_cli(["train", "--print-config", *flags], capsys)
    assert code == 0, err
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "config.json").write_text(out)
    return run_dir


def fake_run(tmp_path, rows="step,return_mean,return_std\n1000,-5,1\n", name="r"):
    run_dir = tmp_path / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"algo": "memb", "train": {"env": "Pendulum-v1", "seed": 0}}))
    (run_dir / "eval.csv").write_text(rows)
    return run_dir


def test_an_output_path_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(["train", "--steps", "300", "--no-progress", "--out", str(blocker / "run")], capsys)
    one_line_error(code, err, f"Not a directory: {blocker / 'run'}; check the path")
    code, _, err = run_cli(["report", str(fake_run(tmp_path)), "--out", str(blocker / "t.md")], capsys)
    one_line_error(code, err, f"Not a directory: {blocker}/")


def test_a_flag_of_another_agent_is_refused(capsys):
    code, out, err = run_cli(["train", "--algo", "sac", "--rollout-length", "3", "--print-config"], capsys)
    one_line_error(code, err, "--rollout-length is not a setting of sac but of ")
    assert out == ""


def test_resume_prints_its_config_keeps_it_and_lets_steps_only_grow(tmp_path, capsys):
    run_dir = saved_config(tmp_path, capsys, "--steps", "2000")
    before = (run_dir / "config.json").read_text()
    code, out, err = run_cli(["train", "--resume", str(run_dir), "--steps", "3000", "--print-config"], capsys)
    assert code == 0, err
    assert json.loads(out)["train"]["steps"] == 3000
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--steps", "1000", "--no-progress"], capsys)
    one_line_error(code, err, "on resume --steps may only grow (got 1000)")
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--algo", "sac"], capsys)
    one_line_error(code, err, "--algo and --preset can't be combined with --resume")
    code, _, err = run_cli(["train", "--resume", str(run_dir), "--rollout-length", "3"], capsys)
    one_line_error(code, err, "--rollout-length can't be combined with --resume")
    assert (run_dir / "config.json").read_text() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]


def test_seeds_check_every_directory_before_making_any(tmp_path, capsys):
    taken = tmp_path / "Pendulum-v1-s2"
    taken.mkdir()
    (taken / "x").write_text("")
    code, _, err = run_cli(["train", "--seeds", "0-2", "--steps", "300", "--out", str(tmp_path)], capsys)
    one_line_error(code, err, f"--out {taken} exists and is not empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pendulum-v1-s2"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("grid = 5\n", "grid must be a table"),
        ("envs = 5\n", "envs must be a name, a comma-separated string or a list"),
        ("algos = 5\n", "algos must be a name"),
        ('[grid]\nenv = ["Pendulum-v1", "InvertedPendulum-v5"]\n', "[grid] can't set env"),
        ("[configs.a]\nseed = 3\n", "[configs.a] can't set seed"),
    ],
)
def test_a_badly_typed_experiment_file_is_one_line(text, message, tmp_path, capsys):
    spec = tmp_path / "grid.toml"
    spec.write_text(text)
    code, _, err = run_cli(["experiment", str(spec), "--dry-run", "--out", str(tmp_path / "e")], capsys)
    one_line_error(code, err, message)


def test_a_grid_axis_on_env_from_the_command_line_is_refused(tmp_path, capsys):
    code, _, err = run_cli(
        ["experiment", "--grid", "env=Pendulum-v1,InvertedPendulum-v5", "--dry-run", "--out", str(tmp_path / "e")],
        capsys,
    )
    one_line_error(code, err, "can't set env; give envs, seeds and algos")


def test_an_experiment_checks_its_env_ids_and_ray_before_writing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "e"
    code, _, err = run_cli(["experiment", "--env", "Bogus-v0", "--steps", "300", "--out", str(out)], capsys)
    one_line_error(code, err, "cannot make environment 'Bogus-v0'")
    assert not out.exists()
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    code, _, err = run_cli(["experiment", "--backend", "ray", "--steps", "300", "--out", str(out)], capsys)
    one_line_error(code, err, "--backend ray needs Ray")
    assert not out.exists()


def test_theory_on_a_run_of_another_agent_is_one_line(tmp_path, capsys):
    run_dir = saved_config(tmp_path, capsys, "--algo", "sac")
    (run_dir / "state.msgpack").write_bytes(b"")
    code, _, err = run_cli(["theory", str(run_dir)], capsys)
    one_line_error(code, err, "is a sac run; the estimators need MEMB's learned models")


def test_report_and_evaluate_reject_out_of_range_numbers(tmp_path, capsys):
    run_dir = fake_run(tmp_path)
    code, _, err = run_cli(["report", str(run_dir), "--steps", "inf"], capsys)
    one_line_error(code, err, "--steps expects comma-separated step counts")
    code, _, err = run_cli(["report", str(run_dir), "--steps", "0"], capsys)
    one_line_error(code, err, "--steps expects comma-separated step counts")
    (run_dir / "state.msgpack").write_bytes(b"")
    code, _, err = run_cli(["evaluate", str(run_dir), "--seed", "-1"], capsys)
    one_line_error(code, err, "--seed must be >= 0")


def test_runs_without_evaluations_are_left_out_of_plots(tmp_path, capsys):
    good = fake_run(tmp_path, name="a/good")
    empty = fake_run(tmp_path, rows="\n", name="a/empty")
    code, _, err = run_cli(["plot", str(empty), "--out", str(tmp_path / "only-empty.png")], capsys)
    one_line_error(code, err, "no evaluations yet")
    assert not (tmp_path / "only-empty.png").exists()
    code, out, err = run_cli(["plot", str(good.parent), "--out", str(tmp_path / "c.png")], capsys)
    assert code == 0, err
    assert f"{empty} has no evaluation yet; left out" in err
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "c.svg").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left beside them
    (good / "config.json").write_text(json.dumps({"algo": "memb"}))
    code, _, err = run_cli(["plot", str(good), "--out", str(tmp_path / "d.png")], capsys)
    one_line_error(code, err, "is not a memb run's config")


def _save(run_dir, step, text="x", keep=1):
    return checkpoint.save(run_dir, step, {"part": lambda f: f.write(text.encode())}, keep=keep)


def test_a_kill_at_any_point_of_a_save_leaves_a_checkpoint_to_resume_from(tmp_path):
    root = tmp_path / "checkpoints"
    _save(tmp_path, 100, "a")
    # killed while writing step 200: a half-written hidden directory, which the next save removes
    (root / ".0000000200.tmp").mkdir()
    (root / ".0000000200.tmp" / "part").write_text("half")
    assert checkpoint.latest(tmp_path).name == "0000000100"
    _save(tmp_path, 200, "b")
    assert sorted(os.listdir(root)) == ["0000000200"]
    # killed between the two renames of a same-step replacement: the old copy is put back
    os.replace(root / "0000000200", root / ".0000000200.old")
    found = checkpoint.latest(tmp_path)
    assert found.name == "0000000200" and (found / "part").read_text() == "b"
    # killed after them: the old copy is deleted
    (root / ".0000000200.old").mkdir()
    assert checkpoint.latest(tmp_path).name == "0000000200"
    assert sorted(os.listdir(root)) == ["0000000200"]


def test_a_save_removes_checkpoints_past_its_step(tmp_path):
    """A run resumed from step 100 because step 200's checkpoint was damaged: when it saves step 150 (say, with
    keep=1), the damaged 200 goes, not the good 150."""
    _save(tmp_path, 100, keep=2)
    damaged = _save(tmp_path, 200, keep=2)
    (damaged / "part").write_text("corrupted")
    assert checkpoint.latest(tmp_path).name == "0000000100"
    _save(tmp_path, 150)
    assert [p.name for p in checkpoint.complete_checkpoints(tmp_path)] == ["0000000150"]
