"""Resident memory and time of the held-out model-error measure over batches of changing length, padded or not.

    python benchmarks/model_error_memory.py --lengths 20

Evaluation episodes that end early (Hopper, Walker2d) give the held-out transitions of each epoch a new length.
Unpadded, the jitted measure compiles once per length and keeps every executable; padded to a power of two
(`agents.common.padded`, what `model_error` does), it compiles once per power of two. Both run here on the same
lengths (3000, 3001, ...) with MEMB's Hopper shapes, the unpadded one first. Written to
benchmarks/results/performance/model-error-memory-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from memb.agents import MEMB, MEMBConfig  # noqa: E402
from memb.agents.common import Batch  # noqa: E402
from memb.training.trainer import _resident_mb as resident_mib  # noqa: E402

from _record import header, write_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, default=20, help="how many different batch lengths")
    args = parser.parse_args()
    started = header()
    obs_dim, act_dim = 11, 3  # Hopper-v5
    agent = MEMB(MEMBConfig(), obs_dim, act_dim)
    state = agent.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)

    def batch(n: int) -> Batch:
        def f(*shape):
            return rng.normal(size=shape).astype(np.float32)

        return Batch(obs=f(n, obs_dim), action=f(n, act_dim), reward=f(n), next_obs=f(n, obs_dim), terminated=f(n) * 0)

    unpadded = jax.jit(agent.model_error_fn)  # the measure before padding: one compile per length
    paths = {
        "unpadded": lambda b: jax.block_until_ready(unpadded(state, b, np.ones(len(b.reward), bool))),
        "padded": lambda b: agent.model_error(state, b),
    }
    lengths = list(range(3000, 3000 + args.lengths))
    results = {}
    for name, measure in paths.items():
        start, t = resident_mib(), time.perf_counter()
        for n in lengths:
            measure(batch(n))
        results[name] = {
            "rss_start_mib": start,
            "rss_end_mib": resident_mib(),
            "seconds": time.perf_counter() - t,
        }
        print(name, results[name], flush=True)
    lines = [
        f"- {len(lengths)} held-out batches of lengths {lengths[0]}–{lengths[-1]}, MEMB's default networks at "
        f"Hopper's shapes ({obs_dim}, {act_dim}); the unpadded path first, then the padded one, in one process",
        "",
        "| measure | resident memory before → after (MiB) | growth per length (MiB) | seconds for all |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        growth = (r["rss_end_mib"] - r["rss_start_mib"]) / len(lengths)
        lines.append(
            f"| {name} | {r['rss_start_mib']:.0f} → {r['rss_end_mib']:.0f} | {growth:.1f} | {r['seconds']:.1f} |"
        )
    record = {**started, "lengths": lengths, "results": results}
    write_record("performance", "model-error-memory-", record, "The held-out model-error measure: padded or not", lines)


if __name__ == "__main__":
    main()
