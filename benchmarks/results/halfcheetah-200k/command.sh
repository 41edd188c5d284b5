#!/usr/bin/env bash
# The HalfCheetah-v5 200k-step run at the paper's settings (preset "paper"), seed 0.
set -euo pipefail
cd "$(dirname "$0")/../../.."
memb train --env HalfCheetah-v5 --steps 200000 --seed "${SEED:-0}" --no-progress \
  --out "benchmarks/results/halfcheetah-200k/seed${SEED:-0}" --overwrite
