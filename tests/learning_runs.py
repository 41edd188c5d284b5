"""The suite's end-to-end learning runs, each with the check its test asserts, in one place.

A test trains its run with seed 0 and asserts the check. `benchmarks/learning_test_margins.py` trains the same runs
over several seeds and records where each lands against its check: a run's path differs between CPU kinds (XLA
compiles for the CPU it runs on), so a check must hold with room across seeds on one machine, which stand in for that
spread, and not only for the one path that seed 0 takes on the machine where the test was written.

All are on Pendulum-v1, where an untrained policy scores about −1150 to −1800 and a good one −150 to −250.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memb.agents import DDPGConfig, MBPOConfig, MEMBConfig, SACConfig, SVGConfig, TD3Config
from memb.training import RunConfig, TrainConfig, train


@dataclass(frozen=True)
class LearningRun:
    algo: str
    agent: object  # the agent's config
    steps: int
    epoch_length: int  # one evaluation after each
    eval_episodes: int
    check: Callable[[list[float]], bool]  # on the evaluation returns, in order
    rule: str  # the check in words

    def config(self, seed: int = 0) -> RunConfig:
        settings = TrainConfig(
            env="Pendulum-v1",
            steps=self.steps,
            epoch_length=self.epoch_length,
            eval_episodes=self.eval_episodes,
            seed=seed,
        )
        return RunConfig(self.algo, settings, self.agent)

    def returns(self, out: Path, seed: int = 0) -> list[float]:
        """Train this run into `out`; its evaluation returns, in order."""
        result = train(self.config(seed), out, progress=False, tensorboard=False)
        return [row["return_mean"] for row in result.eval_rows]


def _reaches(level: float) -> tuple[Callable[[list[float]], bool], str]:
    return (
        lambda r: r[0] < -900 and max(r[-2:]) > level,
        f"first evaluation < -900 and the best of the last two > {level}",
    )


def _gains(by: float, last: int) -> tuple[Callable[[list[float]], bool], str]:
    return (
        lambda r: r[0] < -900 and max(r[-last:]) - r[0] > by,
        f"first evaluation < -900 and the best of the last {last} more than {by} above it",
    )


LEARNING_RUNS: dict[str, LearningRun] = {
    # MEMB with the paper's Pendulum m = 5 on small networks
    "memb": LearningRun(
        "memb",
        MEMBConfig(
            model_hidden=(32, 16),
            policy_hidden=(64, 64),
            value_hidden=(64, 64),
            random_steps=500,
            model_warmup_steps=500,
            updates_per_step=5,
        ),
        4000,
        500,
        4,
        *_reaches(-400),
    ),
    # SVG(1)-ER (--algo svg) with α = 0.2
    "svg": LearningRun(
        "svg",
        SVGConfig(model_warmup_steps=1000, model_hidden=(64, 64), alpha=0.2),
        4000,
        1000,
        5,
        *_gains(500, 3),
    ),
    # SAC at the SB3 zoo's Pendulum learning rate (1e-3)
    "sac": LearningRun(
        "sac",
        SACConfig(random_steps=1000, batch_size=128, policy_lr=1e-3, value_lr=1e-3, alpha_lr=1e-3),
        4000,
        1000,
        5,
        *_reaches(-400),
    ),
    # TD3 with 2 updates per env step on (128, 128) networks (one update on (256, 256) is too slow for 4000 steps)
    "td3": LearningRun(
        "td3",
        TD3Config(
            random_steps=1000,
            batch_size=128,
            policy_lr=1e-3,
            value_lr=1e-3,
            updates_per_step=2,
            policy_hidden=(128, 128),
            value_hidden=(128, 128),
        ),
        4000,
        1000,
        5,
        *_reaches(-700),
    ),
    # DDPG with its (400, 300) networks, τ = 0.005 instead of its 0.001 (whose targets move too slowly for so short a
    # run), without the preset's batch normalization (next)
    "ddpg": LearningRun(
        "ddpg",
        DDPGConfig(
            random_steps=1000,
            batch_size=128,
            policy_lr=1e-3,
            value_lr=1e-3,
            tau=0.005,
            policy_batch_norm=False,
            value_batch_norm=False,
        ),
        4000,
        1000,
        5,
        *_reaches(-700),
    ),
    # the preset's DDPG, batch norms included: it learns Pendulum more slowly, so the check is a gain, not a level
    "ddpg-bn": LearningRun(
        "ddpg",
        DDPGConfig(random_steps=1000, batch_size=128, policy_lr=1e-3, value_lr=1e-3, tau=0.005),
        4000,
        1000,
        5,
        *_gains(250, 2),
    ),
    # MBPO: 3 models of (64, 64), k = 1, 5 SAC updates per step on (128, 128) networks, at most 40 model epochs per
    # retraining. Its evaluations swing from one to the next on Pendulum (seed 0 went −725, −1318, −1368, −925 from
    # 1500 to 3000 steps, then −87 at 4000), so the check is a gain at any evaluation after the first
    "mbpo": LearningRun(
        "mbpo",
        MBPOConfig(
            random_steps=500,
            batch_size=128,
            updates_per_step=5,
            policy_hidden=(128, 128),
            value_hidden=(128, 128),
            rollout_batch_size=2000,
            model_train_freq=250,
            ensemble_size=3,
            num_elites=2,
            model_hidden=(64, 64),
            model_max_epochs=40,
            policy_lr=1e-3,
            value_lr=1e-3,
            alpha_lr=1e-3,
            termination="Pendulum-v1",
        ),
        3000,
        500,
        3,
        *_gains(400, 5),
    ),
}
