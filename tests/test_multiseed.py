"""Many seeds in one process: seed i of a vmapped run matches a single run with seed i, and it resumes."""

import dataclasses

import jax
import numpy as np
import pytest

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


@pytest.mark.parametrize("algo", ["memb"])  # SAC, TD3 and DDPG share the path (update_function); checked by hand
def test_each_seed_of_a_vmapped_run_equals_its_single_run(tmp_path, algo):
    over = dict(TINY_RUN, env="Pendulum-v1", steps=300)
    if algo != "memb":
        over = {k: v for k, v in over.items() if k not in ("model_warmup_steps", "model_hidden")}
    run, _ = resolve(over, algo=algo, preset="none")
    multi = train_seeds(run, [0, 3], [tmp_path / "m0", tmp_path / "m3"], progress=False, tensorboard=False)
    single = train(
        dataclasses.replace(run, train=dataclasses.replace(run.train, seed=3)),
        tmp_path / "s3",
        progress=False,
        tensorboard=False,
    )
    # the same random streams; only batched matmuls may round differently
    np.testing.assert_allclose(
        [r["return_mean"] for r in multi[1].eval_rows], [r["return_mean"] for r in single.eval_rows], rtol=1e-4
    )
    assert _max_param_diff(multi[1].state, single.state) < 1e-3
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
