"""User-made environments and configs built in Python: what used to crash, hang or act silently wrong (a review's
list), now either works or fails with one line that says what to do."""

import gymnasium as gym
import jax
import numpy as np
import pytest

from memb.agents.memb import MEMB, MEMBConfig
from memb.agents.sac import SACConfig
from memb.config import ConfigError
from memb.training import EnvError, RunConfig, TrainConfig, evaluation, make_env, train
from memb.training.envs import ActionScaler, check_env_label, get_env_state
from memb.training.evaluation import evaluate

from conftest import tiny_config


class EndlessEnv(gym.Env):
    """No TimeLimit and no end of its own; reset gives an int array, step floats."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.int64), {}

    def step(self, action):
        return np.full(3, 0.5), float(action[0]), False, False, {}


def test_an_env_class_without_time_limit_trains_and_its_evaluations_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(evaluation, "EVAL_STEP_CAP", 30)
    run = RunConfig(
        train=TrainConfig(env="endless", steps=40, epoch_length=20, eval_episodes=2),
        agent=tiny_config(random_steps=10, model_warmup_steps=10, batch_size=4),
    )
    result = train(run, tmp_path / "run", env=EndlessEnv, progress=False, tensorboard=False)  # the class itself
    assert [row["length_mean"] for row in result.eval_rows] == [30.0, 30.0]
    assert "EndlessEnv has no time limit, so evaluation cuts its episodes" in capsys.readouterr().err


def test_evaluation_keeps_float_observations_after_an_int_reset():
    env = EndlessEnv()
    agent = MEMB(tiny_config(), 3, 1)
    state = agent.init(jax.random.PRNGKey(0))
    wrapped = gym.wrappers.TimeLimit(env, max_episode_steps=3)
    result = evaluate(agent, state, [wrapped], jax.random.PRNGKey(1))
    np.testing.assert_array_equal(result.transitions.obs[1:], np.full((2, 3), 0.5, np.float32))


@pytest.mark.parametrize(
    "space", [gym.spaces.Box(-1, 1, (2, 2), np.float32), gym.spaces.Box(-3, 3, (2,), np.int64)], ids=["2-D", "int"]
)
def test_an_action_space_memb_cannot_drive_is_one_line(space):
    env = EndlessEnv()
    env.action_space = space
    with pytest.raises(EnvError, match="MEMB needs a 1-D floating-point Box"):
        make_env(env)


def test_actions_are_mapped_in_the_spaces_own_precision():
    space = gym.spaces.Box(-0.3, 0.7, (1,), np.float64)
    scaler = ActionScaler(space)
    for a in (-1.0, 0.2, 1.0):
        assert space.contains(scaler.to_env(np.array([a], np.float32)))
    assert scaler.to_env(np.array([-1.0], np.float32))[0] == -0.3


def test_an_env_state_json_cannot_hold_is_not_captured():
    class MethodState(EndlessEnv):
        def state(self):
            return 0

    class NumpyState(EndlessEnv):
        state = (np.float32(1.0),)

    assert get_env_state(MethodState()) is None and get_env_state(NumpyState()) is None
    pendulum = gym.make("Pendulum-v1")
    pendulum.reset(seed=0)
    assert "attrs" in get_env_state(pendulum)


def test_seeds_in_one_process_refuse_an_env_instance_before_touching_it(tmp_path):
    from memb.training.multiseed import train_seeds

    env = EndlessEnv()
    with pytest.raises(EnvError, match="not an instance"):
        train_seeds(RunConfig(), [0, 1], [tmp_path / "a", tmp_path / "b"], env=env)
    assert not (tmp_path / "a").exists()


def test_a_factory_that_returns_one_env_twice_is_refused(tmp_path):
    shared = EndlessEnv()
    with pytest.raises(EnvError, match="returned one env twice"):
        train(
            RunConfig(train=TrainConfig(env="endless"), agent=tiny_config()),
            tmp_path / "run",
            env=lambda: shared,
            progress=False,
        )
    assert not (tmp_path / "run").exists()


def test_a_missing_module_is_named():
    with pytest.raises(EnvError, match="No module named 'memb_no_such_pkg'"):
        make_env("memb_no_such_pkg:Foo-v0")


def test_configs_built_in_python_are_checked_where_they_are_made():
    with pytest.raises(ConfigError, match="agent is a SACConfig but algo 'memb' takes a MEMBConfig"):
        RunConfig(agent=SACConfig())
    with pytest.raises(ConfigError, match="train must be a TrainConfig"):
        RunConfig(train={"steps": 100})
    with pytest.raises(ConfigError, match="batch_size 100 is larger than buffer_size 50"):
        RunConfig(train=TrainConfig(buffer_size=50))
    with pytest.raises(ConfigError, match="predict_delta must be True or False, got 'false'"):
        MEMBConfig(predict_delta="false")
    with pytest.raises(ConfigError, match="trim_memory must be True or False"):
        TrainConfig(trim_memory=1)
    config = MEMBConfig(policy_hidden=[64, 64])
    assert config.policy_hidden == (64, 64) and hash(config) == hash(MEMBConfig(policy_hidden=(64, 64)))
    for bad in (float("nan"), "high"):
        with pytest.raises(ConfigError, match="target_entropy must be a finite number"):
            MEMBConfig(target_entropy=bad)
    with pytest.raises(ConfigError, match="the models would never train"):
        MEMBConfig(model_update_in_rounds=False, model_updates_per_step=0)
    MEMBConfig(model_update_in_rounds=False, model_updates_per_step=0, true_model="pendulum")  # B.3 needs none
    train_config = TrainConfig(seed=np.arange(3)[2], stop_return=None)
    assert type(train_config.seed) is int and train_config.seed == 2
    assert type(MEMBConfig(alpha=np.float32(0.25)).alpha) is float


def test_a_factory_under_another_registered_id_is_refused_before_anything_is_written(tmp_path):
    """A config resolved for Pendulum-v1 (the default env, with its paper preset) must not train a user's env under
    that name: config.json would record the wrong env."""
    with pytest.raises(
        EnvError, match="the config is for Pendulum-v1 .* makes EndlessEnv; for a new run resolve the config"
    ):
        train(RunConfig(agent=tiny_config()), tmp_path / "run", env=EndlessEnv, progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(EnvError, match="makes InvertedPendulum-v5"):
        check_env_label("Pendulum-v1", lambda: None, gym.make("InvertedPendulum-v5"))
    check_env_label("Pendulum-v1", lambda: None, gym.make("Pendulum-v1", g=9.0))  # the same task, made by the user
    check_env_label("endless", EndlessEnv, EndlessEnv())  # a label of the user's own: any env

    class SpecLost(gym.Wrapper):  # as a wrapper whose argument can't be deep-copied: gymnasium gives spec None
        spec = None

    check_env_label("Pendulum-v1", lambda: None, SpecLost(gym.make("Pendulum-v1")))  # gym.make's own spec counts
    check_env_label("Pendulum-v1", "Pendulum-v1", EndlessEnv())  # an id: memb made the env itself
