"""The theory as a tool: the bounds of Theorems 1 and 2 (and Lemmas 4-6), and their constants estimated from a run.

`bounds` is pure NumPy and imports nothing from memb; `estimate` reads a trained run (it uses training/).
"""

from memb.theory.bounds import (
    TheoryError,
    bound_curve,
    check_conditions,
    lemma4_delta,
    lemma5_bound,
    lemma6_bound,
    optimal_rollout_length,
    theorem1_bound,
    theorem2_bound,
)

__all__ = [
    "TheoryError",
    "bound_curve",
    "check_conditions",
    "lemma4_delta",
    "lemma5_bound",
    "lemma6_bound",
    "optimal_rollout_length",
    "theorem1_bound",
    "theorem2_bound",
]
