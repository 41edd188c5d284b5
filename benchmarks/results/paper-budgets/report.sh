#!/bin/bash
# Curves and the report table of the paper-budget grid (run after command.sh has finished).
set -e
d=benchmarks/results/paper-budgets
.venv/bin/memb plot $d --out $d/curves.png
.venv/bin/memb report $d --steps 5000,10000,20000,30000,40000,50000 --out $d/report.md
