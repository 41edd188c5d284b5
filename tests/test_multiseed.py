"""Many seeds in one process: seed i of a vmapped run matches a single run with seed i, and it resumes."""

import dataclasses

import jax
import numpy as np
import pytest

from memb.agents import MEMB
from memb.cli.main import main
from memb.experiments import resolve
from memb.training import RunDirError, train
from memb.training.multiseed import train_seeds

from conftest import TINY_RUN


def _max_param_diff(a, b) -> float:
    leaves = jax.tree.leaves(
        jax.tree.map(lambda x, y: float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))), a, b)
    )
    return max(leaves)


def test_each_seed_of_a_vmapped_run_equals_its_single_run(tmp_path):
    # two groups, each its own loop in its own thread; one group (all seeds in one call) is what
    # test_vmap_seeds_trains_each_configurations_seeds_in_one_process runs, one core per worker
    groups = 2
    # the fused update rolled for steps 50-149, then unrolled (m = 2: scans of one step have no rolled phase): each
    # seed switches program at the same step
    tiered = dict(unroll_rounds_after=100, updates_per_step=2)
    run, _ = resolve(dict(TINY_RUN, env="Pendulum-v1", steps=300, **tiered), preset="none")
    agent = MEMB(run.agent, 3, 1)
    assert [p[0] for p in agent.update_programs()] == [0, 50, 150]
    seeds = [0, 3, 5]  # with 2 groups: (0, 3) and (5,)
    outs = [tmp_path / f"m{s}" for s in seeds]
    multi = train_seeds(run, seeds, outs, progress=False, tensorboard=False, groups=groups)
    for i in (1, 2):  # seed 3 (batched with seed 0) and seed 5 (alone in its group with 2 groups)
        single = train(
            dataclasses.replace(run, train=dataclasses.replace(run.train, seed=seeds[i])),
            tmp_path / f"s{seeds[i]}",
            progress=False,
            tensorboard=False,
        )
        # the same random streams; only batched matmuls may round differently
        np.testing.assert_allclose(
            [r["return_mean"] for r in multi[i].eval_rows], [r["return_mean"] for r in single.eval_rows], rtol=1e-4
        )
        assert _max_param_diff(multi[i].state, single.state) < 1e-3
    assert multi[0].eval_rows[-1]["return_mean"] != multi[1].eval_rows[-1]["return_mean"]  # seeds differ


def test_cli_seeds_writes_one_run_directory_per_seed_and_resumes(tmp_path, capsys):
    flags = ["train", "--env", "Pendulum-v1", "--preset", "none", "--no-progress", "--no-tensorboard"]
    tiny = [
        f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY_RUN.items()
    ]
    out = tmp_path / "runs"
    assert main([*flags, *tiny, "--steps", "150", "--seeds", "0-1", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Pendulum-v1-s0", "Pendulum-v1-s1"]
    # grow both runs from their checkpoints at step 150
    assert main(["train", "--resume", str(out), "--seeds", "0-1", "--steps", "300", "--no-progress"]) == 0
    for seed in (0, 1):
        rows = (out / f"Pendulum-v1-s{seed}" / "eval.csv").read_text().splitlines()
        assert [r.split(",")[0] for r in rows[1:]] == ["150", "300"]
    with pytest.raises(SystemExit) as exit_info:
        main([*flags, "--seeds", "0-1", "--seed", "2"])
    assert exit_info.value.code == 2


def test_agents_that_cannot_be_vmapped_are_refused(tmp_path):
    run, _ = resolve({"env": "Pendulum-v1"}, algo="svg", preset="none")  # importance weights: log μ recorded
    with pytest.raises(RunDirError, match="one seed at a time"):
        train_seeds(run, [0, 1], [tmp_path / "a", tmp_path / "b"])
