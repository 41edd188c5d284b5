"""Where an env step's time goes in the trainer, HalfCheetah-v5 shapes, batch 256, every MLP (256, 256).

    python benchmarks/step_overhead.py      # writes benchmarks/results/throughput/step-overhead.json

The fused update of one env step, waited for (as the trainer must: the next action needs the new policy) and
pipelined (dispatched back to back); acting, replay sampling and the env step alone. Time on an idle machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.agents import MEMB  # noqa: E402
from memb.experiments import resolve  # noqa: E402
from memb.training import ReplayBuffer, make_env  # noqa: E402
from memb.training.io import write_json_atomic  # noqa: E402

from _record import header  # noqa: E402


def per_call_ms(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e3


def main() -> None:
    started = header()
    shapes = {"batch_size": 256, "policy_hidden": "256,256", "value_hidden": "256,256", "model_hidden": "256,256"}
    run, _ = resolve({"env": "HalfCheetah-v5", **shapes})
    agent = MEMB(run.agent, 17, 6)
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(20_000, 17, 6)
    for _ in range(20_000):
        buf.add(rng.normal(size=17), rng.uniform(-1, 1, 6), rng.normal(), rng.normal(size=17), False)
    env = make_env("HalfCheetah-v5")
    obs, _ = env.reset(seed=0)
    step = agent.update_programs()[-1][0]  # the full update a long run spends its time in (unrolled)
    n = agent.batches_per_step(step)
    batches = buf.sample(rng, n, 256)
    state = agent.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    state, _ = agent.update(state, batches, step)
    agent.act(state, obs, key)
    holder = {"state": state}

    def waited():
        holder["state"], info = agent.update(holder["state"], batches, step)
        np.asarray(info["finite"])

    def pipelined():
        holder["state"], _ = agent.update(holder["state"], batches, step)

    result = {"update_waited_ms": float(np.median([per_call_ms(waited, 60) for _ in range(3)]))}
    # pipelined: dispatch back to back, wait once at the end
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(60):
            pipelined()
        jax.block_until_ready(holder["state"])
        times.append((time.perf_counter() - t0) / 60 * 1e3)
    result["update_pipelined_ms"] = float(np.median(times))
    result["act_ms"] = per_call_ms(lambda: agent.act(holder["state"], obs, key), 300)
    result["replay_sample_ms"] = per_call_ms(lambda: buf.sample(rng, n, 256), 300)
    result["env_step_ms"] = per_call_ms(lambda: env.step(np.zeros(6, np.float32)), 300)
    result["rounds_per_env_step"] = run.agent.updates_per_step
    write_json_atomic(Path(__file__).parent / "results" / "throughput" / "step-overhead.json", {**started, **result})
    print(result)


if __name__ == "__main__":
    main()
