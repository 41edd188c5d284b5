"""SAC's losses against hand computations, its switches, and a short learning test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memb.agents import SAC, SACConfig
from memb.networks.distributions import tanh_gaussian_sample

from conftest import random_batch
from learning_runs import LEARNING_RUNS


def _sac(**overrides):
    config = SACConfig(**{"batch_size": 8, "policy_hidden": (8, 8), "value_hidden": (8, 8), **overrides})
    agent = SAC(config, obs_dim=3, act_dim=2)
    return agent, agent.init(jax.random.PRNGKey(0))


def test_critic_target_uses_the_target_twin_min_and_the_entropy(rng):
    agent, state = _sac()
    b = random_batch(rng, 16, 3, 2)
    target = jax.tree.map(lambda x: x + 0.05, state.target)
    key = jax.random.PRNGKey(3)
    _, info = agent.critic_loss({"q": state.params["q"]}, state.params["policy"], target, 0.3, b, key)
    mean, log_std = agent.policy_net.apply(state.params["policy"], b.next_obs)
    a_next, logp = tanh_gaussian_sample(key, mean, log_std)
    q_next = np.min(np.asarray(agent.q_net.apply(target, b.next_obs, a_next)), axis=0)
    y = b.reward + 0.99 * (1 - b.terminated) * (q_next - 0.3 * np.asarray(logp))
    q = np.asarray(agent.q_net.apply(state.params["q"], b.obs, b.action))
    assert float(info["q_loss"]) == pytest.approx(0.5 * np.mean((q[0] - y) ** 2 + (q[1] - y) ** 2), rel=1e-5)


def test_the_first_papers_form_learns_q_from_a_target_v(rng):
    agent, state = _sac(value_network=True, auto_alpha=False)
    assert set(state.params) == {"policy", "q", "v"}
    b = random_batch(rng, 16, 3, 2)
    target_v = jax.tree.map(lambda x: x - 0.02, state.target)
    value = {"q": state.params["q"], "v": state.params["v"]}
    _, info = agent.critic_loss(value, state.params["policy"], target_v, 0.2, b, jax.random.PRNGKey(1))
    y = b.reward + 0.99 * (1 - b.terminated) * np.asarray(agent.v_net.apply(target_v, b.next_obs))  # MEMB's eq. (6)
    q = np.asarray(agent.q_net.apply(state.params["q"], b.obs, b.action))
    assert float(info["q_loss"]) == pytest.approx(0.5 * np.mean((q[0] - y) ** 2 + (q[1] - y) ** 2), rel=1e-5)
    # with a fixed α, the temperature never moves
    new, _ = agent.update(state, jax.tree.map(lambda x: x[None], b), 0)
    assert float(new.log_alpha) == float(state.log_alpha)


def test_alpha_loss_and_its_direction():
    agent, state = _sac()  # target entropy −2
    log_prob = jnp.array([-1.0, -4.0, 0.5])
    # J(α) = −mean(log α · (log π + H̄)) with H̄ = −2: −log 0.5 · mean(−1 − 2, −4 − 2, 0.5 − 2)
    assert float(agent.alpha_loss(jnp.log(0.5), log_prob)) == pytest.approx(-np.log(0.5) * np.mean([-3, -6, -1.5]))
    # entropy −log π above the target −2: a gradient step lowers α; below it, raises α
    assert float(jax.grad(agent.alpha_loss)(0.0, jnp.full(3, 1.0))) > 0
    assert float(jax.grad(agent.alpha_loss)(0.0, jnp.full(3, 3.0))) < 0


def test_update_moves_targets_by_polyak_and_respects_the_random_phase(rng):
    agent, state = _sac(tau=0.1, random_steps=100)
    assert agent.batches_per_step(99) == 0 and agent.batches_per_step(100) == 1
    b = jax.tree.map(lambda x: x[None], random_batch(rng, 8, 3, 2))
    new, info = agent.update(state, b, 100)
    assert np.asarray(info["finite"]).all()
    expected = jax.tree.map(lambda o, t: 0.9 * t + 0.1 * o, new.params["q"], state.target)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), new.target, expected)


def test_an_update_from_a_non_finite_component_is_flagged_for_that_component(rng):
    agent, state = _sac()
    b = jax.tree.map(lambda x: x[None], random_batch(rng, 8, 3, 2))

    def poisoned(tree):  # NaN in the first weight of the first leaf
        leaves, treedef = jax.tree.flatten(tree)
        return jax.tree.unflatten(treedef, [leaves[0].at[(0,) * leaves[0].ndim].set(jnp.nan), *leaves[1:]])

    for component, bad in [
        ("policy", state.replace(params={**state.params, "policy": poisoned(state.params["policy"])})),
        ("value", state.replace(params={**state.params, "q": poisoned(state.params["q"])})),
        ("alpha", state.replace(log_alpha=jnp.asarray(jnp.nan))),
    ]:
        _, info = agent.update(bad, b, agent.config.random_steps)
        flagged = dict(zip(agent.components, np.asarray(info["finite"]), strict=True))
        assert not flagged[component], (component, flagged)


def test_sac_learns_pendulum(tmp_path):
    """4000 steps at the SB3 zoo's Pendulum learning rate (1e-3): from about −1500 untrained to better than −400."""
    run = LEARNING_RUNS["sac"]
    returns = run.returns(tmp_path / "sac")
    assert run.check(returns), (run.rule, returns)


@pytest.mark.parametrize("bound", ["clip", "tanh"])
def test_the_policy_log_std_is_the_head_output_clipped_or_tanh_mapped(bound):
    """SAC clips the log-std head's output to [-20, 2] (its authors' code, SB3); MEMB's tanh mapping is the option."""
    agent, state = _sac(log_std_bound=bound)
    params = jax.tree.map(lambda x: x, state.params["policy"])
    head = params["params"]["Dense_3"]  # the trunk's two layers, the mean head, then the log-std head
    raw = np.array([-30.0, 0.5], np.float32)
    head["kernel"] = jnp.zeros_like(head["kernel"])
    head["bias"] = jnp.asarray(raw)
    _, log_std = agent.policy_net.apply(params, jnp.ones((1, 3)))
    expected = np.clip(raw, -20, 2) if bound == "clip" else -20 + 11 * (np.tanh(raw) + 1)
    np.testing.assert_allclose(np.asarray(log_std)[0], expected, rtol=1e-6)


def test_sac_starts_with_a_wide_policy_and_rejects_an_unknown_bound():
    obs = jnp.ones((64, 3))
    agent, state = _sac(policy_hidden=(256, 256))
    _, log_std = agent.policy_net.apply(state.params["policy"], obs)
    assert abs(float(jnp.median(log_std))) < 2.0  # clip: log-std ≈ the head's output near 0, std ≈ 1
    agent, state = _sac(policy_hidden=(256, 256), log_std_bound="tanh")
    _, log_std = agent.policy_net.apply(state.params["policy"], obs)
    assert float(jnp.median(log_std)) < -4.0  # tanh onto [-20, 2]: an output near 0 is log-std -9
    with pytest.raises(ValueError, match="log_std_bound"):
        SACConfig(log_std_bound="softplus")
