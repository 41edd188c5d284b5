#!/bin/bash
# Hopper-v5, MEMB paper preset plus --termination Hopper-v5 (imagined rollouts end at the known termination
# function instead of the real transition's done flag), seed 0, the paper's budget (300k).
exec .venv/bin/memb train --env Hopper-v5 --steps paper --seed 0 --termination Hopper-v5 --no-progress \
  --out benchmarks/results/hopper-termination/seed0 "$@"
