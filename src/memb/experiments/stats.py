"""Multi-seed statistics in rliable's conventions: the interquartile mean and stratified-bootstrap intervals.

Hand-written rather than imported: rliable itself pulls in arch, statsmodels and seaborn for what is here a few lines
of NumPy, and scipy's `bootstrap` has no strata. IQM follows rliable exactly (scipy's trim_mean, 25% each side);
the interval is the percentile interval of a bootstrap that resamples runs within each task (stratum).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats


def iqm(scores) -> float:
    """Interquartile mean: the mean of the middle 50% of all scores."""
    return float(stats.trim_mean(np.ravel(np.asarray(scores, float)), 0.25))


def stratified_bootstrap_ci(
    scores: Mapping[str, np.ndarray] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = iqm,
    *,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of `statistic` over runs resampled with replacement within each task.

    `scores`: one array of per-run scores, or a mapping task -> array (each task is a stratum, as in rliable).
    """
    strata = [np.asarray(v, float) for v in (scores.values() if isinstance(scores, Mapping) else [scores])]
    if any(s.size == 0 for s in strata):
        raise ValueError("every task needs at least one run")
    rng = np.random.default_rng(seed)
    values = np.empty(reps)
    for i in range(reps):
        values[i] = statistic(np.concatenate([s[rng.integers(0, s.size, s.size)] for s in strata]))
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
