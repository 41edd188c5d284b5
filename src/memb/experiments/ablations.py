"""The paper's ablations (App. B) and the rollout-length study, each a grid of configurations of the same agent.

`memb ablation NAME` runs one of them through `memb experiment`'s machinery and draws its figure in the paper's
form. Budgets are the paper's for each task; `--budget 0.25` runs a quarter of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memb.experiments.grid import Experiment


@dataclass(frozen=True)
class Ablation:
    figure: str  # what it reproduces
    envs: tuple[str, ...]
    configs: dict[str, dict[str, Any]]
    metrics: tuple[str, ...] = ()  # metrics.csv columns plotted beside the returns
    claim: str = ""  # what the paper concludes from it
    notes: tuple[str, ...] = field(default_factory=tuple)

    def experiment(self, seeds: tuple[int, ...], budget: float, envs: tuple[str, ...] | None = None) -> Experiment:
        return Experiment(
            envs=envs or self.envs,
            seeds=seeds,
            budget=budget,
            common={"steps": "paper"},
            configs=self.configs,
        )


EXPLORATION_NOISE = 0.1  # std of the action noise with α = 0; the paper does not give it


def _svg_configs() -> dict[str, dict[str, Any]]:
    configs = {}
    for source, label in (("model", "memb"), ("real", "svg")):
        for alpha in (0.0, 0.2, 0.4):
            noise = {"action_noise": EXPLORATION_NOISE} if alpha == 0 else {}
            configs[f"{label}-alpha={alpha:g}"] = {"policy_gradient": source, "alpha": alpha, **noise}
    return configs


def _rollout_configs() -> dict[str, dict[str, Any]]:
    configs = {f"k={k}": {"rollout_length": k} for k in (1, 2, 3, 5)}
    configs |= {f"k=1,m={m}": {"updates_per_step": m} for m in (1, 3, 10)}  # k=1 is the preset's m
    return configs


ABLATIONS: dict[str, Ablation] = {
    "svg": Ablation(
        "Fig. 2a: the policy gradient through the model (MEMB) against the real transition (SVG(1)), α ∈ {0, 0.2, 0.4}",
        ("HalfCheetah-v5",),
        _svg_configs(),
        claim="using imaginary data in the policy update improves learning by a wide margin",
        notes=(f"α = 0 adds Gaussian action noise of std {EXPLORATION_NOISE} (normalized units) while acting",),
    ),
    "value-expansion-pendulum": Ablation(
        "Fig. 2b: value expansion on Pendulum, H ∈ {1, 2, 5}",
        ("Pendulum-v1",),
        {f"H={h}": {"value_expansion_horizon": h} for h in (1, 2, 5)},
        claim="H = 1 (real data only) converges within several epochs; larger H learns worse",
    ),
    "value-expansion-cheetah": Ablation(
        "Fig. 2c: value expansion on HalfCheetah, H ∈ {1, 2, 5}",
        ("HalfCheetah-v5",),
        {f"H={h}": {"value_expansion_horizon": h} for h in (1, 2, 5)},
        claim="with H = 2 and H = 5 value expansion does not work at all on HalfCheetah",
    ),
    "model-error": Ablation(
        "Fig. 3: the learned models' error on held-out real transitions during training (HalfCheetah)",
        ("HalfCheetah-v5",),
        {"memb": {}},
        metrics=("model_error_state", "model_w1_state", "model_error_reward", "model_w1_reward"),
        claim="the model error falls as training goes on",
    ),
    "true-model": Ablation(
        "Fig. 4: MEMB with the true Pendulum model against the learned model",
        ("Pendulum-v1",),
        {"learned-model": {}, "true-model": {"true_model": "pendulum"}},
        claim="MEMB with the true model performs better than with the learned one",
    ),
    "rollout-length": Ablation(
        "beyond the paper: rollout length k ∈ {1, 2, 3, 5} and updates per step m ∈ {1, 3, 5, 10}",
        ("Pendulum-v1",),
        _rollout_configs(),
        claim="§4: a best k exists; too large an m hurts through the policy shift ε_π",
    ),
}
