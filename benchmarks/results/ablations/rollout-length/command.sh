#!/bin/bash
# The rollout-length study on Pendulum-v1 at 8% of the paper's budget (4000 steps), seeds 0-1:
# k in {1, 2, 3, 5} at the preset's m = 5, and m in {1, 3, 10} at k = 1.
exec .venv/bin/memb ablation rollout-length --budget 0.08 --seeds 0-1 --workers 1 --no-progress \
  --out benchmarks/results/ablations/rollout-length "$@"
