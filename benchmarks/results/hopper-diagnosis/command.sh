#!/bin/bash
# Why does MEMB plateau at ~335 on Hopper-v5 (../hopper-300k)? Two 40k-step controls, seed 0, beside each other:
#  sac-v1: MEMB minus its models: the same value learning (V network, target V, fixed alpha 0.2), batch, m = 3,
#          the same tanh-mapped policy log-std (--log-std-bound tanh: SAC clips it by default since 5743ba6),
#          1000 random steps; the policy maximizes min Q(s, a) - alpha log pi instead of r + gamma V(f(s, a)).
#  memb-delta-norm: MEMB's Hopper preset with a model that predicts s' - s from standardized inputs.
set -euo pipefail
cd "$(dirname "$0")/../../.."
D=benchmarks/results/hopper-diagnosis
.venv/bin/memb train --env Hopper-v5 --algo sac --value-network true --auto-alpha false --alpha 0.2 --log-std-bound tanh \
  --batch-size 100 --updates-per-step 3 --random-steps 1000 --steps 40000 --seed 0 --no-progress \
  --out $D/sac-v1 "$@" &
.venv/bin/memb train --env Hopper-v5 --predict-delta true --normalize-inputs true --steps 40000 --seed 0 \
  --no-progress --out $D/memb-delta-norm "$@" &
wait
