"""Reading run directories back, and the reference numbers to put beside them.

A run directory is anything `memb train` wrote: config.json + eval.csv. Runs are grouped by env and by a label:
the name of the directory that holds the run directories (`results/pendulum/seed0` -> "pendulum"), so that one
directory per configuration gives one curve per configuration.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import pandas as pd

from memb.config import ConfigError


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every run directory at or below `paths` (a directory with config.json and eval.csv)."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise ConfigError(f"{path} does not exist; pass run directories or directories that hold them")
        candidates = [path] if (path / "config.json").is_file() else sorted(p.parent for p in path.rglob("config.json"))
        # a run's own checkpoints hold copies of its files; a folder named so above `path` is the user's own
        runs += [p for p in candidates if (p / "eval.csv").is_file() and "checkpoints" not in p.relative_to(path).parts]
    if not runs:
        raise ConfigError(f"no run directories (config.json with eval.csv) under {', '.join(map(str, paths))}")
    return runs


def load_curves(paths: list[str | Path], metric: str = "return_mean", *, label_by: str = "dir") -> pd.DataFrame:
    """One row per evaluation: env, algo, label, seed, run, step, and `metric` (return_mean and return_std by
    default; any other column of eval.csv or metrics.csv, such as model_w1_state, when named).

    `label_by`: "dir" labels a run by the directory that holds it (one curve per configuration); "algo" by the
    agent in its config.json (one curve per algorithm, wherever its runs live: the form of the paper's Figure 1)."""
    if label_by not in ("dir", "algo"):
        raise ConfigError(f"label_by must be 'dir' or 'algo', got {label_by!r}")
    frames, empty = [], []
    for run in find_runs(paths):
        try:
            config = json.loads((run / "config.json").read_text())
            env, seed = config["train"]["env"], config["train"]["seed"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{run}/config.json is not a memb run's config; pass directories memb wrote") from None
        try:
            df = pd.read_csv(run / "eval.csv")
        except pd.errors.EmptyDataError:  # a run stopped before its first evaluation
            df = pd.DataFrame()
        if df.empty:
            empty.append(run)
            continue
        if metric not in df.columns:
            metrics = pd.read_csv(run / "metrics.csv") if (run / "metrics.csv").is_file() else pd.DataFrame()
            if metric not in metrics.columns:
                known = sorted({*df.columns, *metrics.columns} - {"step"})
                raise ConfigError(f"{run} has no column {metric!r}; columns: {', '.join(known)}")
            df = metrics[["step", metric]]
        df = df.assign(
            env=env,
            algo=config.get("algo", "memb"),
            seed=seed,
            label=run.parent.name if label_by == "dir" and run.parent.name else config.get("algo", "memb"),
            run=str(run),
        )
        columns = ["return_mean", "return_std"] if metric == "return_mean" else [metric]
        frames.append(df[["env", "algo", "label", "seed", "run", "step", *columns]])
    if not frames:
        raise ConfigError(f"no evaluations yet in {', '.join(map(str, empty))}; plot them after their first epoch")
    for run in empty:
        print(f"memb: note: {run} has no evaluation yet; left out", file=sys.stderr)
    return pd.concat(frames, ignore_index=True)


def reference_numbers() -> pd.DataFrame:
    """The paper's reported numbers and public SAC numbers (env, algo, step, return, source)."""
    folder = resources.files("memb.experiments") / "reference"
    names = ("paper_memb.csv", "public_sac.csv", "public_mbpo.csv")
    return pd.concat([pd.read_csv(folder / name) for name in names], ignore_index=True)
