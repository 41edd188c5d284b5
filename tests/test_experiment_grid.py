"""`memb experiment`: the grid's expansion, and running it locally and on Ray (skip, resume, failure isolation)."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from memb.config import ConfigError
from memb.experiments.ablations import ABLATIONS
from memb.experiments.grid import Experiment, expand, parse_seeds
from memb.experiments.launch import classify, core_shares, group_seeds, run_experiment
from memb.training import train

from conftest import TINY_RUN, run_cli

TINY = dict(TINY_RUN, steps=300, checkpoint_every=150)


def test_seed_ranges_and_lists():
    assert parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("0,2,5") == (0, 2, 5)
    assert parse_seeds("1-2,7") == (1, 2, 7)
    assert parse_seeds(3) == (3,)
    assert parse_seeds([0, 1]) == (0, 1)
    for bad in ("4-0", "a", "", "0,0", "-1"):
        with pytest.raises(ConfigError, match="seed"):
            parse_seeds(bad)


def test_grid_expands_to_the_product_of_its_axes_with_labels_and_overrides():
    exp = Experiment.from_values(
        {
            "envs": ["Pendulum-v1", "InvertedPendulum-v5"],
            "seeds": "0-2",
            "batch_size": 64,  # common to every run
            "configs": {"base": {}, "noent": {"alpha": 0.0}},
            "grid": {"rollout_length": [1, 2]},
        }
    )
    runs = expand(exp)
    assert len(runs) == 2 * 3 * 2 * 2
    labels = sorted({r.label for r in runs})
    assert labels == [f"{c}-rollout_length={k}" for c in ("base", "noent") for k in (1, 2)]
    by_name = {r.name: r.config for r in runs}
    c = by_name["noent-rollout_length=2/InvertedPendulum-v5-s1"]
    assert (c.agent.alpha, c.agent.rollout_length, c.agent.batch_size, c.train.seed) == (0.0, 2, 64, 1)
    # the paper's preset applies underneath the overrides: InvertedPendulum's m = 1
    assert c.agent.updates_per_step == 1
    base = by_name["base-rollout_length=1/Pendulum-v1-s0"]
    assert base.agent.alpha == 0.2 and base.agent.model_hidden == (32, 16)


def test_one_configuration_is_labelled_by_its_algo_and_steps_paper_follows_the_env():
    runs = expand(Experiment.from_values({"envs": "Pendulum-v1,HalfCheetah-v5", "steps": "paper"}))
    assert [r.name for r in runs] == ["memb/Pendulum-v1-s0", "memb/HalfCheetah-v5-s0"]
    assert [r.config.train.steps for r in runs] == [50_000, 200_000]


def test_a_bad_value_names_the_run_it_belongs_to():
    with pytest.raises(ConfigError, match=r"memb on Pendulum-v1 \(configuration 'rollout_length=0'\)"):
        expand(Experiment.from_values({"grid": {"rollout_length": [1, 0]}}))
    with pytest.raises(ConfigError, match="unknown config key 'batchsize'"):
        expand(Experiment.from_values({"batchsize": 3}))
    with pytest.raises(ConfigError, match="both seed and seeds"):
        Experiment.from_values({"seed": 1, "seeds": "0-1"})
    with pytest.raises(ConfigError, match="non-empty list"):
        Experiment.from_values({"grid": {"alpha": 0.1}})


def test_an_experiment_built_directly_is_validated_as_one_from_values():
    """Experiment(...) in Python, as the ablations build it, gets the checks of a file's grid; lists become tuples."""
    exp = Experiment(envs=["Pendulum-v1"], seeds=[0, 2], grid={"alpha": [0.1, 0.2]})
    assert (exp.envs, exp.seeds, exp.grid) == (("Pendulum-v1",), (0, 2), {"alpha": (0.1, 0.2)})
    assert Experiment(seeds=range(3)).seeds == Experiment(seeds=tuple(np.arange(3))).seeds == (0, 1, 2)
    assert type(Experiment(seeds=[np.int64(4)]).seeds[0]) is int
    bad = [
        (dict(envs="Pendulum-v1"), "envs must be a non-empty tuple"),  # would have been a grid over its letters
        (dict(seeds=(0, -1)), "seeds must be integers >= 0"),
        (dict(seeds=("0",)), "seeds must be integers >= 0"),
        (dict(seeds=(1, 1)), "repeats a seed"),
        (dict(algos=("memb", "memb")), "algos repeats"),
        (dict(preset="papers"), "preset must be one of"),
        (dict(budget=1.5), r"budget must be in \[0.0, 1.0\]"),
        (dict(budget=0), "budget must be > 0"),
        (
            dict(configs={"..": {}}),
            "configuration name '..' .* not be . or ..",
        ),  # a run directory outside the experiment's
        (dict(configs={"a/b": {}}), "configuration name 'a/b'"),
        (dict(configs={"x": 0.1}), r"\[configs.x\] must be a table"),
        (dict(grid={"alpha": 0.1}), "grid axis alpha must be a non-empty list"),
        (dict(grid=[("alpha", [0.1])]), r"\[grid\] must be a table"),
        (dict(common={"env": "HalfCheetah-v5"}), "the common settings can't set env"),  # silently lost before
        (dict(configs={"x": {"seed": 3}}), r"\[configs.x\] can't set seed"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ConfigError, match=message):
            Experiment(**kwargs)
    with pytest.raises(ConfigError, match=r"the experiment: \[grid\] can't set env"):  # from_values adds where
        Experiment.from_values({"grid": {"env": ["Pendulum-v1"]}})
    with pytest.raises(ConfigError, match="seeds must be >= 0, got -1; pass a range"):
        Experiment.from_values({"seeds": -1})


def test_every_ablation_expands():
    """The ablations build their Experiment directly; each one's names and settings must pass its checks."""
    for name, study in ABLATIONS.items():
        runs = expand(study.experiment((0, 1), 0.5))
        assert len(runs) == 2 * len(study.configs) * len(study.envs), name
        assert all(r.config.train.steps > 0 for r in runs)


def test_core_shares_split_the_cores_evenly():
    assert core_shares(2, [0, 1, 2, 3]) == [[0, 2], [1, 3]]
    assert core_shares(3, [0, 1]) == [[0], [1]]
    assert core_shares(1, [0, 1]) == [[0, 1]]


def test_local_grid_skips_finished_runs_resumes_grown_ones_and_isolates_a_failure(tmp_path):
    exp = Experiment.from_values(
        {**TINY, "envs": ["Pendulum-v1", "envs_for_tests:MembTestNaN-v0"], "seeds": "0-1", "preset": "none"}
    )
    out = tmp_path / "exp"
    states = run_experiment(exp, out, workers=2, progress=False, poll_s=0.2)
    status = {s.run.name: s.status for s in states}
    assert status["memb/Pendulum-v1-s0"] == status["memb/Pendulum-v1-s1"] == "done"
    assert status["memb/envs_for_tests_MembTestNaN-v0-s0"] == "failed"
    index = pd.read_csv(out / "index.csv")
    assert len(index) == 4 and set(index["status"]) == {"done", "failed"}
    failed = index[index["status"] == "failed"]
    assert failed["error"].str.contains("non-finite").all()
    assert "Traceback" in (out / "memb/envs_for_tests_MembTestNaN-v0-s0.log").read_text()  # beside its run dir
    assert (index[index["status"] == "done"]["step"] == 300).all()

    # a run of the grid is exactly `memb train` with the same config
    run = next(r for r in expand(exp) if r.name == "memb/Pendulum-v1-s1")
    train(run.config, tmp_path / "direct", progress=False, tensorboard=False)
    assert (out / run.name / "eval.csv").read_text() == (tmp_path / "direct" / "eval.csv").read_text()

    # again: finished runs are skipped (their files untouched), failed ones are retried
    before = (out / "memb/Pendulum-v1-s0" / "eval.csv").stat().st_mtime_ns
    states = run_experiment(exp, out, workers=2, progress=False, poll_s=0.2)
    status = {s.run.name: s.status for s in states}
    assert status["memb/Pendulum-v1-s0"] == "skipped" and status["memb/envs_for_tests_MembTestNaN-v0-s1"] == "failed"
    assert (out / "memb/Pendulum-v1-s0" / "eval.csv").stat().st_mtime_ns == before

    # a larger budget resumes the finished runs from their checkpoints: the old rows stay, new ones follow
    grown = dataclasses.replace(exp, envs=("Pendulum-v1",), common={**exp.common, "steps": 450})
    old = pd.read_csv(out / "memb/Pendulum-v1-s0" / "eval.csv")
    states = run_experiment(grown, out, workers=2, progress=False, poll_s=0.2)
    assert {s.status for s in states} == {"done"}
    new = pd.read_csv(out / "memb/Pendulum-v1-s0" / "eval.csv")
    assert list(new["step"]) == [150, 300, 450]
    pd.testing.assert_frame_equal(new.iloc[:2], old)
    assert json.loads((out / "experiment.json").read_text())["common"]["steps"] == 450

    # a different config in the same place is refused before anything runs
    other = Experiment.from_values({**TINY, "envs": ["Pendulum-v1"], "seeds": "0", "preset": "none", "alpha": 0.5})
    with pytest.raises(ConfigError, match="another config"):
        run_experiment(other, out, progress=False)


def test_experiment_command_dry_run_and_bad_input(tmp_path, capsys):
    spec = tmp_path / "grid.toml"
    spec.write_text('envs = ["Pendulum-v1"]\nseeds = "0-1"\nsteps = 1000\n[grid]\nrollout_length = [1, 3]\n')
    code, out, err = run_cli(["experiment", str(spec), "--out", str(tmp_path / "e"), "--dry-run"], capsys)
    assert code == 0, err
    assert out.count(": new (1000 steps)") == 4 and "rollout_length=3/Pendulum-v1-s1" in out
    code, out, err = run_cli(["experiment", "--grid", "alpha", "--dry-run"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--grid expects KEY=V1,V2" in err
    code, out, err = run_cli(["experiment", "--seeds", "3-1", "--dry-run"], capsys)
    assert code == 2 and err.count("\n") == 1 and "seeds must be a range" in err
    code, out, err = run_cli(["experiment", "--address", "auto", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "--backend ray" in err and not (tmp_path / "x").exists()


def test_ray_backend_runs_a_tiny_grid(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'memb[ray]')")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"Ray cannot start here: {e}")
    try:
        # one run: each Ray task is a fresh worker process (max_calls=1), whose start dominates the test's time
        exp = Experiment.from_values({**TINY, "steps": 150, "envs": ["Pendulum-v1"], "seeds": "0", "preset": "none"})
        states = run_experiment(exp, tmp_path / "ray", backend="ray", progress=False, poll_s=0.2)
        assert [s.status for s in states] == ["done"]
        index = pd.read_csv(tmp_path / "ray" / "index.csv")
        assert list(index["step"]) == [150]
    finally:
        ray.shutdown()


def test_sigterm_stops_the_grid_without_starting_queued_runs(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "exp"
    flags = [f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()]
    flags = [f for f in flags if not f.startswith("--steps")]
    cmd = [sys.executable, "-m", "memb.cli.main", "experiment", "--env", "Pendulum-v1", "--seeds", "0-3",
           "--steps", "3000", "--workers", "1", "--preset", "none", "--no-progress", "--out", str(out),
           *flags]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "memb/Pendulum-v1-s0/eval.csv").is_file() and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command to continue" in err
    index = pd.read_csv(out / "index.csv")
    assert set(index["status"]) <= {"interrupted", "queued", "done"} and "interrupted" in set(index["status"])
    # queued runs never start, including the one the pool had already handed to its worker (s1)
    assert not any((out / f"memb/Pendulum-v1-s{seed}").exists() for seed in (1, 2, 3))
    assert os.listdir(out / "memb/Pendulum-v1-s0/checkpoints")  # the running one wrote a checkpoint


def test_sigterm_with_two_workers_after_one_has_finished_stops_promptly(tmp_path):
    """A stop that arrives while one worker's run is done and the other's still trains: the coordinator waits for
    the running one's checkpoint and exits (a process pool used to hang here in its shutdown)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "exp"
    grid = tmp_path / "grid.toml"
    grid.write_text('envs = ["Pendulum-v1"]\nseeds = "0"\npreset = "none"\n'
                    "[configs.short]\nsteps = 300\n[configs.long]\nsteps = 30000\n")  # fmt: skip
    flags = [f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()]
    flags = [f for f in flags if not f.startswith("--steps")]
    cmd = [sys.executable, "-m", "memb.cli.main", "experiment", str(grid), "--workers", "2", "--no-progress",
           "--out", str(out), *flags]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        short, long = out / "short/Pendulum-v1-s0", out / "long/Pendulum-v1-s0"
        while not ((short / "summary.json").is_file() and (long / "eval.csv").is_file()) and time.time() < deadline:
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    status = pd.read_csv(out / "index.csv").set_index("label")["status"].to_dict()
    assert status == {"short": "done", "long": "interrupted"}, status


def test_a_run_written_before_new_config_fields_is_still_the_same_run(tmp_path):
    import json

    from memb.experiments.launch import classify

    run = expand(Experiment.from_values({**TINY, "preset": "none"}))[0]
    old = run.config.to_dict()
    del old["agent"]["termination"]  # a field added after the run was written
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({**old, "versions": {"memb": "0.0"}}))
    assert classify(run, tmp_path / "r").resume


def test_a_memb_run_written_before_unroll_rounds_after_resumes_with_its_own_schedule(tmp_path):
    import json

    from memb.experiments.launch import classify

    run = expand(Experiment.from_values({**TINY, "preset": "none"}))[0]
    assert run.config.agent.unroll_rounds_after == 5_000
    old = run.config.to_dict()
    del old["agent"]["unroll_rounds_after"]  # written before the field: its unrolled update ran from the warm-up's end
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({**old, "versions": {"memb": "0.0"}}))
    state = classify(run, tmp_path / "r")
    assert state.resume and state.run.config.agent.unroll_rounds_after == 0
    assert state.run.config.agent == dataclasses.replace(run.config.agent, unroll_rounds_after=0)
    # a run that differs in anything else is another run
    old["agent"]["alpha"] = 0.5
    (tmp_path / "r" / "config.json").write_text(json.dumps({**old, "versions": {"memb": "0.0"}}))
    with pytest.raises(ConfigError, match="holds a run with another config"):
        classify(run, tmp_path / "r")


def test_a_smaller_budget_skips_runs_past_it_and_refuses_runs_short_of_it_before_any_starts(tmp_path):
    import json

    from memb.experiments.launch import classify

    big, small = (expand(Experiment.from_values({**TINY, "preset": "none", "steps": n}))[0] for n in (300, 150))
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({**big.config.to_dict(), "versions": {"memb": "0.0"}}))
    (tmp_path / "r" / "eval.csv").write_text("step,return_mean\n100,-1000.0\n")  # stopped at 100 of 300
    with pytest.raises(ConfigError, match="started for 300 steps and stopped at 100, short of this budget's 150"):
        classify(small, tmp_path / "r")
    (tmp_path / "r" / "eval.csv").write_text("step,return_mean\n100,-1000.0\n200,-900.0\n")
    state = classify(small, tmp_path / "r")
    assert state.status == "skipped" and not state.resume and state.step == 200
    assert classify(big, tmp_path / "r").resume  # the budget it was started for resumes it


def test_find_runs_under_a_folder_named_checkpoints(tmp_path):
    from memb.experiments.results import find_runs

    run = tmp_path / "checkpoints" / "exp" / "memb" / "Pendulum-v1-s0"
    (run / "checkpoints" / "step_100").mkdir(parents=True)
    for d in (run, run / "checkpoints" / "step_100"):  # a checkpoint's copies of the run's files are not a run
        (d / "config.json").write_text("{}")
        (d / "eval.csv").write_text("step,return_mean\n")
    assert find_runs([tmp_path / "checkpoints" / "exp"]) == [run]


def test_vmap_seeds_trains_each_configurations_seeds_in_one_process(tmp_path):
    exp = Experiment.from_values({**TINY, "steps": 150, "envs": ["Pendulum-v1"], "seeds": "0-1", "preset": "none"})
    states = run_experiment(exp, tmp_path / "v", workers=1, progress=False, poll_s=0.2, vmap_seeds=True)
    assert {s.status for s in states} == {"done"}
    assert "trained in one process" in (tmp_path / "v" / "memb" / "Pendulum-v1-s1.log").read_text()
    # seeds group by configuration and env; svg (importance weights, not vmappable) runs one seed per process
    both = Experiment.from_values(
        {**TINY, "envs": ["Pendulum-v1", "InvertedPendulum-v5"], "seeds": "0-2", "algos": ["memb", "svg"]}
    )
    groups = group_seeds([classify(run, tmp_path / "none" / run.name) for run in expand(both)])
    assert sorted(len(g) for g in groups) == [1] * 6 + [3, 3]
    assert all(len({(s.run.label, s.run.config.train.env) for s in g}) == 1 for g in groups)
