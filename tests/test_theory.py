"""The bounds of Theorems 1 and 2 against hand computations and Monte Carlo, and the Lipschitz estimators."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from memb.theory import (
    TheoryError,
    lemma4_delta,
    lemma5_bound,
    lemma6_bound,
    optimal_rollout_length,
    theorem1_bound,
    theorem2_bound,
)
from memb.theory.estimate import max_jacobian_norm, mlp_spectral_bound

from conftest import run_cli

ARGS = dict(gamma=0.9, k_m=0.5, k_pi=0.8, k_r=2.0, eps_m=0.1, eps_pi=0.05)  # K̄ = 0.4


def test_bounds_against_hand_computations():
    # c = γK_r/((1−γ)(1−γK̄)) = 1.8/(0.1·0.64) = 28.125
    # Theorem 1 printed: 2(c K̄ + K_r/(1−γ)) ε_π + c K̄ ε_m = 2(11.25 + 20)·0.05 + 11.25·0.1 = 3.125 + 1.125
    assert theorem1_bound(**ARGS) == pytest.approx(4.25)
    # from Lemma 5: the ε_m coefficient is c K_π = 22.5
    assert theorem1_bound(**ARGS, form="lemmas") == pytest.approx(3.125 + 2.25)
    # Theorem 2, k = 1: K_r[γ²K̄/((1−γ)(1−K̄γ)) + γ/(1−γ)] ε_π = 2(5.0625 + 9)·0.05 = 1.40625;
    # K_rK_π[(1−γ)/((1−K̄)(1−γ)) − (1−γK̄)/((1−γK̄)(1−K̄)) + γ(1−K̄)/((1−K̄)(1−γ))] ε_m = 1.6·9·0.1 = 1.44
    assert theorem2_bound(**ARGS, k=1) == pytest.approx(1.40625 + 1.44)
    # Lemma 6 at k = 1, ε_m after the branch only: γ K_r K_π ε_m/(1−γK̄) = 0.9·1.6·0.1/0.64 = 0.225
    assert theorem2_bound(**ARGS, k=1, form="lemmas") == pytest.approx(1.40625 + 0.225)
    # Lemma 4: Δ = ε_m + K_m ε_π = 0.125, Σ_{i<3} 0.4^i = 1.56
    assert lemma4_delta(3, 0.5, 0.8, 0.1, 0.05) == pytest.approx(0.195)
    # Lemma 5: K_r(γK_πΔ/((1−γ)(1−γK̄)) + ε_π/(1−γ)) = 2(0.9·0.8·0.125/0.064 + 0.5) = 2(1.40625 + 0.5)
    assert lemma5_bound(**ARGS) == pytest.approx(3.8125)
    # Lemma 6 with ε only before the branch, at k = 0, is Lemma 5's policy part of a full rollout
    assert lemma6_bound(0.9, 0.5, 0.8, 2.0, 0, 0.0, 0.05, 0.0, 0.0) == pytest.approx(
        lemma5_bound(0.9, 0.5, 0.8, 2.0, 0.0, 0.05)
    )


def test_bounds_vanish_without_errors_and_grow_with_each():
    zero = dict(ARGS, eps_m=0.0, eps_pi=0.0)
    for form in ("printed", "lemmas"):
        assert theorem1_bound(**zero, form=form) == 0.0
        assert np.all(theorem2_bound(**zero, k=np.arange(1, 10), form=form) == 0.0)
        for eps in ("eps_m", "eps_pi"):
            values = np.linspace(0, 1, 6)
            t1 = theorem1_bound(**{**ARGS, eps: values}, form=form)
            t2 = theorem2_bound(**{**ARGS, eps: values}, k=3, form=form)
            assert np.all(np.diff(t1) > 0) and np.all(np.diff(t2) > 0)


def test_theorem2_at_large_k_takes_theorem1s_shape():
    # ε_π's term decays as γ^k; ε_m's tends to γK_rK_π ε_m/((1−γ)(1−γK̄)), the model term of Theorem 1 (Lemma 5)
    only_model = dict(ARGS, eps_pi=0.0)
    for form in ("printed", "lemmas"):
        assert theorem2_bound(**only_model, k=2000, form=form) == pytest.approx(
            theorem1_bound(**only_model, form="lemmas"), rel=1e-9
        )
        assert theorem2_bound(**dict(ARGS, eps_m=0.0), k=2000, form=form) == pytest.approx(0.0, abs=1e-12)


def test_the_printed_theorem2_is_never_below_lemma6():
    ks = np.arange(1, 40)
    for k_m, k_pi in ((0.5, 0.8), (0.9, 1.0), (0.1, 0.3)):
        args = dict(ARGS, k_m=k_m, k_pi=k_pi)
        assert np.all(theorem2_bound(**args, k=ks) >= theorem2_bound(**args, k=ks, form="lemmas") - 1e-12)


def test_arguments_broadcast_like_a_loop():
    gammas = np.array([0.5, 0.9, 0.99])
    k_ms = np.array([[0.1], [0.5]])
    grid = theorem1_bound(gammas, k_ms, 0.8, 2.0, 0.1, 0.05)
    assert grid.shape == (2, 3)
    for i, k_m in enumerate(k_ms[:, 0]):
        for j, g in enumerate(gammas):
            assert grid[i, j] == pytest.approx(float(theorem1_bound(g, k_m, 0.8, 2.0, 0.1, 0.05)))


def test_the_conditions_are_enforced():
    with pytest.raises(TheoryError, match=r"K̄ = K_π K_m in \[0, 1\)"):
        theorem1_bound(**dict(ARGS, k_m=2.0))
    with pytest.raises(TheoryError, match=r"γ in \[0, 1\)"):
        theorem2_bound(**dict(ARGS, gamma=1.0), k=1)
    with pytest.raises(TheoryError, match="must be >= 0"):
        theorem1_bound(**dict(ARGS, eps_m=-0.1))
    with pytest.raises(TheoryError, match="whole number"):
        theorem2_bound(**ARGS, k=0)
    with pytest.raises(TheoryError, match="γK̄ >= 1"):
        theorem1_bound(**dict(ARGS, k_m=2.5), strict=False)  # K̄ = 2, γK̄ = 1.8
    relaxed = theorem1_bound(**dict(ARGS, k_m=1.25), strict=False)  # K̄ = 1, γK̄ = 0.9: the sums still converge
    assert np.isfinite(relaxed) and relaxed > theorem1_bound(**ARGS)


def test_optimal_rollout_length_sits_at_an_end_of_the_range():
    # only policy shift: longer rollouts only help; only model error: k = 1
    assert optimal_rollout_length(**dict(ARGS, eps_m=0.0), k_max=30, form="lemmas")[0] == 30
    assert optimal_rollout_length(**dict(ARGS, eps_pi=0.0), k_max=30, form="lemmas")[0] == 1
    # ties go to the smaller k
    assert optimal_rollout_length(**dict(ARGS, eps_m=0.0, eps_pi=0.0), k_max=10)[0] == 1


def test_bound_increments_over_k_have_a_closed_form():
    # Lemma 6 form: B(k+1) − B(k) = K_r γ^k (γ K_π ε_m − ε_π)/(1 − γK̄), one sign for every k: the bound is monotone
    # in k, so its minimum is k = 1 (when γK_πε_m > ε_π) or the longest rollout, never inside (docs/theory.md).
    # Printed form: B(k+1) − B(k) = K_r γ^k (K_π ε_m γ K̄^k/(1−γ) − ε_π/(1−γK̄)): it rises, then falls (a maximum).
    g, k_m, k_pi, k_r = 0.95, 0.6, 0.9, 1.5
    kb = k_m * k_pi
    ks = np.arange(1, 40)
    for eps_m, eps_pi in ((0.1, 0.02), (0.02, 0.1), (0.05, 0.05)):
        args = (g, k_m, k_pi, k_r, eps_m, eps_pi)
        lemmas = np.diff(theorem2_bound(*args, np.arange(1, 41), form="lemmas"))
        assert lemmas == pytest.approx(k_r * g**ks * (g * k_pi * eps_m - eps_pi) / (1 - g * kb), rel=1e-7, abs=1e-12)
        printed = np.diff(theorem2_bound(*args, np.arange(1, 41)))
        expected = k_r * g**ks * (k_pi * eps_m * g * kb**ks / (1 - g) - eps_pi / (1 - g * kb))
        assert printed == pytest.approx(expected, rel=1e-7, abs=1e-12)
        best = optimal_rollout_length(*args, 40, form="lemmas")[0]
        assert best == (1 if g * k_pi * eps_m > eps_pi else 40)


# --------------------------------------------------------------------------------- Monte Carlo on linear systems


def _discounted_return(A, B, c, kr_s, kr_a, model_bias, policy_bias, gamma, k, process, n=2000, horizon=400):
    """Mean return of s' = A s + B a (+ bias) + w, a = c s (+ bias) + v, r = kr_s s + kr_a a, from s₀ ~ N(0, 1).

    process: "true" (π on p), "model" (π on p̂ throughout: η̂), "branch" (π on p̂ for t < k, then π_D on p: the
    branched process of Theorem 2's proof). Common random numbers make the differences exact for linear systems.
    """
    rng = np.random.default_rng(0)
    s = rng.normal(size=n)
    total = np.zeros(n)
    for t in range(horizon):
        v, w = 0.3 * rng.normal(size=n), 0.3 * rng.normal(size=n)
        p_bias, m_bias = {
            "true": (0.0, 0.0),
            "model": (0.0, model_bias),
            "branch": (0.0, model_bias) if t < k else (policy_bias, 0.0),
        }[process]
        a = c * s + p_bias + v
        total += gamma**t * (kr_s * s + kr_a * a)
        s = A * s + B * a + m_bias + w
    return total.mean()


@pytest.mark.parametrize(
    "system",
    [
        # no state feed-through (s' depends on a, r on a): the statements' K_π = L_π is enough
        dict(A=0.0, B=0.8, c=0.9, kr_s=0.0, kr_a=1.0, joint=False),
        # s' and r depend on s too: K_π must be the constant of s -> (s, π(s)), √(1 + L_π²)
        dict(A=0.9, B=0.1, c=0.1, kr_s=1.0, kr_a=0.0, joint=True),
        dict(A=0.5, B=0.4, c=0.8, kr_s=0.6, kr_a=0.8, joint=True),
    ],
)
def test_the_bounds_hold_on_linear_gaussian_systems(system):
    A, B, c, kr_s, kr_a = (system[k] for k in ("A", "B", "c", "kr_s", "kr_a"))
    gamma, eps_m, eps_pi = 0.9, 0.1, 0.05  # W between Gaussians that differ by a shift is the shift
    k_m, l_pi, k_r = np.hypot(A, B), abs(c), np.hypot(kr_s, kr_a)
    k_pi = np.hypot(1.0, l_pi) if system["joint"] else l_pi
    eta = _discounted_return(A, B, c, kr_s, kr_a, eps_m, eps_pi, gamma, 0, "true")
    eta_hat = _discounted_return(A, B, c, kr_s, kr_a, eps_m, eps_pi, gamma, 0, "model")
    tol = 1e-9
    for form in ("printed", "lemmas"):
        assert abs(eta - eta_hat) <= theorem1_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, form=form) + tol
    for k in (1, 2, 5, 10):
        eta_branch = _discounted_return(A, B, c, kr_s, kr_a, eps_m, eps_pi, gamma, k, "branch")
        for form in ("printed", "lemmas"):
            bound = theorem2_bound(gamma, k_m, k_pi, k_r, eps_m, eps_pi, k, form=form)
            assert abs(eta - eta_branch) <= bound + tol, (k, form)


def test_the_statements_reading_of_k_pi_fails_with_state_feed_through():
    # the counterexample behind the joint reading (docs/theory.md): with K_π = L_π the bound is exceeded
    A, B, c = 0.9, 0.1, 0.1
    eta = _discounted_return(A, B, c, 1.0, 0.0, 0.1, 0.05, 0.9, 0, "true")
    eta_hat = _discounted_return(A, B, c, 1.0, 0.0, 0.1, 0.05, 0.9, 0, "model")
    assert abs(eta - eta_hat) > 4 * theorem1_bound(0.9, np.hypot(A, B), c, 1.0, 0.1, 0.05, form="lemmas")


# --------------------------------------------------------------------------------- estimators


class _MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        for width in (32, 32):
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(3)(x)


def test_the_spectral_bound_is_above_the_largest_jacobian_norm():
    net = _MLP()
    for seed in range(5):
        params = net.init(jax.random.PRNGKey(seed), np.zeros(4, np.float32))
        layers = [params["params"][f"Dense_{i}"] for i in range(3)]
        xs = np.random.default_rng(seed).normal(size=(256, 4)).astype(np.float32)
        empirical = max_jacobian_norm(lambda x, p=params: net.apply(p, x), xs)
        assert 0 < empirical <= mlp_spectral_bound(layers) + 1e-5


def test_a_linear_maps_two_estimates_agree():
    kernel = np.array([[2.0, 0.0], [0.0, 0.5], [1.0, 1.0]], np.float32)
    xs = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    spectral = mlp_spectral_bound([{"kernel": kernel}])
    assert spectral == pytest.approx(np.linalg.svd(kernel, compute_uv=False)[0])
    assert max_jacobian_norm(lambda x: x @ kernel, xs) == pytest.approx(spectral, rel=1e-5)


def test_theory_command_with_constants_and_bad_input(tmp_path, capsys):
    code, out, err = run_cli(
        ["theory", "--gamma", "0.9", "--km", "0.5", "--kpi", "0.8", "--kr", "2", "--eps-m", "0.1", "--eps-pi", "0.05",
         "--k-max", "5", "--plot", str(tmp_path / "b.png"), "--json", str(tmp_path / "b.json")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "Theorem 1  |η − η̂| ≤ 4.25 (as printed), 5.375" in out and "k =   1:        2.84625" in out
    assert (tmp_path / "b.png").is_file() and (tmp_path / "b.svg").is_file() and (tmp_path / "b.json").is_file()
    code, out, err = run_cli(["theory", "--gamma", "0.9", "--km", "2", "--kpi", "0.8", "--kr", "1",
                              "--eps-m", "0.1", "--eps-pi", "0.1"], capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "K̄ = K_π K_m in [0, 1)" in err
    code, out, err = run_cli(["theory", "--gamma", "0.9"], capsys)
    assert code == 2 and "missing --km" in err


def test_theory_command_estimates_a_trained_run(tmp_path, capsys):
    from memb.experiments import resolve
    from memb.training import train

    run, _ = resolve(
        dict(steps=300, epoch_length=300, eval_episodes=1, random_steps=100, model_warmup_steps=50, batch_size=16,
             policy_hidden=(16, 16), value_hidden=(16, 16), model_hidden=(16, 16), updates_per_step=1),
        preset="none",
    )  # fmt: skip
    train(run, tmp_path / "run", progress=False, tensorboard=False)
    code, out, err = run_cli(
        ["theory", str(tmp_path / "run"), "--transitions", "200", "--json", str(tmp_path / "t.json")], capsys
    )
    assert code == 0, err
    import json

    record = json.loads((tmp_path / "t.json").read_text())
    e = record["estimates"]
    assert e["transitions"] == 200 and e["gamma"] == 0.99
    for name in ("k_m", "k_r", "l_pi"):
        assert 0 < e[f"{name}_empirical"] <= e[f"{name}_spectral"] * (1 + 1e-5)
    assert 0 <= e["eps_m_mean"] <= e["eps_m_max"] and 0 <= e["eps_pi_mean"] <= e["eps_pi_max"]
    assert record["constants"]["k_pi"] == pytest.approx(np.hypot(1, e["l_pi_empirical"]))
    # a learned pendulum model and policy are no contraction: the output says why the bounds are not defined
    assert ("bounds: not defined" in out) == (record["k_bar"] >= 1)
