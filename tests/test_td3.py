"""TD3's and DDPG's targets, smoothing, clipping and delay against hand computations, and short learning tests."""

import dataclasses
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memb.agents import DDPG, TD3, DDPGConfig, TD3Config
from memb.training import RunConfig, TrainConfig, train

from conftest import random_batch
from learning_runs import LEARNING_RUNS


def _td3(cls=TD3, **overrides):
    config = cls.Config(**{"batch_size": 8, "policy_hidden": (8, 8), "value_hidden": (8, 8), **overrides})
    agent = cls(config, obs_dim=3, act_dim=2)
    return agent, agent.init(jax.random.PRNGKey(0))


def test_target_policy_smoothing_clips_the_noise_and_the_action():
    agent, state = _td3(target_noise=5.0, target_noise_clip=0.5)  # huge noise: every draw is clipped
    s = np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32)
    mu = np.asarray(agent.policy_net.apply(state.target["policy"], s))
    a = np.asarray(agent.target_action(state.target["policy"], s, jax.random.PRNGKey(1)))
    eps = jnp.clip(5.0 * jax.random.normal(jax.random.PRNGKey(1), mu.shape), -0.5, 0.5)
    np.testing.assert_allclose(a, np.clip(mu + np.asarray(eps), -1, 1), rtol=1e-6)
    assert np.all(np.abs(a - mu) <= 0.5 + 1e-6) and np.abs(a).max() <= 1


def test_critic_target_is_the_min_over_target_critics(rng):
    agent, state = _td3(gamma=0.9)
    b = random_batch(rng, 16, 3, 2)
    target = jax.tree.map(lambda x: x * 1.1, state.target)
    key = jax.random.PRNGKey(2)
    _, info = agent.critic_loss(state.params["q"], target, b, key)
    a_next = agent.target_action(target["policy"], b.next_obs, key)
    q_next = np.asarray(agent.q_net.apply(target["q"], b.next_obs, a_next)).min(axis=0)
    y = b.reward + 0.9 * (1 - b.terminated) * q_next
    q = np.asarray(agent.q_net.apply(state.params["q"], b.obs, b.action))
    assert float(info["q_loss"]) == pytest.approx(0.5 * np.mean((q[0] - y) ** 2 + (q[1] - y) ** 2), rel=1e-5)


def test_ddpg_target_has_one_critic_and_no_smoothing(rng):
    agent, state = _td3(DDPG, policy_batch_norm=False, value_batch_norm=False)  # batch norm: its own tests below
    assert agent.config.num_critics == 1 and agent.config.target_noise == 0 and agent.config.tau == 0.001
    b = random_batch(rng, 16, 3, 2)
    _, info = agent.critic_loss(state.params["q"], state.target, b, jax.random.PRNGKey(0))
    a_next = agent.policy_net.apply(state.target["policy"], b.next_obs)
    y = b.reward + 0.99 * (1 - b.terminated) * np.asarray(agent.q_net.apply(state.target["q"], b.next_obs, a_next))[0]
    q = np.asarray(agent.q_net.apply(state.params["q"], b.obs, b.action))[0]
    assert float(info["q_loss"]) == pytest.approx(np.mean((q - y) ** 2), rel=1e-5)  # the paper's L, not TD3's ½


def test_ddpg_weighs_its_l2_decay_against_the_papers_full_mean_squared_error(rng):
    """The decay's λθ is added to the gradient of L = mean (y − Q)² (the 2015 paper), not of TD3's ½ of it: under
    Adam only their balance matters, and with ½ the decay would weigh twice. The critic optimizer's first update
    equals Adam's on ∇L + λθ by hand, and not on ∇(½L) + λθ."""
    import optax

    agent, state = _td3(DDPG, value_weight_decay=1e-2, policy_batch_norm=False, value_batch_norm=False)
    b = random_batch(rng, 16, 3, 2)
    q_params = state.params["q"]
    grad = jax.grad(lambda p: agent.critic_loss(p, state.target, b, jax.random.PRNGKey(0))[0])(q_params)
    update = agent.value_opt.update(grad, agent.value_opt.init(q_params), q_params)[0]
    adam = optax.adam(agent.config.value_lr)

    def adam_on(g):
        return adam.update(g, adam.init(q_params), q_params)[0]

    with_l2 = jax.tree.map(lambda g, w: g + 1e-2 * w, grad, q_params)  # ∇L + λθ
    half = jax.tree.map(lambda g, w: 0.5 * g + 1e-2 * w, grad, q_params)  # ∇(½L) + λθ
    flat = lambda t: np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)])  # noqa: E731
    np.testing.assert_allclose(flat(update), flat(adam_on(with_l2)), rtol=1e-5, atol=1e-9)
    assert not np.allclose(flat(update), flat(adam_on(half)), rtol=1e-3, atol=1e-7)


def test_actor_and_targets_move_every_policy_delay_updates(rng):
    agent, state = _td3(policy_delay=2, tau=0.5)
    batches = jax.tree.map(lambda x: np.stack([x, x, x]), random_batch(rng, 8, 3, 2))
    history = [state]
    for i in range(3):
        state, _ = agent.update(state, jax.tree.map(lambda x, i=i: x[i : i + 1], batches), 10**6)
        history.append(state)

    def changed(name):
        flat = [np.asarray(jax.flatten_util.ravel_pytree(s.params[name])[0]) for s in history]
        return [bool(np.any(a != b)) for a, b in zip(flat, flat[1:], strict=False)]

    assert changed("policy") == [False, True, False]  # updates 1, 2, 3: the actor moves on the 2nd only
    assert changed("q") == [True, True, True]
    assert int(state.updates) == 3


def test_exploration_noise_while_acting_only():
    agent, state = _td3(exploration_noise=0.3)
    obs = np.random.default_rng(0).normal(size=(4096, 3)).astype(np.float32)
    noisy, _ = agent.act(state, obs, jax.random.PRNGKey(0))
    clean, _ = agent.act(state, obs, jax.random.PRNGKey(0), deterministic=True)
    inside = np.abs(clean) < 0.2
    assert np.std((noisy - clean)[inside]) == pytest.approx(0.3, rel=0.05)


@pytest.mark.parametrize("name", ["td3", "ddpg"])
def test_learns_pendulum(name, tmp_path):
    """4000 steps (1000 random): from about −1500 untrained to better than −700 (the best of the last two evaluations).
    TD3 with 2 updates per env step on (128, 128) networks, DDPG with its (400, 300) networks (learning_runs.py)."""
    run = LEARNING_RUNS[name]
    returns = run.returns(tmp_path / name)
    assert run.check(returns), (run.rule, returns)


def test_batch_normalized_ddpg_improves_on_pendulum(tmp_path):
    """The preset's DDPG, batch norms included, on the learning test's budget and rates: the best of the last two
    evaluations more than 250 above the untrained policy's (its level spreads over −1150 to −1480 across seeds)."""
    run = LEARNING_RUNS["ddpg-bn"]
    assert run.agent.policy_batch_norm and run.agent.value_batch_norm
    returns = run.returns(tmp_path / "r")
    assert run.check(returns), (run.rule, returns)


def test_ddpg_networks_follow_the_2015_paper():
    agent = DDPG(DDPGConfig(), obs_dim=3, act_dim=2)
    params = agent.init(jax.random.PRNGKey(0)).params
    q = params["q"]["params"]["VmapQ_0"] if "VmapQ_0" in params["q"]["params"] else params["q"]["params"]
    layers = jax.tree.leaves(jax.tree.map(np.shape, q), is_leaf=lambda x: isinstance(x, tuple))
    kernels = sorted([s for s in layers if len(s) == 3], key=lambda s: -s[-1])  # [critics, in, out]
    assert (1, 3, 400) in kernels and (1, 402, 300) in kernels  # s alone, then [h1, a] at the second layer
    final = [np.asarray(x) for x in jax.tree.leaves(q) if x.shape[-1] == 1]
    assert all(np.abs(x).max() <= 3e-3 for x in final) and max(np.abs(x).max() for x in final) > 1e-3
    policy_out = params["policy"]["params"]["Dense_2"]
    assert np.abs(policy_out["kernel"]).max() <= 3e-3 and np.abs(policy_out["bias"]).max() <= 3e-3


def _bn(x, mean, var, p):
    return (x - mean) / np.sqrt(var + 1e-5) * np.asarray(p["scale"]) + np.asarray(p["bias"])


def _stats_like(stats, rng):
    """Running averages far from the initial (0, 1), so that using them or not makes a difference."""
    return jax.tree.map(lambda x: jnp.asarray(rng.uniform(0.5, 2.0, x.shape), jnp.float32), stats)


def _actor_by_hand(variables, s, train):
    p, stats = variables["params"], variables["batch_stats"]

    def norm(x, name):
        mean, var = (x.mean(axis=0), x.var(axis=0)) if train else (stats[name]["mean"], stats[name]["var"])
        return _bn(x, np.asarray(mean), np.asarray(var), p[name])

    x = norm(s, "BatchNorm_0")
    for i in range(2):
        x = np.maximum(
            norm(x @ np.asarray(p[f"Dense_{i}"]["kernel"]) + np.asarray(p[f"Dense_{i}"]["bias"]), f"BatchNorm_{i + 1}"),
            0,
        )
    return np.tanh(x @ np.asarray(p["Dense_2"]["kernel"]) + np.asarray(p["Dense_2"]["bias"]))


def _critic_by_hand(variables, s, a, train):
    """The first critic with the action at its second layer: norm(s), dense, norm, ReLU, [h, a], dense, ReLU, out."""
    p = jax.tree.map(lambda x: np.asarray(x)[0], variables["params"]["Vmap_Q_0"])
    stats = jax.tree.map(lambda x: np.asarray(x)[0], variables["batch_stats"]["Vmap_Q_0"])

    def norm(x, name):
        mean, var = (x.mean(axis=0), x.var(axis=0)) if train else (stats[name]["mean"], stats[name]["var"])
        return _bn(x, mean, var, p[name])

    h = np.maximum(norm(norm(s, "BatchNorm_0") @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], "BatchNorm_1"), 0)
    h = np.maximum(np.concatenate([h, a], axis=1) @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"], 0)
    return (h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"])[:, 0]


def test_a_batch_normalized_actor_learns_with_batch_statistics_and_acts_with_running_averages(rng):
    """DDPG 2015's actor: acting uses the running averages; the actor's update normalizes with the batch's own
    statistics, moves the running averages by 1 − momentum (0.01) towards them, and leaves them out of Adam."""
    agent, state = _td3(DDPG, policy_batch_norm=True, value_batch_norm=False)
    policy = {**state.params["policy"], "batch_stats": _stats_like(state.params["policy"]["batch_stats"], rng)}
    state = state.replace(params={**state.params, "policy": policy})
    b = random_batch(rng, 8, 3, 2)
    b = b.replace(obs=b.obs * 3.0 + 5.0)
    action, _ = agent.act(state, b.obs, jax.random.PRNGKey(0), deterministic=True)
    np.testing.assert_allclose(action, _actor_by_hand(policy, b.obs, train=False), rtol=1e-5, atol=1e-6)
    learning = agent.policy_net.apply(policy, b.obs, train=True, mutable=["batch_stats"])[0]
    np.testing.assert_allclose(learning, _actor_by_hand(policy, b.obs, train=True), rtol=1e-4, atol=1e-6)
    assert np.abs(np.asarray(learning) - np.asarray(action)).max() > 1e-3  # the two modes differ here

    new, _ = agent.update(state, jax.tree.map(lambda x: x[None], b), 0)
    old_stats, stats = policy["batch_stats"]["BatchNorm_0"], new.params["policy"]["batch_stats"]["BatchNorm_0"]
    np.testing.assert_allclose(stats["mean"], 0.99 * old_stats["mean"] + 0.01 * b.obs.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["var"], 0.99 * old_stats["var"] + 0.01 * b.obs.var(axis=0), rtol=1e-5)
    moved = new.params["policy"]["params"]["Dense_0"]["kernel"] != policy["params"]["Dense_0"]["kernel"]
    assert np.asarray(moved).all()  # Adam moved every weight of the first layer


def test_a_batch_normalized_critic_learns_with_batch_statistics_and_targets_with_running_averages(rng):
    """DDPG 2015's critic: the state input and the layers before the action are batch-normalized. Its loss uses the
    batch's statistics, its target the target critic's own running averages; its update moves the online running
    averages by 0.01 towards the batch's statistics; the L2 decay leaves the norms' scales alone; and a critic with
    nothing before the action is refused."""
    from memb.config import ConfigError

    agent, state = _td3(DDPG, policy_batch_norm=False, value_batch_norm=True, gamma=0.9)
    online = {**state.params["q"], "batch_stats": _stats_like(state.params["q"]["batch_stats"], rng)}
    target_q = {**state.target["q"], "batch_stats": _stats_like(state.target["q"]["batch_stats"], rng)}
    target_q = {**target_q, "params": jax.tree.map(lambda x: x * 1.1, target_q["params"])}
    state = state.replace(params={**state.params, "q": online}, target={**state.target, "q": target_q})
    b = random_batch(rng, 16, 3, 2)
    b = b.replace(obs=b.obs * 3.0 + 5.0, next_obs=b.next_obs * 3.0 + 5.0)

    _, info = agent.critic_loss(online, state.target, b, jax.random.PRNGKey(0))
    a_next = np.asarray(agent.policy_net.apply(state.target["policy"], b.next_obs))
    y = b.reward + 0.9 * (1 - b.terminated) * _critic_by_hand(target_q, b.next_obs, a_next, train=False)
    q = _critic_by_hand(online, b.obs, b.action, train=True)
    assert float(info["q_loss"]) == pytest.approx(np.mean((q - y) ** 2), rel=1e-4)

    new, _ = agent.update(state, jax.tree.map(lambda x: x[None], b), 0)
    old_stats = online["batch_stats"]["Vmap_Q_0"]["BatchNorm_0"]
    stats = new.params["q"]["batch_stats"]["Vmap_Q_0"]["BatchNorm_0"]  # [critics, obs_dim]
    np.testing.assert_allclose(stats["mean"][0], 0.99 * old_stats["mean"][0] + 0.01 * b.obs.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["var"][0], 0.99 * old_stats["var"][0] + 0.01 * b.obs.var(axis=0), rtol=1e-5)
    # with a zero loss gradient only the L2 decay moves a parameter: the dense layers move, the norms' scales do not
    zero = jax.tree.map(jnp.zeros_like, online)
    decayed = agent.value_opt.update(zero, agent.value_opt.init(online), online)[0]["params"]["Vmap_Q_0"]
    assert np.all(np.asarray(decayed["BatchNorm_0"]["scale"]) == 0) and np.all(
        np.asarray(decayed["BatchNorm_1"]["scale"]) == 0
    )
    assert np.all(np.asarray(decayed["Dense_0"]["kernel"]) != 0)
    with pytest.raises(ConfigError, match="critic_action_layer"):
        DDPGConfig(value_batch_norm=True, critic_action_layer=0)


def test_ou_exploration_is_the_papers_process_by_hand():
    """x₁ = σε₁, x₂ = (1 − θ)x₁ + σε₂, a = clip(μ(s) + x); ε from the carry's key as split by act; a deterministic
    act leaves x alone; the end of an episode puts it back to 0. DDPG's preset uses it, TD3's does not."""
    assert DDPGConfig().exploration == "ou" and TD3Config().exploration == "gaussian"
    theta, sigma = 0.15, 0.3
    agent, state = _td3(DDPG, exploration_noise=sigma, ou_theta=theta)
    obs = np.array([0.3, -0.2, 0.1], np.float32)
    mu = np.asarray(agent.policy_net.apply(state.params["policy"], obs))
    carry = agent.act_carry(jax.random.PRNGKey(7))
    np.testing.assert_array_equal(carry["noise"], np.zeros(2))
    key, x = jax.random.PRNGKey(7), np.zeros(2)
    for _ in range(3):
        key, sub = jax.random.split(key)
        x = (1 - theta) * x + sigma * np.asarray(jax.random.normal(sub, (2,)))
        action, carry = agent.act(state, obs, carry)
        np.testing.assert_allclose(carry["noise"], x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(action, np.clip(mu + x, -1, 1), rtol=1e-5, atol=1e-6)
    clean, after = agent.act(state, obs, carry, deterministic=True)
    np.testing.assert_allclose(clean, mu, rtol=1e-6)
    np.testing.assert_array_equal(after["noise"], carry["noise"])
    np.testing.assert_array_equal(agent.reset_act_carry(carry)["noise"], np.zeros(2))
    np.testing.assert_array_equal(agent.reset_act_carry(carry)["key"], carry["key"])


def test_ou_noise_has_the_processs_spread_and_memory():
    """Stationary std σ/√(1 − (1 − θ)²) and lag-1 autocorrelation 1 − θ, over 20k steps (σ small: no clipping)."""
    theta, sigma = 0.15, 0.02
    agent, state = _td3(DDPG, exploration_noise=sigma, ou_theta=theta)
    obs = np.zeros(3, np.float32)
    mu = np.asarray(agent.policy_net.apply(state.params["policy"], obs))
    assert np.all(np.abs(mu) < 0.5)
    step = jax.jit(lambda c: agent.act_fn(state.params["policy"], obs, c)[::-1])
    _, actions = jax.lax.scan(lambda c, _: step(c), agent.act_carry(jax.random.PRNGKey(1)), None, length=20_000)
    x = np.asarray(actions)[1000:] - mu
    assert np.std(x, axis=0) == pytest.approx(np.full(2, sigma / np.sqrt(1 - (1 - theta) ** 2)), rel=0.08)
    lag1 = [np.corrcoef(x[:-1, j], x[1:, j])[0, 1] for j in range(2)]
    assert lag1 == pytest.approx([1 - theta] * 2, abs=0.03)


def _ddpg_run(steps: int, checkpoint_every: int = 0, seed: int = 0) -> RunConfig:
    agent = DDPGConfig(batch_size=16, policy_hidden=(16, 16), value_hidden=(16, 16), random_steps=50)
    train = TrainConfig(env="Pendulum-v1", steps=steps, epoch_length=50, eval_episodes=1, seed=seed,
                        checkpoint_every=checkpoint_every, keep_checkpoints=5)  # fmt: skip
    return RunConfig("ddpg", train, agent)


def test_ddpg_ou_noise_is_checkpointed_and_restarted_each_episode(tmp_path):
    """A run stopped at 250 steps (mid-episode, the noise far from 0) and continued to 300 equals the 300-step run
    bit for bit: the OU process's value is in the checkpoint. Pendulum's episodes end every 200 steps."""
    reference = train(_ddpg_run(300), tmp_path / "a", progress=False, tensorboard=False)
    train(_ddpg_run(250), tmp_path / "b", progress=False, tensorboard=False)
    continued = train(_ddpg_run(300), tmp_path / "b", resume=True, progress=False, tensorboard=False)
    assert [r["return_mean"] for r in continued.eval_rows] == [r["return_mean"] for r in reference.eval_rows]
    assert (tmp_path / "b" / "state.msgpack").read_bytes() == (tmp_path / "a" / "state.msgpack").read_bytes()
    # the carry each stochastic act received: the episode that starts at step 200 starts from noise 0
    seen = []
    original = DDPG.act

    def recording(self, state, obs, carry, deterministic=False):
        if not deterministic and threading.current_thread() is threading.main_thread():  # not a compile ahead
            seen.append(np.asarray(carry["noise"]))
        return original(self, state, obs, carry, deterministic)

    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as m:
        m.setattr(DDPG, "act", recording)
        train(_ddpg_run(210), tmp_path / "c", progress=False, tensorboard=False)
    assert len(seen) == 160  # steps 50..209
    assert np.all(seen[0] == 0) and np.all(seen[150] == 0)  # steps 50 (first act) and 200 (a new episode)
    assert np.all(np.abs(seen[149]) > 0) and np.all(np.abs(seen[151]) > 0)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_ddpg_with_ou_noise_in_a_vmapped_run_equals_its_single_run(tmp_path, batch_norm):
    """Seed 1 of a vmapped run equals its single run: every parameter without batch normalization. With it, the
    returns and every parameter but two of the critic's: its first batch norm's bias and the running mean after it,
    the leaves found to differ (by 0.06). In training mode the next batch norm subtracts any shift of that bias, so
    its gradient is float rounding alone, which Adam turns into steps of its learning rate's size, different in the
    two runs. Other biases just before a batch norm have the same zero gradient and happen to round alike here."""
    from memb.training.multiseed import train_seeds

    def run(seed=0):
        r = _ddpg_run(300, seed=seed)
        return dataclasses.replace(r, agent=dataclasses.replace(r.agent, policy_batch_norm=batch_norm,
                                                                value_batch_norm=batch_norm))  # fmt: skip

    multi = train_seeds(run(), [0, 1], [tmp_path / "m0", tmp_path / "m1"], progress=False, tensorboard=False)
    single = train(run(seed=1), tmp_path / "s1", progress=False, tensorboard=False)
    np.testing.assert_allclose(
        [r["return_mean"] for r in multi[1].eval_rows], [r["return_mean"] for r in single.eval_rows], rtol=1e-4
    )
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(single.state)[0]]
    diffs = [float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
             for a, b in zip(jax.tree.leaves(multi[1].state), jax.tree.leaves(single.state), strict=True)]  # fmt: skip
    drifting = ("['BatchNorm_0']['bias']", "['BatchNorm_1']['mean']")  # the shift-invariant ones
    checked = [d for path, d in zip(paths, diffs, strict=True)
               if not (batch_norm and "['Vmap_Q_0']" in path and any(n in path for n in drifting))]  # fmt: skip
    # at most those 2 leaves in each of the params, the target and Adam's two moments are left out
    assert len(checked) >= len(diffs) - (8 if batch_norm else 0) and max(checked) < 1e-3


def test_ou_noise_is_kept_unclipped_while_the_action_is_clipped():
    """σ = 5: the actions sit inside [−1, 1] (mostly at its ends), the process's own value is not clipped."""
    agent, state = _td3(DDPG, exploration_noise=5.0)
    obs = np.zeros(3, np.float32)
    carry = agent.act_carry(jax.random.PRNGKey(3))
    actions, noises = [], []
    for _ in range(20):
        action, carry = agent.act(state, obs, carry)
        actions.append(action)
        noises.append(np.asarray(carry["noise"]))
    assert np.abs(actions).max() <= 1.0 and np.mean(np.abs(actions) == 1.0) > 0.5
    assert np.abs(noises).max() > 3.0


def test_ddpg_runs_saved_before_ou_noise_read_back_as_gaussian(tmp_path):
    """A DDPG config.json without `exploration` (every run before OU noise) is read as Gaussian, by resume and
    evaluate (read_run_config), by the experiment grid's check of a finished run (RunConfig.from_saved) and by
    `--config`; likewise the loss scale (½ before session 12) and the batch norms (none before session 10)."""
    import json

    from memb.training.trainer import read_run_config

    new = RunConfig("ddpg", TrainConfig(env="Pendulum-v1"), DDPGConfig()).to_dict()
    assert new["agent"]["exploration"] == "ou"
    later = ("exploration", "ou_theta", "value_loss_scale", "policy_batch_norm", "value_batch_norm")
    old = {**new, "agent": {k: v for k, v in new["agent"].items() if k not in later}}  # before session 10
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert read_run_config(tmp_path).agent.exploration == "gaussian"
    assert RunConfig.from_saved(old).agent.exploration == "gaussian"
    assert RunConfig.from_saved(new).agent.exploration == "ou"
    assert RunConfig.from_saved({**old, "algo": "td3"}).agent.exploration == "gaussian"  # TD3's own default
    # and before the paper's loss scale: TD3's ½
    assert RunConfig.from_saved(old).agent.value_loss_scale == 0.5
    assert RunConfig.from_saved(new).agent.value_loss_scale == 1.0
    ou_only = {**new, "agent": {k: v for k, v in new["agent"].items() if k != "value_loss_scale"}}  # session 11's
    assert RunConfig.from_saved(ou_only).agent.value_loss_scale == 0.5
    assert RunConfig.from_saved(ou_only).agent.exploration == "ou"
    assert read_run_config(tmp_path).agent.value_loss_scale == 0.5
    # and before batch normalization was an option (the paper's, on in today's preset): none
    assert new["agent"]["policy_batch_norm"] and new["agent"]["value_batch_norm"]
    saved = read_run_config(tmp_path).agent
    assert not saved.policy_batch_norm and not saved.value_batch_norm
    assert not RunConfig.from_saved(old).agent.policy_batch_norm
    assert RunConfig.from_saved(new).agent.policy_batch_norm and RunConfig.from_saved(new).agent.value_batch_norm
    actor_only = {**new, "agent": {k: v for k, v in new["agent"].items() if k != "value_batch_norm"}}  # session 10's
    assert RunConfig.from_saved(actor_only).agent.policy_batch_norm
    assert not RunConfig.from_saved(actor_only).agent.value_batch_norm
    off = {**new, "agent": {**new["agent"], "policy_batch_norm": False}}  # a saved choice is kept
    assert not RunConfig.from_saved(off).agent.policy_batch_norm and RunConfig.from_saved(off).agent.value_batch_norm
    # and a run's own config.json passed back in as `--config` reads the same way
    from memb.experiments import resolve

    (tmp_path / "config.json").write_text(json.dumps({**old, "versions": {"memb": "0.1.0"}}))
    run, _ = resolve({}, algo="ddpg", config_file=tmp_path / "config.json")
    assert run.agent.exploration == "gaussian" and run.agent.value_loss_scale == 0.5
    assert not run.agent.policy_batch_norm and not run.agent.value_batch_norm
    (tmp_path / "mine.json").write_text(json.dumps({"algo": "ddpg", "agent": {"tau": 0.01}}))  # not a run's: preset
    run, _ = resolve({}, algo="ddpg", config_file=tmp_path / "mine.json")
    assert run.agent.tau == 0.01 and run.agent.policy_batch_norm and run.agent.exploration == "ou"
