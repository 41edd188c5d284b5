#!/bin/bash
# SAC (2018b preset: batch 256, (256, 256), one update per step, automatic alpha, 10k random steps, the policy's
# log-std clipped to [-20, 2]) on HalfCheetah-v5 at 200k steps, one run per seed; finished seeds are skipped and a
# stopped one resumes from its newest checkpoint. Public: Tianshou SAC 7877 at 200k, SB3 zoo 6700 (facts.md §4).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
D=benchmarks/results/baselines/sac-halfcheetah-200k
for seed in ${SEEDS:-0 1 2}; do
  [ -f $D/seed$seed/summary.json ] && continue
  if [ -f $D/seed$seed/config.json ]; then
    .venv/bin/memb train --resume $D/seed$seed --steps 200000 --no-progress
  else
    .venv/bin/memb train --algo sac --env HalfCheetah-v5 --steps 200000 --seed $seed --no-progress --out $D/seed$seed
  fi
done
