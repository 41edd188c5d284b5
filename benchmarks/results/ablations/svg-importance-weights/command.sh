#!/bin/bash
# Fig. 2a's real-transition gradient (alpha 0.4, HalfCheetah's preset) with SVG(1)-ER's importance weights capped at 5,
# at the same 7.5% budget (15k steps), seed 0: does the off-policy correction stop the collapse seen in ../svg?
exec .venv/bin/memb train --env HalfCheetah-v5 --steps 15000 --seed 0 --policy-gradient real --alpha 0.4 \
  --importance-weight-cap 5 --no-progress --out benchmarks/results/ablations/svg-importance-weights/HalfCheetah-v5-s0 "$@"
