"""MBPO: the ensemble's NLL, elites by hold-out loss, the rollout schedule, the model buffer, the real/model mix,
the learned termination classifier, and a short learning test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memb import config as cfg
from memb.agents import MBPO, Batch, MBPOConfig
from memb.agents.mbpo import ModelBuffer, _insert, model_buffer_window, rollout_length
from memb.networks.ensemble import Ensemble, ensemble_loss, gaussian_nll
from memb.training import RunConfig, TrainConfig, train

from learning_runs import LEARNING_RUNS

SMALL = dict(
    batch_size=20,
    policy_hidden=(8, 8),
    value_hidden=(8, 8),
    model_hidden=(8, 8),
    ensemble_size=5,
    num_elites=3,
    rollout_batch_size=30,
    updates_per_step=2,
    random_steps=0,
)


def _mbpo(obs_dim=3, act_dim=2, **overrides):
    agent = MBPO(MBPOConfig(**{**SMALL, **overrides}), obs_dim, act_dim)
    return agent, agent.init(jax.random.PRNGKey(0))


def test_gaussian_nll_and_the_ensemble_loss_by_hand(rng):
    mean, logvar, y = (rng.normal(size=(2, 4, 3)).astype(np.float32) for _ in range(3))
    by_hand = np.mean((mean - y) ** 2 * np.exp(-logvar) + logvar, axis=(1, 2))
    np.testing.assert_allclose(gaussian_nll(mean, logvar, y), by_hand, rtol=1e-5)

    ens = Ensemble((5,), 3, size=2)
    params = ens.init(jax.random.PRNGKey(1), 4)
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    target = rng.normal(size=(2, 6, 3)).astype(np.float32)
    loss, nll = ensemble_loss(ens, params, x, target, weight_decay=0.1)
    m, lv = ens.apply(params, x)
    p = params["params"]
    kernels = sum(np.sum(np.asarray(p[layer]["kernel"]) ** 2) for layer in ("Dense_0", "Dense_1"))
    expected = np.sum(gaussian_nll(m, lv, target)) + 0.01 * (np.sum(p["max_logvar"]) - np.sum(p["min_logvar"]))
    assert float(loss) == pytest.approx(float(expected) + 0.1 * 0.5 * kernels, rel=1e-5)
    # the log-variance stays inside the learned bounds, whatever the input
    _, lv = ens.apply(params, 1e3 * x)
    assert np.all(np.asarray(lv) <= 0.5 + 1e-3) and np.all(np.asarray(lv) >= -10 - 1e-3)  # soft bounds


def test_elites_are_the_members_with_the_lowest_holdout_error(rng):
    offsets = np.array([0.3, -0.1, 0.5, 0.05, -0.2], np.float32)
    agent, state = _mbpo(model_lr=1e-12, model_max_epochs=1)
    # every member predicts a constant: its last layer's kernel zeroed, its bias the member's offset (mean part)
    last = state.model["params"]["Dense_2"]
    bias = np.zeros(last["bias"].shape, np.float32)
    bias[:, :4] = offsets[:, None]
    state = state.replace(
        model={
            "params": {
                **state.model["params"],
                "Dense_2": {"kernel": jnp.zeros_like(last["kernel"]), "bias": jnp.asarray(bias)},
            }
        }
    )
    n = 200
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    data = Batch(
        obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), np.zeros(n, np.float32), obs.copy(), np.zeros(n, np.float32)
    )  # r = 0 and s' − s = 0: member j's squared error is offset_j²
    state, info = agent.train_model(state, data, n, np.random.default_rng(0))
    assert list(np.asarray(state.elites)) == [3, 1, 4]
    assert info["model_holdout_mse"] == pytest.approx(np.mean(offsets[[3, 1, 4]] ** 2), rel=1e-4)


def test_rollout_length_schedule_and_model_buffer_window():
    c = MBPOConfig(rollout_schedule=(20, 100, 1, 15), epoch_steps=1000)
    assert [rollout_length(c, s) for s in (0, 20_999, 60_000, 100_000, 500_000)] == [1, 1, 8, 15, 15]
    assert rollout_length(c, 21_000) == int(1 / 80 * 14 + 1)
    # 100k rollouts every 250 steps = 400k per epoch, times k, times the retained epochs
    assert model_buffer_window(c, 3) == 1_200_000
    with pytest.raises(cfg.ConfigError, match="rollout_schedule"):
        MBPOConfig(rollout_schedule=(5, 2, 1, 3))
    with pytest.raises(cfg.ConfigError, match="num_elites"):
        MBPOConfig(ensemble_size=3, num_elites=5)


def test_model_buffer_appends_only_valid_rows_and_wraps():
    cap = 5
    buf = ModelBuffer(
        jnp.zeros((cap, 1)),
        jnp.zeros((cap, 1)),
        jnp.full(cap, -1.0),
        jnp.zeros((cap, 1)),
        jnp.zeros(cap),
        jnp.int32(3),
        jnp.int32(4),
    )
    reward = jnp.array([10.0, 11.0, 12.0, 13.0])
    rows = (reward[:, None], reward[:, None], reward, reward[:, None], jnp.zeros(4))
    out = _insert(buf, rows, jnp.array([True, False, True, False]))
    # two valid rows land at slots 3 and 4 in order; slots 0 and 1, which the invalid rows touched, keep their content
    np.testing.assert_array_equal(np.asarray(out.reward), [-1, -1, -1, 10, 12])
    assert int(out.ptr) == 0 and int(out.size) == 5


def test_sac_batches_mix_real_and_model_data_in_the_configured_ratio(rng):
    agent, state = _mbpo(batch_size=40, real_ratio=0.25)
    cap = agent.buffer_capacity
    # model data: reward = slot index + 1000; only the newest `window` slots may be drawn
    slots = jnp.arange(cap, dtype=jnp.float32)
    state = state.replace(buffer=state.buffer.replace(reward=slots + 1000, ptr=jnp.int32(50), size=jnp.int32(cap)))

    def spy(sac_state, batch):  # stands in for SAC's update: reports what the batch holds
        model = batch.reward >= 1000
        return sac_state, {
            "policy_loss": 0.0,
            "q_loss": 0.0,
            "real_first": jnp.all(~model[:10]),
            "n_model": jnp.sum(model),
            "lo": jnp.min(batch.reward[10:]),
            "hi": jnp.max(batch.reward),
        }

    agent.sac.update_step = spy
    real = Batch(*(np.stack([x] * 2) for x in jax.tree.leaves(_real(rng, 10))))
    _, info = jax.jit(agent.update_fn)(state, real, jnp.int32(20))
    assert bool(info["real_first"]) and int(info["n_model"]) == 30  # 10 real (25% of 40), 30 model
    assert float(info["lo"]) >= 1030 and float(info["hi"]) <= 1049  # slots ptr − 20 … ptr − 1 only


def _real(rng, n):
    return Batch(
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.uniform(-1, 1, (n, 2)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=(n, 3)).astype(np.float32),
        np.zeros(n, np.float32),
    )


def test_learned_termination_classifier_learns_a_termination_rule(rng):
    agent, state = _mbpo(termination="learned", model_max_epochs=15, model_lr=3e-3)
    n = 2000
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    next_obs = rng.normal(size=(n, 3)).astype(np.float32)
    done = (next_obs[:, 0] > 1.0).astype(np.float32)  # rare, as falls are: about 16%
    data = Batch(obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), np.zeros(n, np.float32), next_obs, done)
    state, _ = agent.train_model(state, data, n, np.random.default_rng(1))
    test = rng.normal(size=(1000, 3)).astype(np.float32)
    predicted = np.asarray(agent.termination_logit(state.termination, state, test) > 0)
    assert np.mean(predicted == (test[:, 0] > 1.0)) > 0.95


def test_rollouts_stop_at_terminal_states_and_fill_the_model_buffer():
    agent, state = _mbpo(termination="InvertedPendulum-v5", obs_dim=4, act_dim=1, rollout_batch_size=30)
    start = jnp.zeros((30, 4)).at[:10, 1].set(0.5)  # a third of the rollouts start near the angle limit
    state, info = agent.rollout(state, start, k=2)
    b = jax.device_get(state.buffer)
    first_done = b.terminated[:30]
    np.testing.assert_array_equal(first_done, np.abs(b.next_obs[:30, 1]) > 0.2)  # the task's termination function
    assert 0 < first_done.sum() < 30
    # the second step continues only the rollouts still alive, from where they were
    assert int(b.size) == 30 + (30 - first_done.sum())
    np.testing.assert_array_equal(b.obs[30 : int(b.size)], b.next_obs[:30][first_done == 0])
    assert float(info["rollout_alive"]) == pytest.approx((1 + (30 - first_done.sum()) / 30) / 2)


def test_mbpo_learns_pendulum(tmp_path):
    """3000 steps, 5 SAC updates per step on model and real data: some evaluation after the first more than 400
    above the untrained policy's (learning_runs.py has the settings and why the check is a gain)."""
    run = LEARNING_RUNS["mbpo"]
    returns = run.returns(tmp_path / "run")
    assert run.check(returns), (run.rule, returns)


def test_an_mbpo_run_checkpoints_and_resumes_with_model_metrics_in_some_updates_only(tmp_path):
    """The epoch's pending metrics differ in keys between updates (model metrics only at retraining steps): a
    checkpoint in mid-epoch holds them, and resuming from it ends where the uninterrupted run ended."""
    import shutil

    agent = MBPOConfig(**{**SMALL, "random_steps": 40, "model_train_freq": 20, "model_max_epochs": 2})
    train_config = TrainConfig(
        env="Pendulum-v1", steps=120, epoch_length=100, eval_episodes=1, checkpoint_every=50, keep_checkpoints=5
    )
    run = RunConfig("mbpo", train_config, agent)
    whole = train(run, tmp_path / "whole", progress=False, tensorboard=False)
    shutil.copytree(tmp_path / "whole", tmp_path / "resumed")
    for ckpt in sorted((tmp_path / "resumed" / "checkpoints").iterdir())[1:]:  # keep only the one at step 50
        shutil.rmtree(ckpt)
    resumed = train(run, tmp_path / "resumed", resume=True, progress=False, tensorboard=False)
    assert [r["return_mean"] for r in resumed.eval_rows] == [r["return_mean"] for r in whole.eval_rows]
    assert resumed.metric_rows[0]["model_holdout_mse"] == whole.metric_rows[0]["model_holdout_mse"]
    assert resumed.metric_rows[0]["q_loss"] == whole.metric_rows[0]["q_loss"]
