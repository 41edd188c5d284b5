#!/bin/bash
# Session 14: a MEMB HalfCheetah-v5 run with a 1M buffer to 200k env steps, for issue 7's "no growth over time" on MEMB
# itself (session 12's MEMB record reached only 50k). Pinned to one core (taskset -c 1) beside other work; the paper
# preset (alpha 0.4, m = 5). The recorded run was this same `memb train` line, run from a worktree at f0d38cc with
# --out runs/memb-hc-1m-s0 and copied here without state.msgpack and checkpoints/; this file re-runs it in place. Then
#   python benchmarks/memory.py --from-run benchmarks/results/performance/memory-memb-hc-200k/memb-hc-1m-s0 \
#     --record memory-memb-hc-200k-s0-
set -euo pipefail
cd "$(dirname "$0")"
taskset -c 1 ../../../../.venv/bin/memb train --env HalfCheetah-v5 --algo memb --steps 200000 --buffer-size 1000000 \
  --no-progress --out memb-hc-1m-s0 "$@"
