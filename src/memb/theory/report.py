"""What `memb theory` prints: the constants, both bounds, the bound over k and the suggested k; and its plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memb.theory.bounds import TheoryError, check_conditions, optimal_rollout_length, theorem1_bound


@dataclass(frozen=True)
class Constants:
    gamma: float
    k_m: float
    k_pi: float
    k_r: float
    eps_m: float
    eps_pi: float


@dataclass
class Analysis:
    constants: Constants
    k_bar: float
    theorem1: dict[str, float] | None  # form -> bound
    ks: np.ndarray | None
    theorem2: dict[str, np.ndarray] | None  # form -> bound at each k
    best_k: dict[str, int] | None
    problem: str = ""  # why the bounds are not defined, when they are not

    def to_dict(self) -> dict:
        return {
            "constants": self.constants.__dict__,
            "k_bar": self.k_bar,
            "theorem1": self.theorem1,
            "theorem2": None if self.ks is None else {f: v.tolist() for f, v in self.theorem2.items()},
            "ks": None if self.ks is None else self.ks.tolist(),
            "best_k": self.best_k,
            "problem": self.problem,
        }


def analyse(constants: Constants, *, k_max: int = 20, strict: bool = True) -> Analysis:
    """Both bounds in both forms, or the reason they are not defined for these constants."""
    c = constants
    k_bar = c.k_m * c.k_pi
    try:
        check_conditions(c.gamma, c.k_m, c.k_pi, strict=strict)
    except TheoryError as e:
        return Analysis(c, k_bar, None, None, None, None, problem=str(e))
    args = (c.gamma, c.k_m, c.k_pi, c.k_r, c.eps_m, c.eps_pi)
    t1 = {f: float(theorem1_bound(*args, form=f, strict=strict)) for f in ("printed", "lemmas")}
    t2, best = {}, {}
    ks = None
    for form in ("printed", "lemmas"):
        best[form], ks, t2[form] = optimal_rollout_length(*args, k_max, form=form, strict=strict)
    return Analysis(c, k_bar, t1, ks, t2, best)


def format_estimates(e) -> str:
    rows = [
        ("K_m  dynamics model", e.k_m_spectral, e.k_m_empirical),
        ("K_r  reward model", e.k_r_spectral, e.k_r_empirical),
        ("L_π  policy s -> tanh(μ(s))", e.l_pi_spectral, e.l_pi_empirical),
        ("K_π  = √(1 + L_π²)", e.k_pi("spectral"), e.k_pi("empirical")),
    ]
    lines = [f"{'constant':<30}{'spectral bound':>16}{'max Jacobian':>16}"]
    lines += [f"{name:<30}{spec:>16.4g}{emp:>16.4g}" for name, spec, emp in rows]
    lines.append(f"{'ε_m  W(p̂, p) on real data':<30}{'max':>10} {e.eps_m_max:<10.4g}{'mean':>6} {e.eps_m_mean:.4g}")
    lines.append(f"{'ε_π  W(π, π_D), one step':<30}{'max':>10} {e.eps_pi_max:<10.4g}{'mean':>6} {e.eps_pi_mean:.4g}")
    return "\n".join(lines)


def format_analysis(a: Analysis) -> str:
    c = a.constants
    lines = [
        f"constants used: γ = {c.gamma:g}, K_m = {c.k_m:.4g}, K_π = {c.k_pi:.4g}, K_r = {c.k_r:.4g}, "
        f"ε_m = {c.eps_m:.4g}, ε_π = {c.eps_pi:.4g};  K̄ = K_π K_m = {a.k_bar:.4g}, γK̄ = {c.gamma * a.k_bar:.4g}"
    ]
    if a.problem:
        lines.append(f"bounds: not defined: {a.problem}")
        return "\n".join(lines)
    lines.append(
        f"Theorem 1  |η − η̂| ≤ {a.theorem1['printed']:.6g} (as printed), {a.theorem1['lemmas']:.6g} (from Lemma 5)"
    )
    lines.append("Theorem 2  |η − η_branch| ≤  (k: as printed / from Lemma 6)")
    for i, k in enumerate(a.ks):
        mark = "  <- smallest (printed)" if k == a.best_k["printed"] else ""
        mark += "  <- smallest (Lemma 6)" if k == a.best_k["lemmas"] else ""
        lines.append(f"  k = {k:>3}: {a.theorem2['printed'][i]:>14.6g} / {a.theorem2['lemmas'][i]:<14.6g}{mark}")
    lines.append(f"suggested rollout length: k = {a.best_k['printed']} (printed form), {a.best_k['lemmas']} (Lemma 6)")
    if max(a.best_k.values()) == a.ks[-1]:
        lines.append(
            f"  (k = {a.ks[-1]} is the end of the searched range: the bound still falls there; Lemma 6's bound is "
            "monotone in k, with the sign of γK_πε_m − ε_π, so its best k is 1 or the longest rollout)"
        )
    return "\n".join(lines)


def plot_bound(a: Analysis, out: str | Path) -> list[Path]:
    """Theorem 2's bound against k (both forms), Theorem 1's as a horizontal line; PNG and SVG."""
    if a.ks is None:
        raise TheoryError(f"nothing to plot: {a.problem}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from memb.training.io import write_figure_atomic

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=150)
    for form, style in (("printed", "-o"), ("lemmas", "--s")):
        label = f"Theorem 2 ({'as printed' if form == 'printed' else 'Lemma 6'})"
        ax.plot(a.ks, a.theorem2[form], style, ms=3, label=label)
        ax.axvline(a.best_k[form], color="grey", lw=0.6, ls=":")
    ax.axhline(a.theorem1["printed"], color="k", lw=0.8, label="Theorem 1 (full rollout)")
    ax.set_xlabel("rollout length k")
    ax.set_ylabel("bound on |η − η_branch|")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = write_figure_atomic(fig, Path(out))
    plt.close(fig)
    return paths
