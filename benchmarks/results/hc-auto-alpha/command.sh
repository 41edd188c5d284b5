#!/bin/bash
# MEMB's HalfCheetah-v5 preset (the paper's α = 0.4, fixed) stalls near 0 on seeds 1 and 2 for 40k+ steps
# (../performance/time-to-return-2026-12-01T1316.md); α = 0.2 unstalls them only slowly (../hc-alpha/). Does MEMB's
# automatic α (SAC's rule, target entropy −dim A = −6, starting from the preset's 0.4) unstall them? The
# time-to-return protocol: evaluation every 1000 steps, 5 deterministic episodes, up to 40k steps or 3000.
# Resumable: the same command continues.
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds 0-2 --steps 40000 --auto-alpha true --epoch-length 1000 \
  --eval-episodes 5 --stop-return 3000 --workers 2 --no-progress --out benchmarks/results/hc-auto-alpha "$@"
