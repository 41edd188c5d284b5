#!/bin/bash
# SAC's policy log-std: clipped to [-20, 2] (SAC's own code and SB3; memb's SAC default from this commit) against
# MEMB's tanh mapping onto [-20, 2] (memb's SAC before it), InvertedPendulum-v5, SAC preset (10k random steps,
# batch 256, one update per step, automatic alpha), 30k steps: clip for seeds 0-2, tanh for seed 0 (seeds 1 and 2 of
# tanh are ../pre-log-std-fix/inverted-pendulum, to 22k). Public: SB3 SAC reaches 1000 at 16k steps
# (facts.md §5), Tianshou SAC from about 20k (§4).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
D=benchmarks/results/baselines/sac-log-std
for run in ${RUNS:-clip:0 tanh:0 clip:1 clip:2}; do
  bound=${run%:*} seed=${run#*:}
  [ -f $D/$bound/seed$seed/summary.json ] && continue
  .venv/bin/memb train --algo sac --env InvertedPendulum-v5 --log-std-bound $bound --steps 30000 --seed $seed \
    --no-progress --overwrite --out $D/$bound/seed$seed
done
