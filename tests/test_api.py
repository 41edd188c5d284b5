"""The Python API: learn, act, learn more, save, load; a custom env from a factory."""

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from memb import Agent
from memb.training import RunDirError

from conftest import TINY_RUN as TINY


def make_pendulum():
    return gym.make("Pendulum-v1")


def test_learn_act_continue_save_load_with_a_factory_env(tmp_path):
    agent = Agent(make_pendulum, out=tmp_path / "run", preset="none", seed=3, **TINY)
    with pytest.raises(RunDirError, match="not learned yet"):
        agent.act(np.zeros(3))
    agent.learn(300, progress=False)
    one = agent.act(np.array([1.0, 0.0, 0.0]))
    batch = agent.act(np.random.default_rng(0).normal(size=(5, 3)))
    assert one.shape == (1,) and batch.shape == (5, 1) and np.abs(batch).max() <= 2.0  # Pendulum's torque bound
    with pytest.raises(ValueError, match="obs must have shape"):
        agent.act(np.zeros(4))

    agent.learn(150, progress=False)  # continues from the checkpoint at 300
    assert list(pd.read_csv(tmp_path / "run" / "eval.csv")["step"]) == [150, 300, 450]

    saved = agent.save(tmp_path / "copy")
    loaded = Agent.load(saved, env=make_pendulum)
    obs = np.random.default_rng(1).normal(size=(7, 3))
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    assert loaded.config == agent.config and loaded.steps_done == 450


def test_registered_id_and_other_algos():
    agent = Agent("Pendulum-v1", algo="sac", batch_size=32, updates_per_step=2)
    assert agent.config.algo == "sac" and agent.config.agent.batch_size == 32
    assert agent.config.agent.updates_per_step == 2


def test_stochastic_ddpg_actions_follow_each_calls_batch(tmp_path):
    """DDPG's OU noise keeps no state across API calls: a batch of 5, then one observation, then a batch of 4 get
    5, 1 and 4 actions, within the bounds."""
    agent = Agent("Pendulum-v1", algo="ddpg", out=tmp_path / "run", preset="none", batch_size=16, random_steps=20,
                  policy_hidden=(16, 16), value_hidden=(16, 16), epoch_length=50, eval_episodes=1)  # fmt: skip
    agent.learn(50, progress=False)
    rng = np.random.default_rng(0)
    for n in (5, 1, 4):
        obs = rng.normal(size=(n, 3)) if n > 1 else rng.normal(size=3)
        action = agent.act(obs, deterministic=False)
        assert action.shape == (n, 1) if n > 1 else action.shape == (1,)
        assert np.abs(action).max() <= 2.0


def test_a_lambda_factory_is_named_custom_and_a_named_one_by_its_name():
    """A lambda's __name__ is "<lambda>": no name for a run directory. Neither label is a registered id, so a
    factory's env gets no paper preset that names another task."""
    assert Agent(lambda: gym.make("Pendulum-v1"), **TINY).out.as_posix() == "runs/custom-memb-s0"
    named = Agent(make_pendulum, seed=2, **TINY)
    assert named.out.as_posix() == "runs/make_pendulum-memb-s2" and named.config.train.env == "make_pendulum"
