"""The constants of the bounds, estimated from a trained MEMB run (see docs/theory.md for what each one is).

Coordinates are the agent's: raw observations, actions in [-1, 1]^d. Lipschitz constants are in the L2 norm of
the map's inputs ((s, a) jointly for the models, s for the policy), and Wasserstein distances in the L2 norm.

- K_m, K_r: the dynamics model's and reward model's mean maps (s, a) -> E[s'], E[r̂]. Two estimates: the product of
  the layers' spectral norms (an upper bound: ReLU is 1-Lipschitz; input normalization and Δ-prediction included),
  and the largest spectral norm of the input Jacobian over sampled states (a lower bound on the true constant, and
  usually a far tighter figure).
- L_π: the policy's deterministic map s -> tanh(μ(s)) likewise. K_π = √(1 + L_π²) is the Lipschitz constant of
  s -> (s, π(s)), which is what the appendix's proofs need (the theorems' statements use L_π, see docs/theory.md).
- ε_m: for deterministic tasks p(·|s, a) is a point mass at the real s', so W(p̂(·|s,a), p(·|s,a)) = E_ζ‖f(s,a,ζ) − s'‖,
  estimated with samples of ζ on real transitions the model never trained on (fresh episodes of the current policy);
  its maximum is the theorems' sup, its mean the typical value.
- ε_π: W(π(·|s), π_D(·|s)) between the policy that collected the last env step's data and the policy after that
  step's m updates (the shift the paper ties to m), bounded above by the coupling E_η‖κ(s,η;θ) − κ(s,η;θ_D)‖ with
  shared noise η, on the same states.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from memb.agents.common import Batch
from memb.theory.bounds import TheoryError
from memb.training import make_env, read_run_config
from memb.training.envs import ActionScaler
from memb.training.trainer import build_agent, load_state


def spectral_norm(matrix) -> float:
    return float(np.linalg.norm(np.asarray(matrix, np.float64), 2))


def mlp_spectral_bound(dense_params: list[dict], input_scale: float = 1.0) -> float:
    """An upper bound on an MLP's Lipschitz constant: Π‖W_i‖₂ times the input map's (activations are 1-Lipschitz)."""
    return float(input_scale * np.prod([spectral_norm(p["kernel"]) for p in dense_params]))


def max_jacobian_norm(fn, xs) -> float:
    """max over the rows x of xs of ‖∂fn/∂x‖₂ (largest singular value of the Jacobian)."""
    jac = jax.jit(jax.vmap(jax.jacfwd(fn)))(jnp.asarray(xs, jnp.float32))
    jac = np.asarray(jac, np.float64).reshape(len(xs), -1, np.shape(xs)[-1])
    return float(np.linalg.norm(jac, ord=2, axis=(1, 2)).max())


def mean_head_layers(params: dict, n_hidden: int) -> list[dict]:
    """The Dense layers on the path input -> mean of a GaussianMLP: the trunk and the mean head."""
    return [params["params"][f"Dense_{i}"] for i in range(n_hidden + 1)]


@dataclass
class Estimates:
    gamma: float
    k_m_spectral: float
    k_m_empirical: float
    k_r_spectral: float
    k_r_empirical: float
    l_pi_spectral: float
    l_pi_empirical: float
    eps_m_max: float
    eps_m_mean: float
    eps_pi_max: float
    eps_pi_mean: float
    transitions: int

    def k_pi(self, kind: str = "empirical") -> float:
        """K_π = √(1 + L_π²): the constant of s -> (s, π(s)) the proofs use."""
        return float(np.hypot(1.0, getattr(self, f"l_pi_{kind}")))

    def to_dict(self) -> dict:
        return asdict(self)


def collect(agent, state, env, n: int, key, seed: int = 0) -> Batch:
    """`n` real transitions of the current (stochastic) policy in fresh episodes: data the run never trained on."""
    scaler = ActionScaler(env.action_space)
    obs, _ = env.reset(seed=seed)
    rows = []
    episode = 0
    for _ in range(n):
        action, key = agent.act(state, obs, key)
        next_obs, reward, terminated, truncated, _ = env.step(scaler.to_env(action))
        rows.append((obs, action, reward, next_obs, float(terminated)))
        obs = next_obs
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
    o, a, r, o2, d = (np.asarray(x, np.float32) for x in zip(*rows, strict=True))
    return Batch(obs=o, action=a, reward=r, next_obs=o2, terminated=d)


def estimate(agent, state, transitions: Batch, key, *, gamma: float, samples: int = 16) -> Estimates:
    """Every constant of the bounds for `agent` in `state`, on the real `transitions`."""
    c = agent.config
    params, normalizer = state.params, state.normalizer
    sa = np.concatenate([transitions.obs, transitions.action], axis=-1)
    obs_dim = transitions.obs.shape[-1]

    def model_input(x):
        return normalizer(x) if c.normalize_inputs else x

    def dynamics_mean(x):
        mean, _ = agent.dynamics_net.apply(params["dynamics"], model_input(x))
        return x[:obs_dim] + mean if c.predict_delta else mean

    def reward_mean(x):
        return agent.reward_net.apply(params["reward"], model_input(x))[0][0]

    def policy_mean(s, policy_params):
        return jnp.tanh(agent.policy_net.apply(policy_params, s)[0])

    input_scale = float(np.max(1 / np.sqrt(np.asarray(normalizer.var) + 1e-8))) if c.normalize_inputs else 1.0
    k_m_spectral = mlp_spectral_bound(mean_head_layers(params["dynamics"], len(c.model_hidden)), input_scale)
    if c.predict_delta:
        k_m_spectral += 1.0  # s' = s + g(s, a): the identity adds 1
    k_r_spectral = mlp_spectral_bound(mean_head_layers(params["reward"], len(c.model_hidden)), input_scale)
    l_pi_spectral = mlp_spectral_bound(mean_head_layers(params["policy"], len(c.policy_hidden)))

    # ε_m: E_ζ ‖f(s, a, ζ) − s'‖ per transition
    keys = jax.random.split(key, samples + 1)
    key = keys[0]

    def model_distance(k):
        s_next, _ = agent.dynamics_and_reward(params, normalizer, transitions.obs, transitions.action, k)
        return jnp.linalg.norm(s_next - transitions.next_obs, axis=-1)

    w_m = np.asarray(jax.jit(jax.vmap(model_distance))(keys[1:])).mean(0)

    # ε_π: the policy before and after one env step's updates, coupled through shared noise
    n_batches = agent.batches_per_step(c.model_warmup_steps)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(transitions.obs), size=(n_batches, c.batch_size))
    batches = jax.tree.map(lambda x: jnp.asarray(x[idx]), transitions)
    after, _ = agent.update(state, batches, c.model_warmup_steps)

    def policy_distance(k):
        def sample(policy_params):
            mean, log_std = agent.policy_net.apply(policy_params, transitions.obs)
            return jnp.tanh(mean + jnp.exp(log_std) * jax.random.normal(k, mean.shape))

        return jnp.linalg.norm(sample(params["policy"]) - sample(after.params["policy"]), axis=-1)

    w_pi = np.asarray(jax.jit(jax.vmap(policy_distance))(jax.random.split(key, samples))).mean(0)

    return Estimates(
        gamma=float(gamma),
        k_m_spectral=k_m_spectral,
        k_m_empirical=max_jacobian_norm(dynamics_mean, sa),
        k_r_spectral=k_r_spectral,
        k_r_empirical=max_jacobian_norm(reward_mean, sa),
        l_pi_spectral=l_pi_spectral,
        l_pi_empirical=max_jacobian_norm(lambda s: policy_mean(s, params["policy"]), transitions.obs),
        eps_m_max=float(w_m.max()),
        eps_m_mean=float(w_m.mean()),
        eps_pi_max=float(w_pi.max()),
        eps_pi_mean=float(w_pi.mean()),
        transitions=len(transitions.obs),
    )


def estimate_run(run_dir: str | Path, *, transitions: int = 2000, seed: int = 0) -> Estimates:
    """Estimates for the final state of a `memb train` run directory (its own γ)."""
    run = read_run_config(Path(run_dir))
    if run.algo != "memb":
        raise TheoryError(f"{run_dir} is a {run.algo} run; the estimators need MEMB's learned models (a memb run)")
    env = make_env(run.train.env)
    agent = build_agent(run, env)
    state = load_state(Path(run_dir), agent)
    key_collect, key_estimate = jax.random.split(jax.random.PRNGKey(seed))
    data = collect(agent, state, env, transitions, key_collect, seed=seed + 10_000)
    env.close()
    return estimate(agent, state, data, key_estimate, gamma=run.agent.gamma)
