#!/bin/bash
# Hopper-v5 at the paper's budget (300k env steps), MEMB paper preset, seed 0.
exec .venv/bin/memb train --env Hopper-v5 --steps paper --seed 0 --no-progress --out benchmarks/results/hopper-300k/seed0 "$@"
