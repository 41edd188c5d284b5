#!/bin/bash
# Pendulum-v1 (50k) and InvertedPendulum-v5 (40k) at the paper's budgets and presets, 5 seeds each.
exec .venv/bin/memb experiment --env InvertedPendulum-v5,Pendulum-v1 --seeds 0-4 --steps paper --workers 2 \
  --out benchmarks/results/paper-budgets "$@"
