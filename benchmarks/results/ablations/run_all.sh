#!/bin/bash
# Session 4: every figure of issue 4 in one chain (2 workers on the 2 cores), short HalfCheetah studies first.
# Pendulum H = 1 and the learned model are copies of benchmarks/results/paper-budgets/memb/Pendulum-v1-s*
# (the same configuration; the current code reproduces their eval.csv bit for bit over the first 3000 steps).
# HalfCheetah H = 1 and the model-error run are copies of svg/memb-alpha=0.4 (the preset: α 0.4, model gradient).
# A Pendulum run at 50k steps takes 20-30 min of one core here, so the 15 Pendulum runs do not fit one session: the
# same command resumes what is missing (finished runs are skipped; stopped ones restart without their checkpoints,
# which are not committed).
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=benchmarks/results/ablations
B=0.075   # HalfCheetah: 7.5% of the paper's 200k steps (15k), what the 2 cores allow beside the Pendulum runs
M=".venv/bin/memb ablation"
$M svg --budget $B --seeds 0 --out $R/svg --workers 2 --no-progress
for d in value-expansion-cheetah/H=1 model-error/memb; do
  mkdir -p $R/$d && cp -rn $R/svg/memb-alpha=0.4/HalfCheetah-v5-s0 $R/$d/
done
$M value-expansion-cheetah --budget $B --seeds 0 --out $R/value-expansion-cheetah --workers 2 --no-progress
$M model-error --budget $B --seeds 0 --out $R/model-error --workers 2 --no-progress
$M true-model --out $R/true-model --workers 2 --no-progress
$M value-expansion-pendulum --out $R/value-expansion-pendulum --workers 2 --no-progress
