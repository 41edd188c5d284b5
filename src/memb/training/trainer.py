"""The trainer: one env loop, one evaluation protocol and one run directory for every agent.

Run directory:
    config.json     the resolved configuration (and library versions)
    eval.csv        step, return_mean, return_std, ... after every epoch
    metrics.csv     losses, model error on held-out real transitions, updates/s, env steps/s, per epoch
    tb/             TensorBoard event files of the same numbers
    state.msgpack   the final agent state (parameters, target networks, optimizer states)
    summary.json    the final evaluation and timings, written last
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import flax.serialization
import jax
import numpy as np

from memb.agents import AGENTS
from memb.training.buffer import ReplayBuffer
from memb.training.config import RunConfig
from memb.training.envs import ActionScaler, EnvSource, make_env
from memb.training.evaluation import evaluate
from memb.training.io import write_bytes_atomic, write_csv_atomic, write_json_atomic


class RunDirError(ValueError):
    """The output directory cannot be used; one line that says what to do."""


@dataclass
class TrainResult:
    run_dir: Path
    eval_rows: list[dict]
    metric_rows: list[dict]
    state: object
    buffer: ReplayBuffer

    @property
    def final_return(self) -> float:
        return self.eval_rows[-1]["return_mean"]


def check_run_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; choose a directory path")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise RunDirError(f"--out {out} exists and is not empty; choose another path or pass --overwrite")


def build_agent(config: RunConfig, env):
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]
    return AGENTS[config.algo](config.agent, obs_dim, act_dim)


def versions() -> dict[str, str]:
    import flax
    import gymnasium
    import optax

    import memb

    return {
        "memb": memb.__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "gymnasium": gymnasium.__version__,
        "device": str(jax.devices()[0]),
    }


def train(
    config: RunConfig,
    out: str | Path,
    *,
    env: EnvSource | None = None,
    overwrite: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train `config.algo` on `env` (default: `config.train.env`) and write the run directory `out`."""
    tc = config.train
    out = Path(out)
    check_run_dir(out, overwrite)
    source = env if env is not None else tc.env
    train_env = make_env(source)
    eval_envs = [make_env(tc.env if env is None or isinstance(env, str) else env) for _ in range(tc.eval_episodes)]
    agent = build_agent(config, train_env)
    # Everything is validated: only now is the run directory made.
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", {**config.to_dict(), "versions": versions()})

    key = jax.random.PRNGKey(tc.seed)
    init_key, act_key, eval_key = jax.random.split(key, 3)
    state = agent.init(init_key)
    rng = np.random.default_rng(tc.seed)  # random actions and replay sampling
    buffer = ReplayBuffer(min(tc.buffer_size, tc.steps), agent.obs_dim, agent.act_dim)
    scaler = ActionScaler(train_env.action_space)
    writer = _tensorboard(out) if tensorboard else None
    bar = _progress_bar(tc, progress)

    eval_rows: list[dict] = []
    metric_rows: list[dict] = []
    infos: list[dict] = []
    episode_returns: list[float] = []
    obs, _ = train_env.reset(seed=tc.seed)
    train_env.action_space.seed(tc.seed)
    episode_return, rounds, start = 0.0, 0, time.perf_counter()
    epoch_start, train_time = start, 0.0
    batch_size = agent.config.batch_size

    for step in range(tc.steps):
        # act: uniformly random first, then the stochastic policy
        if step < agent.config.random_steps:
            action = rng.uniform(-1.0, 1.0, agent.act_dim).astype(np.float32)
        else:
            action, act_key = agent.act(state, obs, act_key)
        next_obs, reward, terminated, truncated, _ = train_env.step(scaler.to_env(action))
        buffer.add(obs, action, reward, next_obs, terminated)
        episode_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            episode_returns.append(episode_return)
            episode_return = 0.0
            obs, _ = train_env.reset()

        # learn: every update of this env step in one jitted call
        num_batches = agent.batches_per_step(step)
        if num_batches and len(buffer) >= batch_size:
            batches = buffer.sample(rng, num_batches, batch_size)
            state, info = agent.update(state, batches, step)
            infos.append(info)
            if step >= agent.config.model_warmup_steps:
                rounds += agent.config.updates_per_step
        if bar is not None:
            bar.update(1)

        # evaluate at the end of every epoch, and at the very end
        if (step + 1) % tc.epoch_length == 0 or step + 1 == tc.steps:
            jax.block_until_ready(state)
            epoch_time = time.perf_counter() - epoch_start
            train_time += epoch_time
            steps_in_epoch = (step % tc.epoch_length) + 1
            result = evaluate(agent, state, eval_envs, eval_key, seeds=_eval_seeds(tc) if not eval_rows else None)
            eval_row = {"step": step + 1, **result.row(), "time": time.perf_counter() - start}
            eval_rows.append(eval_row)
            metric_row = {
                "step": step + 1,
                "episodes": len(episode_returns),
                "train_return": float(np.mean(episode_returns[-10:])) if episode_returns else float("nan"),
                "alpha": getattr(agent.config, "alpha", float("nan")),
                **_mean_infos(infos),
                **(agent.model_error(state, result.transitions) if result.transitions is not None else {}),
                "updates_per_s": rounds / epoch_time,
                "env_steps_per_s": steps_in_epoch / epoch_time,
                "time": time.perf_counter() - start,
            }
            metric_rows.append(metric_row)
            write_csv_atomic(out / "eval.csv", eval_rows)
            write_csv_atomic(out / "metrics.csv", metric_rows)
            if writer is not None:
                for k, v in eval_row.items():
                    if k != "step":
                        writer.add_scalar(f"eval/{k}", v, step + 1)
                for k, v in metric_row.items():
                    if k != "step":
                        writer.add_scalar(f"train/{k}", v, step + 1)
                writer.flush()
            if bar is not None:
                bar.set_postfix(
                    eval=f"{eval_row['return_mean']:.1f}",
                    sps=f"{metric_row['env_steps_per_s']:.0f}",
                    ups=f"{metric_row['updates_per_s']:.0f}",
                )
            infos, rounds, epoch_start = [], 0, time.perf_counter()

    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    host_state = jax.device_get(state)
    write_bytes_atomic(out / "state.msgpack", flax.serialization.to_bytes(host_state))
    write_json_atomic(
        out / "summary.json",
        {
            "final_step": tc.steps,
            "final_return_mean": eval_rows[-1]["return_mean"],
            "final_return_std": eval_rows[-1]["return_std"],
            "best_return_mean": max(r["return_mean"] for r in eval_rows),
            "train_time_s": train_time,
            "wall_time_s": time.perf_counter() - start,
        },
    )
    for e in [train_env, *eval_envs]:
        e.close()
    return TrainResult(out, eval_rows, metric_rows, host_state, buffer)


def load_state(run_dir: Path, agent):
    """The state saved at the end of a run, restored into `agent`'s state structure."""
    template = jax.device_get(agent.init(jax.random.PRNGKey(0)))
    return flax.serialization.from_bytes(template, (Path(run_dir) / "state.msgpack").read_bytes())


def _eval_seeds(tc) -> list[int]:
    # distinct from the training env's seed; later evaluations continue each eval env's own RNG
    return [tc.seed * 1000 + 100_000 + i for i in range(tc.eval_episodes)]


def _mean_infos(infos: list[dict]) -> dict[str, float]:
    if not infos:
        return {}
    host = jax.device_get(infos)
    keys = sorted({k for info in host for k in info})
    return {k: float(np.mean([info[k] for info in host if k in info])) for k in keys}


def _tensorboard(out: Path):
    from tensorboardX import SummaryWriter

    return SummaryWriter(str(out / "tb"))


def _progress_bar(tc, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=tc.steps, desc=tc.env, unit="step", mininterval=1.0, dynamic_ncols=True)
