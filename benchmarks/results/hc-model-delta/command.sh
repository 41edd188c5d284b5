#!/bin/bash
# Is MEMB's stall on HalfCheetah-v5 seeds 1 and 2 (time-to-return-2026-12-01T1316.md) the dynamics model's form?
# The authors' model predicts the next state itself from raw inputs (facts.md §2), and the policy learns only
# through that model's Jacobian ∂f/∂a (eq. (5) of the paper through V(f(s, a))). Predicting s' − s from
# standardized (s, a), MBPO's form, may give a better-conditioned ∂f/∂a early. The paper preset otherwise (α = 0.4),
# the time-to-return protocol (evaluation every 1000 env steps, 5 deterministic episodes), up to 30k steps or 3000.
# Resumable: the same command continues.
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds 1-2 --steps 30000 --predict-delta true \
  --normalize-inputs true --epoch-length 1000 --eval-episodes 5 --stop-return 3000 --workers 2 --no-progress \
  --out benchmarks/results/hc-model-delta "$@"
