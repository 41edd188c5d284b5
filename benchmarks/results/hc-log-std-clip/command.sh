#!/bin/bash
# Is MEMB's stall on HalfCheetah-v5 seeds 1 and 2 (return near 0 for 40k steps with the paper preset's tanh-mapped
# log-std, time-to-return-2026-12-01T1316.md) the nearly deterministic start? The same preset with SAC's clipped
# log-std, the time-to-return protocol (evaluation every 1000 steps, 5 deterministic episodes), up to 40k steps
# or 3000. Resumable: the same command continues.
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds 1-2 --steps 40000 --log-std-bound clip --epoch-length 1000 \
  --eval-episodes 5 --stop-return 3000 --workers 2 --no-progress --out benchmarks/results/hc-log-std-clip "$@"
