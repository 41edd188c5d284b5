"""The paper's return-error bounds (§4 and Appendix D) as vectorized functions.

Notation (the paper's): γ discount; K_m, K_π, K_r the Lipschitz constants of the dynamics, the policy and the reward;
ε_m ≥ sup W(p̂(·|s,a), p(·|s,a)) the model error and ε_π ≥ sup W(π(·|s), π_D(·|s)) the policy shift, both
1-Wasserstein; K̄ = K_π K_m; Δ = ε_m + K_m ε_π; k the branched rollout length.

Every function broadcasts over NumPy arrays of its arguments. The paper assumes K̄ ∈ [0, 1) and γ ∈ [0, 1);
`strict=False` relaxes the first to γK̄ < 1, under which the appendix's geometric sums still converge and the
closed forms still hold (K̄ = 1 is then taken as its limit). A violated condition raises TheoryError naming it.

Two places where the printed statements differ from what their proofs give (both are offered; see docs/theory.md):
- Theorem 1's ε_m coefficient is printed γK_rK̄/((1−γ)(1−γK̄)); Lemma 5, which its proof applies, gives
  γK_rK_π/((1−γ)(1−γK̄)). They differ by the factor K_m; `form="lemmas"` uses the proof's.
- Theorem 2's last ε_m term is printed γ^k K_π(1−K̄^k)/((1−K̄)(1−γ)); Lemma 6 gives (1−γK̄) in place of (1−γ).
  The printed one is the larger, so it is still a valid (looser) bound; `form="lemmas"` uses Lemma 6's.
"""

from __future__ import annotations

import numpy as np

FORMS = ("printed", "lemmas")


class TheoryError(ValueError):
    """A condition of the theorems fails, or an argument is out of its domain."""


def _arrays(**named):
    out = {}
    for name, value in named.items():
        a = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise TheoryError(f"{name} must be finite, got {value!r}")
        out[name] = a
    return out


def check_conditions(gamma, k_m, k_pi, *, strict: bool = True) -> np.ndarray:
    """K̄ = K_π K_m after checking γ ∈ [0, 1), K_m, K_π ≥ 0 and K̄ ∈ [0, 1) (strict) or γK̄ < 1."""
    a = _arrays(gamma=gamma, k_m=k_m, k_pi=k_pi)
    if np.any((a["gamma"] < 0) | (a["gamma"] >= 1)):
        raise TheoryError(f"the theorems need γ in [0, 1), got gamma={gamma!r}")
    for name in ("k_m", "k_pi"):
        if np.any(a[name] < 0):
            raise TheoryError(f"{name} is a Lipschitz constant and must be >= 0, got {a[name]!r}")
    k_bar = a["k_m"] * a["k_pi"]
    if strict and np.any(k_bar >= 1):
        raise TheoryError(
            f"the theorems need K̄ = K_π K_m in [0, 1), got K̄ = {np.max(k_bar):.4g}; the learned model and policy "
            "are not a contraction together (pass strict=False / --relaxed to require only γK̄ < 1)"
        )
    if np.any(a["gamma"] * k_bar >= 1):
        raise TheoryError(f"the bounds diverge when γK̄ >= 1, got γK̄ = {np.max(a['gamma'] * k_bar):.4g}")
    return k_bar


def _nonneg(**named) -> dict[str, np.ndarray]:
    a = _arrays(**named)
    for name, v in a.items():
        if np.any(v < 0):
            raise TheoryError(f"{name} must be >= 0, got {v!r}")
    return a


def _geometric(x, n):
    """Σ_{i<n} x^i = (1 − x^n)/(1 − x), with the limit n at x = 1."""
    x, n = np.asarray(x, np.float64), np.asarray(n, np.float64)
    near_one = np.abs(1 - x) < 1e-12
    safe = np.where(near_one, 0.5, x)
    return np.where(near_one, n, (1 - safe**n) / (1 - safe))


def _discounted_geometric(gamma, k_bar, n):
    """Σ_{t<n} γ^t Σ_{i<t} K̄^i: the closed form (1−γ^n)/((1−K̄)(1−γ)) − (1−(γK̄)^n)/((1−γK̄)(1−K̄))."""
    gamma, k_bar, n = (np.asarray(v, np.float64) for v in (gamma, k_bar, n))
    near_one = np.abs(1 - k_bar) < 1e-9
    kb = np.where(near_one, 1 - 1e-6, k_bar)  # K̄ = 1: evaluated just below, where the form is continuous
    value = _geometric(gamma, n) / (1 - kb) - _geometric(gamma * kb, n) / (1 - kb)
    return value


def lemma4_delta(n, k_m, k_pi, eps_m, eps_pi):
    """Lemma 4: δ(n) = W(p₁ⁿ(·|s₀), p₂ⁿ(·|s₀)) ≤ Δ Σ_{i<n} K̄^i = Δ (1 − K̄ⁿ)/(1 − K̄), Δ = ε_m + K_m ε_π."""
    a = _nonneg(n=n, k_m=k_m, k_pi=k_pi, eps_m=eps_m, eps_pi=eps_pi)
    delta = a["eps_m"] + a["k_m"] * a["eps_pi"]
    return delta * _geometric(a["k_m"] * a["k_pi"], a["n"])


def lemma5_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, *, strict: bool = True):
    """Lemma 5: |η₁ − η₂| ≤ K_r (γ K_π (ε_m + K_m ε_π) / ((1−γ)(1−γK̄)) + ε_π / (1−γ))."""
    k_bar = check_conditions(gamma, k_m, k_pi, strict=strict)
    a = _nonneg(gamma=gamma, k_m=k_m, k_pi=k_pi, k_r=k_r, eps_m=eps_m, eps_pi=eps_pi)
    g = a["gamma"]
    delta = a["eps_m"] + a["k_m"] * a["eps_pi"]
    return a["k_r"] * (g * a["k_pi"] * delta / ((1 - g) * (1 - g * k_bar)) + a["eps_pi"] / (1 - g))


def lemma6_bound(gamma, k_m, k_pi, k_r, k, eps_m_pre, eps_pi_pre, eps_m_post, eps_pi_post, *, strict: bool = True):
    """Lemma 6: a k-step branched rollout, errors (ε_m, ε_π) "post" for t < k and "pre" for t ≥ k.

    |η₁ − η₂| ≤ K_r K_π Δ_post [(1−γ^k)/((1−K̄)(1−γ)) − (1−(γK̄)^k)/((1−γK̄)(1−K̄))] + K_r (1−γ^k)/(1−γ) ε_π,post
               + γ^k K_r [K_π Δ_k,post/(1−γK̄) + K_π Δ_pre γ/((1−γ)(1−K̄γ)) + ε_π,pre/(1−γ)],
    with Δ = ε_m + K_m ε_π for each phase and Δ_k,post = Δ_post (1−K̄^k)/(1−K̄) (Lemma 4 at n = k).
    """
    k_bar = check_conditions(gamma, k_m, k_pi, strict=strict)
    a = _nonneg(
        gamma=gamma,
        k_m=k_m,
        k_pi=k_pi,
        k_r=k_r,
        k=k,
        eps_m_pre=eps_m_pre,
        eps_pi_pre=eps_pi_pre,
        eps_m_post=eps_m_post,
        eps_pi_post=eps_pi_post,
    )
    g, kp, kr, kk = a["gamma"], a["k_pi"], a["k_r"], a["k"]
    d_post = a["eps_m_post"] + a["k_m"] * a["eps_pi_post"]
    d_pre = a["eps_m_pre"] + a["k_m"] * a["eps_pi_pre"]
    d_k_post = d_post * _geometric(k_bar, kk)
    head = kr * kp * d_post * _discounted_geometric(g, k_bar, kk) + kr * _geometric(g, kk) * a["eps_pi_post"]
    tail = g**kk * kr * (kp * d_k_post / (1 - g * k_bar) + kp * d_pre * g / ((1 - g) * (1 - k_bar * g)))
    tail = tail + g**kk * kr * a["eps_pi_pre"] / (1 - g)
    return head + tail


def theorem1_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, *, form: str = "printed", strict: bool = True):
    """Theorem 1: |η(π) − η̂(π)| for a full rollout of the learned model.

    printed: 2[γK_rK̄/((1−γ)(1−γK̄)) + K_r/(1−γ)] ε_π + γK_rK̄/((1−γ)(1−γK̄)) ε_m
    lemmas:  the same with γK_rK_π/((1−γ)(1−γK̄)) as the ε_m coefficient (two applications of Lemma 5).
    """
    if form not in FORMS:
        raise TheoryError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    k_bar = check_conditions(gamma, k_m, k_pi, strict=strict)
    a = _nonneg(gamma=gamma, k_m=k_m, k_pi=k_pi, k_r=k_r, eps_m=eps_m, eps_pi=eps_pi)
    g, kr = a["gamma"], a["k_r"]
    c = g * kr / ((1 - g) * (1 - g * k_bar))
    model_coefficient = c * (k_bar if form == "printed" else a["k_pi"])
    return 2 * (c * k_bar + kr / (1 - g)) * a["eps_pi"] + model_coefficient * a["eps_m"]


def theorem2_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, k, *, form: str = "printed", strict: bool = True):
    """Theorem 2: |η(π) − η_branch(π)| for k-step branched rollouts.

    printed: K_r[γ^{k+1}K̄/((1−γ)(1−K̄γ)) + γ^k/(1−γ)] ε_π
             + K_r[K_π(1−γ^k)/((1−K̄)(1−γ)) − K_π(1−(γK̄)^k)/((1−γK̄)(1−K̄)) + γ^k K_π(1−K̄^k)/((1−K̄)(1−γ))] ε_m
    lemmas:  Lemma 6 with ε_π,pre = ε_π and ε_m,post = ε_m (the proof), whose last term has (1−γK̄) for (1−γ).
    """
    if form not in FORMS:
        raise TheoryError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    k_bar = check_conditions(gamma, k_m, k_pi, strict=strict)
    a = _nonneg(gamma=gamma, k_m=k_m, k_pi=k_pi, k_r=k_r, eps_m=eps_m, eps_pi=eps_pi, k=k)
    if np.any(a["k"] < 1) or np.any(a["k"] != np.round(a["k"])):
        raise TheoryError(f"the rollout length k must be a whole number >= 1, got {k!r}")
    if form == "lemmas":
        zero = np.zeros_like(a["eps_m"])
        return lemma6_bound(gamma, k_m, k_pi, k_r, k, zero, eps_pi, eps_m, zero, strict=strict)
    g, kp, kr, kk = a["gamma"], a["k_pi"], a["k_r"], a["k"]
    policy = kr * (g ** (kk + 1) * k_bar / ((1 - g) * (1 - k_bar * g)) + g**kk / (1 - g)) * a["eps_pi"]
    model = kr * kp * (_discounted_geometric(g, k_bar, kk) + g**kk * _geometric(k_bar, kk) / (1 - g)) * a["eps_m"]
    return policy + model


def bound_curve(gamma, k_m, k_pi, k_r, eps_m, eps_pi, k_max: int = 50, *, form: str = "printed", strict=True):
    """(ks, Theorem 2's bound at each k in 1..k_max)."""
    if int(k_max) != k_max or k_max < 1:
        raise TheoryError(f"k_max must be a whole number >= 1, got {k_max!r}")
    ks = np.arange(1, int(k_max) + 1)
    return ks, theorem2_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, ks, form=form, strict=strict)


def optimal_rollout_length(gamma, k_m, k_pi, k_r, eps_m, eps_pi, k_max: int = 50, *, form="printed", strict=True):
    """The k in 1..k_max that minimizes Theorem 2's bound (ties go to the smaller k), and the curve over k."""
    ks, curve = bound_curve(gamma, k_m, k_pi, k_r, eps_m, eps_pi, k_max, form=form, strict=strict)
    best = int(ks[np.argmin(curve)])  # argmin returns the first of equal minima: the smaller k
    return best, ks, curve
