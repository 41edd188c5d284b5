#!/bin/bash
# HalfCheetah-v5 with fewer actor-critic rounds per env step (m, `updates_per_step`; the preset has 5), session 16.
# Issue 7's time-to-return goal: MEMB's env step costs 2-3x SB3 SAC's because it runs m = 5 rounds against SAC's one
# update, so MEMB wins in wall-clock only if it needs far fewer env steps, which seeds 1 and 2 do not. With m = 1 or 2
# an env step costs about what SB3's does or less; the question is how many more steps the stalled seeds then need.
# Time-to-return protocol (evaluation every 1000 env steps, 5 deterministic episodes), up to 60k steps or 3000.
# Resumable: the same command continues. Usage: SEEDS=1 command.sh m1|m2 [extra flags]
set -euo pipefail
cd "$(dirname "$0")/../../.."
variant=$1; shift
case "$variant" in
  m1) m=1 ;;
  m2) m=2 ;;
  *) echo "command.sh: variant must be m1 or m2, got '$variant'" >&2; exit 2 ;;
esac
.venv/bin/memb experiment --env HalfCheetah-v5 --seeds "${SEEDS:-1-2}" --steps 60000 --updates-per-step "$m" \
  --epoch-length 1000 --eval-episodes 5 --stop-return 3000 --workers 1 --no-progress \
  --out "benchmarks/results/hc-updates-per-step/$variant" "$@"
