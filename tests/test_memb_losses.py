"""MEMB's equations against hand computations, finite differences and structural checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memb.agents import MEMB
from memb.networks.distributions import tanh_gaussian_sample

from conftest import random_batch, tiny_config


def as_f64(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def hand_objective(agent, params, normalizer, s0, not_done, key, k):
    """Eq. (8) unrolled by hand with the networks' own apply functions."""
    c = agent.config
    s, total, discount = s0, 0.0, 1.0
    for j in range(k):
        key, k_pi, k_model = jax.random.split(key, 3)
        mean, log_std = agent.policy_net.apply(params["policy"], s)
        a, logp = tanh_gaussian_sample(k_pi, mean, log_std)
        x = jnp.concatenate([s, a], -1)
        k_f, k_r = jax.random.split(k_model)
        d_mean, d_ls = agent.dynamics_net.apply(params["dynamics"], x)
        r_mean, r_ls = agent.reward_net.apply(params["reward"], x)
        s_next = d_mean + jnp.exp(d_ls) * jax.random.normal(k_f, d_mean.shape)
        r = (r_mean + jnp.exp(r_ls) * jax.random.normal(k_r, r_mean.shape))[:, 0]
        total = total + discount * (r - c.alpha * logp)
        discount = discount * c.gamma * (not_done if j == 0 else 1.0)
        s = s_next
    return jnp.mean(total + discount * agent.v_net.apply(params["v"], s))


@pytest.mark.parametrize("k", [1, 2])
def test_policy_objective_matches_hand_unroll(k, rng):
    agent = MEMB(tiny_config(rollout_length=k, alpha=0.3), obs_dim=3, act_dim=2)
    state = agent.init(jax.random.PRNGKey(1))
    b = random_batch(rng, 16, 3, 2)
    key = jax.random.PRNGKey(7)
    got, _ = agent.policy_objective(state.params["policy"], state.params, state.normalizer, b, key)
    want = hand_objective(agent, state.params, state.normalizer, b.obs, 1 - b.terminated, key, k)
    assert float(got) == pytest.approx(float(want), rel=1e-6)


@pytest.mark.parametrize("k", [1, 2])
def test_policy_gradient_eq9_against_central_finite_differences(k, rng):
    """∂V(s)/∂θ of eq. (9), by autodiff through r̂, f and V, against central differences (float64)."""
    with jax.enable_x64(True):
        agent = MEMB(tiny_config(rollout_length=k, alpha=0.2), obs_dim=3, act_dim=2)
        state = agent.init(jax.random.PRNGKey(2))
        params = as_f64(state.params)
        normalizer = as_f64(state.normalizer)
        b = random_batch(rng, 12, 3, 2, dtype=np.float64)
        key = jax.random.PRNGKey(3)  # fixed noise η, ζ: the objective is a smooth function of θ

        def objective(theta):
            return agent.policy_objective(theta, params, normalizer, b, key)[0]

        theta = params["policy"]
        grad = jax.grad(objective)(theta)
        flat, unravel = jax.flatten_util.ravel_pytree(theta)
        flat_grad, _ = jax.flatten_util.ravel_pytree(grad)
        coords = np.random.default_rng(0).choice(flat.size, size=25, replace=False)
        eps = 1e-6
        for i in coords:
            e = jnp.zeros_like(flat).at[i].set(eps)
            fd = (objective(unravel(flat + e)) - objective(unravel(flat - e))) / (2 * eps)
            assert float(flat_grad[i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)
        assert np.abs(np.asarray(flat_grad)).max() > 1e-4  # not a vacuous comparison of zeros


def test_policy_step_moves_only_the_policy(tiny_agent, rng):
    agent, state = tiny_agent
    b = random_batch(rng, 8, 3, 2)
    new, _ = agent.policy_step(state, b)
    for name in ("dynamics", "reward", "q", "v"):
        jax.tree.map(np.testing.assert_array_equal, new.params[name], state.params[name])
    jax.tree.map(np.testing.assert_array_equal, new.target_v, state.target_v)
    jax.tree.map(np.testing.assert_array_equal, new.opt_state["model"], state.opt_state["model"])
    jax.tree.map(np.testing.assert_array_equal, new.opt_state["value"], state.opt_state["value"])
    changed = jax.tree.leaves(
        jax.tree.map(lambda x, y: bool(np.any(x != y)), new.params["policy"], state.params["policy"])
    )
    assert all(changed)
    # ... although the objective does depend on the models and V: the gradient flows through them
    g = jax.grad(lambda p: agent.policy_objective(state.params["policy"], p, state.normalizer, b, state.key)[0])(
        state.params
    )
    for name in ("dynamics", "reward", "v"):
        assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g[name])) > 0


def test_value_losses_eq5_eq6_by_hand(tiny_agent, rng):
    agent, state = tiny_agent
    c = agent.config
    b = random_batch(rng, 8, 3, 2)
    vp = {"q": state.params["q"], "v": state.params["v"]}
    target_v = jax.tree.map(lambda x: x + 0.05, state.target_v)  # a target that differs from V
    key = jax.random.PRNGKey(5)
    _, info = agent.value_loss(vp, state.params["policy"], target_v, b, key)

    v_bar_next = np.asarray(agent.v_net.apply(target_v, b.next_obs))
    y = b.reward + c.gamma * (1 - b.terminated) * v_bar_next  # eq. (6) target, masked by termination only
    q = np.asarray(agent.q_net.apply(state.params["q"], b.obs, b.action))
    q_loss = 0.5 * np.mean(((q[0] - y) ** 2) + ((q[1] - y) ** 2))
    mean, log_std = agent.policy_net.apply(state.params["policy"], b.obs)
    a, logp = tanh_gaussian_sample(key, mean, log_std)
    q_new = np.minimum(*np.asarray(agent.q_net.apply(state.params["q"], b.obs, a)))
    v = np.asarray(agent.v_net.apply(state.params["v"], b.obs))
    v_loss = 0.5 * np.mean((v - (q_new - c.alpha * np.asarray(logp))) ** 2)  # eq. (5) with min(Q1, Q2)
    assert float(info["q_loss"]) == pytest.approx(q_loss, rel=1e-5)
    assert float(info["v_loss"]) == pytest.approx(v_loss, rel=1e-5)


def test_model_loss_eq4_by_hand(tiny_agent, rng):
    agent, state = tiny_agent
    b = random_batch(rng, 8, 3, 2)
    key = jax.random.PRNGKey(9)
    mp = {"dynamics": state.params["dynamics"], "reward": state.params["reward"]}
    _, info = agent.model_loss(mp, state.normalizer, b, key)
    x = np.concatenate([b.obs, b.action], -1)
    d_mean, d_ls = map(np.asarray, agent.dynamics_net.apply(mp["dynamics"], x))
    r_mean, r_ls = map(np.asarray, agent.reward_net.apply(mp["reward"], x))
    k_f, k_r = jax.random.split(key)
    f = d_mean + np.exp(d_ls) * np.asarray(jax.random.normal(k_f, d_mean.shape))  # the reparameterized sample
    r = r_mean + np.exp(r_ls) * np.asarray(jax.random.normal(k_r, r_mean.shape))
    assert float(info["dynamics_loss"]) == pytest.approx(0.5 * np.mean((f - b.next_obs) ** 2), rel=1e-5)
    assert float(info["reward_loss"]) == pytest.approx(0.5 * np.mean((r[:, 0] - b.reward) ** 2), rel=1e-5)


def test_model_loss_options_delta_and_nll(rng):
    b = random_batch(rng, 8, 3, 2)
    agent = MEMB(tiny_config(predict_delta=True, model_loss="nll"), 3, 2)
    state = agent.init(jax.random.PRNGKey(0))
    mp = {"dynamics": state.params["dynamics"], "reward": state.params["reward"]}
    _, info = agent.model_loss(mp, state.normalizer, b, jax.random.PRNGKey(1))
    x = np.concatenate([b.obs, b.action], -1)
    d_mean, d_ls = (np.asarray(t) for t in agent.dynamics_net.apply(mp["dynamics"], x))
    r_mean, r_ls = (np.asarray(t) for t in agent.reward_net.apply(mp["reward"], x))
    from scipy import stats

    nll = -(
        stats.norm.logpdf(b.next_obs - b.obs, d_mean, np.exp(d_ls)).sum(-1)
        + stats.norm.logpdf(b.reward, r_mean[:, 0], np.exp(r_ls[:, 0]))
    )
    assert float(info["model_loss"]) == pytest.approx(nll.mean() / 4, rel=1e-5)
    # predict_delta: the sampled next state is s + Δ
    s_next, _ = agent.dynamics_and_reward(state.params, state.normalizer, b.obs, b.action, jax.random.PRNGKey(2))
    k_f, _ = jax.random.split(jax.random.PRNGKey(2))
    np.testing.assert_allclose(
        s_next, b.obs + d_mean + np.exp(d_ls) * np.asarray(jax.random.normal(k_f, d_mean.shape)), rtol=1e-5, atol=1e-6
    )


def test_normalizer_merges_batches_like_numpy(rng):
    from memb.agents.memb import Normalizer

    data = rng.normal(3.0, 2.0, size=(90, 4))
    norm = Normalizer.create(4)
    for chunk in np.split(data, [10, 40]):
        norm = norm.update(jnp.asarray(chunk))
    np.testing.assert_allclose(norm.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.var, data.var(0), rtol=1e-4)
    assert float(norm.count) == 90


def test_update_schedule_counts_and_warmup(rng):
    agent = MEMB(
        tiny_config(
            updates_per_step=3, model_updates_per_step=1, model_warmup_steps=10, unroll_rounds=True,
            unroll_rounds_after=0,  # the unrolled program from the warm-up's end
        ),
        3,
        2,
    )  # fmt: skip
    assert agent.batches_per_step(0) == 1 and agent.batches_per_step(9) == 1
    assert agent.batches_per_step(10) == 4
    state = agent.init(jax.random.PRNGKey(0))
    b = random_batch(rng, 4 * 8, 3, 2)
    stacked = jax.tree.map(lambda x: x.reshape(4, 8, *x.shape[1:]), b)
    warm, info = agent.update(state, jax.tree.map(lambda x: x[:1], stacked), env_step=5)
    jax.tree.map(np.testing.assert_array_equal, warm.params["policy"], state.params["policy"])  # model-only
    assert set(info) == {"dynamics_loss", "reward_loss", "finite"}
    assert np.asarray(info["finite"]).tolist() == [True, True, True]
    full, info = agent.update(state, stacked, env_step=10)
    assert {"q_loss", "v_loss", "policy_objective", "dynamics_loss"} <= set(info)
    assert not np.allclose(
        jax.flatten_util.ravel_pytree(full.params["policy"])[0],
        jax.flatten_util.ravel_pytree(state.params["policy"])[0],
    )
    # the scan equals the rounds run one by one, then the extra model step
    manual = state
    for i in range(3):
        manual, _ = agent.round(manual, jax.tree.map(lambda x, i=i: x[i], stacked))
    manual, _ = agent.model_step(manual, jax.tree.map(lambda x: x[3], stacked))
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6), full.params, manual.params)
    # unroll_rounds is speed only: the rolled scan computes the same update
    rolled = MEMB(tiny_config(updates_per_step=3, model_warmup_steps=10, unroll_rounds=False), 3, 2)
    rolled_state, _ = rolled.update(state, stacked, env_step=10)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6), full.params, rolled_state.params)


def test_the_rolled_program_runs_until_unroll_rounds_after_then_the_unrolled_one(rng):
    agent = MEMB(tiny_config(model_warmup_steps=10, unroll_rounds=True, unroll_rounds_after=20), 3, 2)
    assert [agent.update_function(s) for s in (9, 10, 29, 30)] == [
        agent.warmup_fn,
        agent.rolled_update_fn,
        agent.rolled_update_fn,
        agent.update_fn,
    ]
    # (first step, program, batches[, compile from]): the unrolled one compiled ahead from halfway through
    assert [(p[0], p[1], p[3:]) for p in agent.update_programs()] == [
        (0, agent._warmup, ()),
        (10, agent._rolled_update, ()),
        (30, agent._update, (20,)),
    ]
    state = agent.init(jax.random.PRNGKey(0))
    batches = jax.tree.map(lambda x: x.reshape(3, 8, *x.shape[1:]), random_batch(rng, 3 * 8, 3, 2))
    for step, program in ((10, agent._rolled_update), (29, agent._rolled_update), (30, agent._update)):
        got, _ = agent.update(state, batches, env_step=step)
        want, _ = program(state, batches)
        jax.tree.map(np.testing.assert_array_equal, got.params, want.params)
    # rolled: the rounds' scan is a loop in the program (one while more than unrolled, whose random-bit hashes and
    # inner scans have their own)
    loops = [
        program.lower(state, batches).as_text().count("stablehlo.while")
        for program in (agent._rolled_update, agent._update)
    ]
    assert loops[0] == loops[1] + 1
    # without unroll_rounds, or with unroll_rounds_after 0, one program after the warm-up
    # ... and with scans of one step (m = 1, one model step), which have nothing to unroll
    one_step = dict(unroll_rounds=True, unroll_rounds_after=20, updates_per_step=1, model_updates_per_step=1)
    for config in (
        dict(unroll_rounds=False, unroll_rounds_after=20),
        dict(unroll_rounds=True, unroll_rounds_after=0),
        one_step,
    ):
        one = MEMB(tiny_config(model_warmup_steps=10, **config), 3, 2)
        assert [(p[0], p[1]) for p in one.update_programs()] == [(0, one._warmup), (10, one._update)]
        assert one.update_function(10) == one.update_function(10_000) == one.update_fn


def test_a_run_saved_before_unroll_rounds_after_loads_with_its_old_schedule():
    from memb.training import RunConfig

    assert RunConfig.from_saved({"algo": "memb", "agent": {}}).agent.unroll_rounds_after == 0
    assert RunConfig.from_saved({"algo": "svg", "agent": {}}).agent.unroll_rounds_after == 0
    assert RunConfig.from_dict({"algo": "memb", "agent": {}}).agent.unroll_rounds_after == 5_000


def test_simultaneous_round_takes_policy_and_value_gradients_at_the_same_parameters(rng):
    """round_updates="simultaneous" (Algorithm 1, step 3): after the model step, the policy's and the value's steps
    both start from that state, each with its own key, and the round keeps each one's parameters and moments."""
    agent = MEMB(tiny_config(round_updates="simultaneous", alpha=0.3), 3, 2)
    state = agent.init(jax.random.PRNGKey(0))
    b = random_batch(rng, 8, 3, 2)
    got, info = agent.round(state, b)
    start, _ = agent.model_step(state, b)
    key_policy, key_value = jax.random.split(start.key)
    policy, _ = agent.policy_step(start.replace(key=key_policy), b)
    value, value_info = agent.value_step(start.replace(key=key_value), b)

    def same(x, y):
        jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7), x, y)

    same(got.params["policy"], policy.params["policy"])
    same(got.opt_state["policy"], policy.opt_state["policy"])
    for name in ("q", "v"):
        same(got.params[name], value.params[name])
    same(got.opt_state["value"], value.opt_state["value"])
    same({k: got.params[k] for k in ("dynamics", "reward")}, {k: start.params[k] for k in ("dynamics", "reward")})
    same(got.target_v, jax.tree.map(lambda o, t: 0.005 * o + 0.995 * t, value.params["v"], start.target_v))
    # the value's V target saw the round-start policy: from the moved policy its loss differs (the parameters after
    # one Adam step are about lr·sign(g) either way, so the loss is the quantity that can tell them apart)
    _, moved_info = agent.value_step(policy.replace(key=key_value), b)
    assert float(info["v_loss"]) == pytest.approx(float(value_info["v_loss"]), rel=1e-6)
    assert abs(float(moved_info["v_loss"]) - float(info["v_loss"])) > 1e-6 * (1 + abs(float(info["v_loss"])))
    with pytest.raises(ValueError, match="round_updates"):
        tiny_config(round_updates="jacobi")


def test_update_flops_hand_count():
    from memb.agents.memb import MEMBConfig, update_flops

    c = MEMBConfig(
        batch_size=10,
        policy_hidden=(4,),
        value_hidden=(5,),
        model_hidden=(3,),
        updates_per_step=2,
        model_updates_per_step=1,
        model_update_in_rounds=True,
    )
    f = update_flops(c, obs_dim=2, act_dim=1)
    pi = 2 * 10 * (2 * 4 + 4 * 2)  # 2 -> 4 -> (mean, log-std) 2
    dyn = 2 * 10 * (3 * 3 + 3 * 4)  # 3 -> 3 -> 4
    rew = 2 * 10 * (3 * 3 + 3 * 2)
    q = 2 * 10 * (3 * 5 + 5 * 1)
    v = 2 * 10 * (2 * 5 + 5 * 1)
    assert f["model_step"] == 3 * (dyn + rew)
    assert f["policy_step"] == 3 * pi + 2 * (dyn + rew) + 2 * v
    assert f["value_step"] == v + 6 * q + pi + 2 * q + 3 * v
    assert f["round"] == f["model_step"] + f["policy_step"] + f["value_step"]
    assert f["env_step"] == 2 * f["round"] + f["model_step"]


def test_normalizer_forgets_beyond_its_window(rng):
    from memb.agents.memb import Normalizer

    norm = Normalizer.create(1)
    for _ in range(20):
        norm = norm.update(jnp.asarray(rng.normal(0.0, 1.0, size=(50, 1))), window=100)
    for _ in range(40):  # the data shifts: the statistics follow
        norm = norm.update(jnp.asarray(rng.normal(5.0, 1.0, size=(50, 1))), window=100)
    assert float(norm.mean[0]) == pytest.approx(5.0, abs=0.3)
    assert float(norm.var[0]) == pytest.approx(1.0, abs=0.3)


def test_auto_alpha_step_by_hand_and_alpha_used_by_both_objectives(rng):
    """auto_alpha (SAC 2018b, not in the paper): Adam's first step on log α is −lr · sign(∂J/∂log α) with
    ∂J/∂log α = −(E log π + H̄); eqs. (5) and (8) then use exp(log α); without it the state is as before."""
    plain = MEMB(tiny_config(), obs_dim=3, act_dim=2)
    assert "log_alpha" not in plain.init(jax.random.PRNGKey(0)).params and plain.components[-1] == "model"

    lr = 1e-2
    agent = MEMB(tiny_config(alpha=0.3, auto_alpha=True, alpha_lr=lr), obs_dim=3, act_dim=2)
    assert agent.components == ("policy", "value", "model", "alpha") and agent.target_entropy == -2.0
    state = agent.init(jax.random.PRNGKey(1))
    assert float(state.params["log_alpha"]) == pytest.approx(np.log(0.3), rel=1e-6)
    b = random_batch(rng, 8, 3, 2)
    new, info = agent.alpha_step(state, b)
    _, sub = jax.random.split(state.key)
    mean, log_std = agent.policy_net.apply(state.params["policy"], b.obs)
    _, logp = tanh_gaussian_sample(sub, mean, log_std)
    gap = float(jnp.mean(logp)) - 2.0  # E log π + H̄, H̄ = −dim A
    assert abs(gap) > 1e-3
    assert float(info["alpha_loss"]) == pytest.approx(-np.log(0.3) * gap, rel=1e-5)
    step = float(new.params["log_alpha"] - state.params["log_alpha"])
    assert step == pytest.approx(lr * np.sign(gap), rel=1e-4)  # entropy below target (gap > 0): α grows
    for name in ("policy", "q", "v", "dynamics", "reward"):
        jax.tree.map(np.testing.assert_array_equal, new.params[name], state.params[name])

    # the α the objectives use is the state's, not the config's
    bigger = state.replace(params={**state.params, "log_alpha": jnp.log(jnp.float32(0.9))})
    key = jax.random.PRNGKey(7)
    got, _ = agent.policy_objective(bigger.params["policy"], bigger.params, bigger.normalizer, b, key)
    as_fixed = MEMB(tiny_config(alpha=0.9), obs_dim=3, act_dim=2)
    want = hand_objective(as_fixed, bigger.params, bigger.normalizer, b.obs, 1 - b.terminated, key, 1)
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    vp = {"q": state.params["q"], "v": state.params["v"]}
    _, with_state = agent.value_loss(
        vp, state.params["policy"], state.target_v, b, key, alpha=agent.alpha(bigger.params)
    )
    _, with_fixed = as_fixed.value_loss(vp, state.params["policy"], state.target_v, b, key)
    assert float(with_state["v_loss"]) == pytest.approx(float(with_fixed["v_loss"]), rel=1e-5)

    # a whole update runs the α step in each round and reports α
    batches = jax.tree.map(lambda x: jnp.stack([x] * 3), b)  # m = 2 rounds + 1 model step
    after, info = agent.update(state, batches, env_step=10)
    assert bool(np.all(info["finite"])) and info["finite"].shape == (4,)
    assert float(after.params["log_alpha"]) != float(state.params["log_alpha"]) and "alpha" in info


def test_policy_log_std_keeps_the_authors_tanh_mapping_unless_clip_is_asked():
    """Default: the authors' tanh mapping onto [-20, 2]; `log_std_bound="clip"` clips the same head output."""
    obs = jnp.ones((64, 3))
    for bound in ("tanh", "clip"):
        kwargs = {} if bound == "tanh" else {"log_std_bound": "clip"}
        agent = MEMB(tiny_config(policy_hidden=(256, 256), **kwargs), obs_dim=3, act_dim=2)
        params = agent.init(jax.random.PRNGKey(0)).params["policy"]
        head = params["params"]["Dense_3"]  # the log-std head's output: its kernel applied to the trunk's features
        trunk = agent.policy_net.apply(params, obs, capture_intermediates=True)[1]["intermediates"]
        features = trunk["Dense_1"]["__call__"][0]
        raw = jax.nn.relu(features) @ head["kernel"] + head["bias"]
        _, log_std = agent.policy_net.apply(params, obs)
        expected = -20 + 11 * (jnp.tanh(raw) + 1) if bound == "tanh" else jnp.clip(raw, -20, 2)
        np.testing.assert_allclose(np.asarray(log_std), np.asarray(expected), rtol=1e-5, atol=1e-5)
