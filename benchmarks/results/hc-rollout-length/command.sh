#!/bin/bash
# Is MEMB's stall on HalfCheetah-v5 seeds 1 and 2 (time-to-return-2026-12-01T1316.md) the one-step horizon of the
# policy objective? In the stalled runs Q is the entropy bonus alone (alpha H / (1 - gamma), hc-model-delta), so V is
# flat and the policy's gradient through V(f(s, a)) carries little; with k = 3 imagined steps (Algorithm 1's rollout
# length, the knob the paper's Theorem 2 is about) the model's rewards of three steps reach the action. The paper preset
# otherwise (alpha = 0.4), the time-to-return protocol (evaluation every 1000 env steps, 5 deterministic episodes), up
# to 30k steps or 3000. Resumable: the same command continues.
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds 1-2 --steps 30000 --rollout-length 3 --epoch-length 1000 \
  --eval-episodes 5 --stop-return 3000 --workers 1 --no-progress --out benchmarks/results/hc-rollout-length "$@"
