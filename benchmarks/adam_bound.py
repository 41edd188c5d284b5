"""How close to the matmul roofline MEMB's update can get while it keeps Adam: a bound from parts timed alone.

    python benchmarks/adam_bound.py     # writes benchmarks/results/performance/adam-bound-<date>.json and .md

One MEMB round (batch 256, every MLP (256, 256), HalfCheetah-v5 shapes) has a fixed count of matmul FLOPs. At best
they run at the rate of the 256^3 float32 chain (`throughput.matmul_gflops`; the round's own layer shapes, timed
alone, reach about that rate: `shape_roofline.py`). The round must also take one Adam step for each of its three
optimizers (policy, value, model), an elementwise pass that reads and writes every parameter and both moments
(about 7 × 4 bytes × 442k parameters), which no matmul can hide on a CPU that runs one fused loop at a time.
This script times, in one run on an idle machine:
  - the chain (the roofline), hence the round's matmul time at the roofline;
  - the three Adam steps of m = 5 rounds alone, in one jitted `lax.scan` as in the update (no products);
  - the same with plain SGD (p ← p − η g), for comparison with `update_variants.py`'s sgd variant;
  - the whole update as memb runs it.
Bound: fraction ≤ t_matmul / (t_matmul + t_adam), the share of the roofline the update would reach if everything
but the products and Adam were free and the products ran at the chain's rate.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ACT, OBS, SETTINGS, matmul_gflops, median_of, update_rate  # noqa: E402

from memb.agents import MEMB  # noqa: E402
from memb.agents.memb import _model_params, _value_params, update_flops  # noqa: E402
from memb.experiments import resolve  # noqa: E402

from _record import header, write_record  # noqa: E402


def optimizer_ms_per_round(agent: MEMB, opts: dict, seconds: float = 3.0) -> float:
    """Milliseconds per round of the three optimizer steps alone (m rounds in one jitted scan)."""
    state = agent.init(jax.random.PRNGKey(0))
    groups = {
        "policy": state.params["policy"],
        "value": _value_params(state.params),
        "model": _model_params(state.params),
    }
    leaves = jax.tree.leaves(groups)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    noise = [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    grads = jax.tree.unflatten(jax.tree.structure(groups), noise)
    carry = (groups, {c: opts[c].init(groups[c]) for c in groups})
    m = agent.config.updates_per_step

    @jax.jit
    def steps(carry):
        def one(carry, _):
            params, opt_state = carry
            new_params, new_opt = {}, {}
            for c in params:
                updates, new_opt[c] = opts[c].update(grads[c], opt_state[c], params[c])
                new_params[c] = optax.apply_updates(params[c], updates)
            return (new_params, new_opt), None

        return jax.lax.scan(one, carry, None, length=m)[0]

    carry = jax.block_until_ready(steps(carry))

    def once():
        nonlocal carry
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            carry = steps(carry)
            calls += 1
        jax.block_until_ready(carry)
        return (time.perf_counter() - t0) / (calls * m) * 1e3

    return median_of(once)


def main() -> None:
    started = header()
    run, _ = resolve({"env": "HalfCheetah-v5", **SETTINGS["batch256-all256"]})
    agent = MEMB(run.agent, OBS, ACT)
    flops = update_flops(run.agent, OBS, ACT)["env_step"] / run.agent.updates_per_step
    n_params = sum(x.size for x in jax.tree.leaves(agent.init(jax.random.PRNGKey(0)).params))
    roofline = matmul_gflops(3.0)
    adam_ms = optimizer_ms_per_round(
        agent, {"policy": agent.policy_opt, "value": agent.value_opt, "model": agent.model_opt}
    )
    sgd_ms = optimizer_ms_per_round(agent, {c: optax.sgd(1e-4) for c in ("policy", "value", "model")})
    rounds = update_rate(agent, 4.0)
    roofline_after = matmul_gflops(3.0)  # the machine's rate may drift: both ends of the run
    roof = float(np.mean([roofline, roofline_after]))
    matmul_ms = flops / (roof * 1e9) * 1e3
    round_ms = 1e3 / rounds
    bound = matmul_ms / (matmul_ms + adam_ms)
    record = {
        **started,
        "flops_per_round": flops,
        "parameters": int(n_params),
        "roofline_gflops": [roofline, roofline_after],
        "matmul_ms_at_roofline": matmul_ms,
        "adam_ms_per_round": adam_ms,
        "sgd_ms_per_round": sgd_ms,
        "update_round_ms": round_ms,
        "update_fraction": matmul_ms / round_ms,
        "bound_with_adam": bound,
    }
    lines = [
        f"- batch 256, every MLP (256, 256), m = 5, HalfCheetah-v5 shapes: {flops / 1e9:.3f} GFLOP of matmuls per "
        f"round, {n_params:,} parameters",
        f"- the 256^3 float32 chain at the start and end of the run: {roofline:.1f} and {roofline_after:.1f} GFLOP/s",
        "",
        "| part, per round | ms |",
        "|---|---|",
        f"| the round's matmuls at the chain's rate | {matmul_ms:.3f} |",
        f"| the three Adam steps alone | {adam_ms:.3f} |",
        f"| the three SGD steps alone | {sgd_ms:.3f} |",
        f"| the whole update as memb runs it | {round_ms:.3f} |",
        "",
        f"The update reaches {matmul_ms / round_ms:.0%} of the roofline in this run. With Adam's pass as measured "
        f"alone and everything else free, it could reach at most **{bound:.0%}**; what is left between the two "
        f"({round_ms - matmul_ms - adam_ms:.3f} ms per round) is the rest of the round: activations, the policy's "
        "and models' sampling and log-densities, the losses, and products below the chain's rate.",
    ]
    write_record("performance", "adam-bound-", record, "The roofline share MEMB's update can reach with Adam", lines)


if __name__ == "__main__":
    main()
