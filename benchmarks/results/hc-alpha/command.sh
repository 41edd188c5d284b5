#!/bin/bash
# Is MEMB's stall on HalfCheetah-v5 seeds 1 and 2 (time-to-return-2026-12-01T1316.md) the preset's fixed α = 0.4?
# In the stalled runs (hc-log-std-clip) the policy's entropy estimate stayed at 0.8-1.8 nats from 8k to 24k while
# the seed that learned fell to -0.9 by 16k. The same preset with α = 0.2, the time-to-return protocol (evaluation
# every 1000 steps, 5 deterministic episodes), up to 40k steps or 3000. Resumable: the same command continues.
# Session 10: seed 0 added (the seed that learned at 0.4), as the third seed at 0.2.
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds 0-2 --steps 40000 --alpha 0.2 --epoch-length 1000 \
  --eval-episodes 5 --stop-return 3000 --workers 1 --no-progress --out benchmarks/results/hc-alpha "$@"
