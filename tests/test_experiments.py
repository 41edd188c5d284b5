"""Statistics against known values, and plot/report on a small synthetic results directory."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from memb.config import ConfigError
from memb.experiments.report import report_table, returns_at
from memb.experiments.results import load_curves, reference_numbers
from memb.experiments.stats import iqm, stratified_bootstrap_ci

from conftest import run_cli


def test_iqm_of_fixed_arrays():
    assert iqm([1, 2, 3, 4, 100, 5, 6, 7]) == pytest.approx(4.5)  # middle half of 1..7,100: 3, 4, 5, 6
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)
    assert iqm([[1, 2], [3, 1000]]) == pytest.approx(2.5)  # flattened, as rliable


def test_bootstrap_interval_contains_the_true_value_at_its_rate():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(100):
        sample = rng.normal(10.0, 3.0, size=20)
        low, high = stratified_bootstrap_ci(sample, np.mean, reps=500, seed=trial)
        covered += low <= 10.0 <= high
    assert 85 <= covered <= 99  # a 95% interval: about 95 of 100


def test_one_stratum_matches_scipys_percentile_bootstrap():
    sample = np.random.default_rng(1).gamma(2.0, 2.0, size=30)
    ours = stratified_bootstrap_ci(sample, np.mean, reps=4000, seed=0)
    ref = stats.bootstrap((sample,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    assert ours == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), rel=0.03)


def test_strata_are_resampled_separately():
    # two tasks on very different scales: a pooled resample would mix them; per stratum each keeps its size
    scores = {"a": np.zeros(5), "b": np.full(5, 100.0)}
    assert stratified_bootstrap_ci(scores, np.mean, reps=200) == (50.0, 50.0)


def make_results(root, label, env, seeds, curve, algo="memb"):
    for seed in seeds:
        run = root / env / label / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"algo": algo, "train": {"env": env, "seed": seed}}))
        with open(run / "eval.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "return_mean", "return_std"])
            for step, value in curve(seed):
                w.writerow([step, value, 1.0])


@pytest.fixture
def results(tmp_path):
    make_results(
        tmp_path, "memb", "HalfCheetah-v5", range(5), lambda s: [(k * 50_000, k * 1000 + s) for k in (1, 2, 3, 4)]
    )
    make_results(tmp_path, "other", "HalfCheetah-v5", range(3), lambda s: [(k * 50_000, k * 500.0) for k in (1, 2, 3)])
    make_results(tmp_path, "memb", "Pendulum-v1", range(2), lambda s: [(1000, -1000.0), (2000, -150.0 - s)])
    return tmp_path


def test_returns_at_a_budget_use_the_last_evaluation_before_it(results):
    curves = load_curves([results])
    assert set(curves["label"]) == {"memb", "other"} and len(curves["run"].unique()) == 10
    at = returns_at(curves[(curves["label"] == "memb") & (curves["env"] == "HalfCheetah-v5")], 120_000)
    assert sorted(at["return_mean"]) == [2000, 2001, 2002, 2003, 2004]  # the 100k evaluation
    assert returns_at(curves[curves["label"] == "other"], 200_000).empty  # those runs stopped at 150k


def test_report_table_numbers_and_references(results):
    table = report_table(load_curves([results]), [100_000, 200_000])
    row = next(line for line in table.splitlines() if "| memb | 200000 |" in line)
    assert "| 5 | 4002.0 ± 1.4 | 4002.0 [" in row  # seeds 0..4: 4000..4004
    assert "8000" in row and "MEMB paper" in row and "Tianshou" in row  # the paper's and public SAC's 200k numbers
    assert "| Pendulum-v1 | memb | 2000 | 2 | -150.5 ± 0.5 |" in table  # the final step is always reported


def test_label_by_algo_pools_an_algorithms_runs_from_several_directories(tmp_path, capsys):
    # Figure 1's form: SAC's seeds 0-1 live in one experiment and seed 2 in another; MEMB's in a third
    make_results(tmp_path / "a", "sac-grid", "Hopper-v5", [0, 1], lambda s: [(100_000, 1000.0 + s)], algo="sac")
    make_results(tmp_path / "b", "seed2", "Hopper-v5", [2], lambda s: [(100_000, 1002.0)], algo="sac")
    make_results(tmp_path / "c", "hopper-run", "Hopper-v5", [0], lambda s: [(100_000, 3000.0)])
    by_dir = load_curves([tmp_path])
    assert set(by_dir["label"]) == {"sac-grid", "seed2", "hopper-run"}
    by_algo = load_curves([tmp_path], label_by="algo")
    assert by_algo.groupby("label")["run"].nunique().to_dict() == {"memb": 1, "sac": 3}
    code, out, err = run_cli(["report", str(tmp_path), "--label", "algo", "--steps", "100000"], capsys)
    assert code == 0, err
    assert "| Hopper-v5 | sac | 100000 | 3 | 1001.0 ± 0.8 |" in out
    assert "| Hopper-v5 | mbpo" not in out and "mbpo 3300 (MBPO official" in out  # the reference column
    with pytest.raises(ConfigError, match="label_by must be"):
        load_curves([tmp_path], label_by="env")


def test_reference_numbers_have_sources():
    refs = reference_numbers()
    assert {"env", "algo", "step", "return", "source"} <= set(refs.columns)
    assert refs["source"].str.len().min() > 10
    assert (
        refs[(refs.env == "HalfCheetah-v5") & (refs.step == 200_000) & (refs.algo == "memb")]["return"].item() == 8000
    )


def test_plot_and_report_commands_write_files(results, tmp_path, capsys):
    code, out, err = run_cli(["plot", str(results), "--out", str(tmp_path / "fig.png")], capsys)
    assert code == 0, err
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "fig.svg").stat().st_size > 1000
    code, out, err = run_cli(["report", str(results), "--out", str(tmp_path / "table.md")], capsys)
    assert code == 0 and (tmp_path / "table.md").read_text() == out
    code, _, err = run_cli(["report", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "does not exist" in err


def test_plot_max_step_draws_only_the_evaluations_up_to_it(results, tmp_path, capsys, monkeypatch):
    from memb.experiments import report

    drawn = []
    monkeypatch.setattr(report, "plot_curves", lambda curves, out, value: drawn.append(curves) or [])
    code, _, err = run_cli(["plot", str(results), "--max-step", "1e5", "--out", str(tmp_path / "f.png")], capsys)
    assert code == 0, err
    steps = drawn[0].groupby("env")["step"].unique()
    assert sorted(steps["HalfCheetah-v5"]) == [50_000, 100_000] and sorted(steps["Pendulum-v1"]) == [1000, 2000]
    code, _, err = run_cli(["plot", str(results), "--max-step", "500", "--out", str(tmp_path / "g.png")], capsys)
    assert code == 2 and err.count("\n") == 1 and "no evaluation at or before step 500" in err
