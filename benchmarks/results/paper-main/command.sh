#!/bin/bash
# Issue 3's table: MEMB at the paper's budgets on the four tasks run so far, beside the paper's and public numbers.
# Reads the runs recorded in ../paper-budgets (Pendulum-v1, InvertedPendulum-v5: 5 seeds), ../halfcheetah-200k and
# ../hopper-300k (seed 0 each); each has its own command and commit. Writes only into this folder.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=benchmarks/results
RUNS=($R/paper-budgets/memb $R/halfcheetah-200k/seed0 $R/hopper-300k/seed0)
.venv/bin/memb plot --label algo "${RUNS[@]}" --out $R/paper-main/curves.png
.venv/bin/memb report --label algo "${RUNS[@]}" --steps 10000,40000,50000,100000,200000,300000 --out $R/paper-main/report.md
