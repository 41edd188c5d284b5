"""The real-data replay buffer D: a NumPy ring buffer sampled with a seeded NumPy generator."""

from __future__ import annotations

import numpy as np

from memb.agents.common import Batch


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, act_dim), np.float32)
        self.reward = np.zeros((capacity,), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.terminated = np.zeros((capacity,), np.float32)
        self.log_prob = np.zeros((capacity,), np.float32)  # log μ(a|s) of the acting policy, when recorded
        self.size = 0
        self.pos = 0  # where the next transition goes; the oldest is overwritten once full

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward: float, next_obs, terminated: bool, log_prob: float = 0.0) -> None:
        i = self.pos
        self.log_prob[i] = log_prob
        self.obs[i] = obs
        self.action[i] = action
        self.reward[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, num_batches: int, batch_size: int) -> Batch:
        """`num_batches` independent uniform batches (with replacement), stacked on a leading axis."""
        idx = rng.integers(0, self.size, size=(num_batches, batch_size))
        return Batch(
            obs=self.obs[idx],
            action=self.action[idx],
            reward=self.reward[idx],
            next_obs=self.next_obs[idx],
            terminated=self.terminated[idx],
            behavior_log_prob=self.log_prob[idx],
        )
