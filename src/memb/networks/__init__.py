"""Networks and models: plain Flax modules and the distributions built on them.

Nothing here knows about agents or training; agents import from here, never the reverse.
"""

from memb.networks.distributions import (
    bounded_log_std,
    gaussian_log_prob,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)
from memb.networks.mlp import (
    LOG_STD_BOUNDS,
    MLP,
    GaussianMLP,
    QEnsemble,
    TanhGaussianPolicy,
    ValueFunction,
)

__all__ = [
    "LOG_STD_BOUNDS",
    "MLP",
    "GaussianMLP",
    "QEnsemble",
    "TanhGaussianPolicy",
    "ValueFunction",
    "bounded_log_std",
    "gaussian_log_prob",
    "tanh_gaussian_log_prob",
    "tanh_gaussian_sample",
]
