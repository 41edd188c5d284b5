#!/bin/bash
# SVG(1)-ER (--algo svg: MEMB's code with the policy gradient at real transitions, importance weights capped at 5,
# one round per env step, alpha = 0) for Figure 1, each task with the MEMB paper's preset for it, one run at a time:
# InvertedPendulum-v5 at the paper's 40 epochs, seeds 0-2; HalfCheetah-v5 and Hopper-v5 at 100k, seed 0 (what the
# end of session 10 allowed on one core each; `memb experiment ... --steps 200000` on the same --out extends them).
# The same command continues: finished runs are skipped, stopped ones resume from their newest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=benchmarks/results/baselines/svg
case "${1:-all}" in
  ip | all) .venv/bin/memb experiment --algo svg --env InvertedPendulum-v5 --seeds 0-2 --steps 40000 --workers 1 \
    --no-progress --out $OUT/inverted-pendulum ;;&
  hc | all) .venv/bin/memb experiment --algo svg --env HalfCheetah-v5 --seeds 0 --steps 100000 --workers 1 \
    --no-progress --out $OUT/halfcheetah ;;&
  hopper | all) .venv/bin/memb experiment --algo svg --env Hopper-v5 --seeds 0 --steps 100000 --workers 1 \
    --no-progress --out $OUT/hopper ;;
esac
