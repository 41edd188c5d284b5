"""The real-data replay buffer D: a NumPy ring buffer sampled with a seeded NumPy generator.

Its memory is taken in full when it is made (every page written once), not page by page as it fills: a buffer that
does not fit fails in the first second with a one-line error instead of hours into a run, and a run's resident
memory is flat from its first epoch on, so that any growth is a leak (benchmarks/memory.py checks this).
"""

from __future__ import annotations

import jax
import numpy as np

from memb.agents.common import Batch
from memb.config import ConfigError

FLOATS = 4  # bytes of one float32


def buffer_bytes(capacity: int, obs_dim: int, act_dim: int) -> int:
    """Bytes of a buffer: obs, next_obs, action, reward, terminated and log μ(a|s) per transition, float32."""
    return capacity * FLOATS * (2 * obs_dim + act_dim + 3)


def available_bytes() -> int | None:
    """Memory available to a new allocation (Linux MemAvailable), or None where it can't be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_buffer_fits(capacity: int, obs_dim: int, act_dim: int, copies: int = 1) -> None:
    """A one-line ConfigError when `copies` buffers of `capacity` transitions would not fit in the available memory."""
    need, free = copies * buffer_bytes(capacity, obs_dim, act_dim), available_bytes()
    if free is not None and need > free:
        what = "a replay buffer" if copies == 1 else f"{copies} replay buffers (one per seed)"
        raise ConfigError(
            f"{what} of {capacity:,} transitions need{'s' if copies == 1 else ''} {_size(need)} but only "
            f"{_size(free)} of memory is available; lower buffer_size (--buffer-size)"
        )


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _allocated(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array of zeros whose pages are all resident (np.zeros maps them lazily)."""
    array = np.empty(shape, np.float32)
    array.fill(0.0)
    return array


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int):
        check_buffer_fits(capacity, obs_dim, act_dim)
        self.capacity = capacity
        self.obs = _allocated((capacity, obs_dim))
        self.action = _allocated((capacity, act_dim))
        self.reward = _allocated((capacity,))
        self.next_obs = _allocated((capacity, obs_dim))
        self.terminated = _allocated((capacity,))
        self.log_prob = _allocated((capacity,))  # log μ(a|s) of the acting policy, when recorded
        self.size = 0
        self.pos = 0  # where the next transition goes; the oldest is overwritten once full

    @property
    def nbytes(self) -> int:
        return buffer_bytes(self.capacity, self.obs.shape[1], self.action.shape[1])

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

    def sample_spec(self, num_batches: int, batch_size: int) -> Batch:
        """The shapes and dtypes of what `sample(rng, num_batches, batch_size)` returns, without drawing."""

        def spec(column: np.ndarray):
            return jax.ShapeDtypeStruct((num_batches, batch_size, *column.shape[1:]), column.dtype)

        return Batch(
            obs=spec(self.obs),
            action=spec(self.action),
            reward=spec(self.reward),
            next_obs=spec(self.next_obs),
            terminated=spec(self.terminated),
            behavior_log_prob=spec(self.log_prob),
        )

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
