"""Small environments the tests register: bad action spaces, and an env with known terminal/truncation steps."""

import gymnasium as gym
import numpy as np


class UnboundedActionEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


class CountdownEnv(gym.Env):
    """Terminates after 3 steps in odd episodes; even episodes run into the TimeLimit of 5 (truncation)."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
    action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def __init__(self):
        self.episode = -1
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.t, self.episode % 2], np.float32)

    def step(self, action):
        assert -2.0 <= float(action[0]) <= 2.0
        self.t += 1
        terminated = self.episode % 2 == 1 and self.t == 3
        return self._obs(), float(action[0]), terminated, False, {}


def register() -> None:
    if "MembTestUnbounded-v0" not in gym.registry:
        gym.register("MembTestUnbounded-v0", entry_point=UnboundedActionEnv, max_episode_steps=10)
    if "MembTestCountdown-v0" not in gym.registry:
        gym.register("MembTestCountdown-v0", entry_point=CountdownEnv, max_episode_steps=5)


register()


class NaNEnv(CountdownEnv):
    """Returns a NaN observation at its 7th step."""

    def reset(self, *, seed=None, options=None):
        self.total = getattr(self, "total", 0)
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.total += 1
        if self.total == 7:
            obs = np.array([np.nan, 0.0], np.float32)
        return obs, reward, terminated, truncated, info


if "MembTestNaN-v0" not in gym.registry:
    gym.register("MembTestNaN-v0", entry_point=NaNEnv, max_episode_steps=5)
