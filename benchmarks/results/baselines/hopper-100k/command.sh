#!/bin/bash
# SAC, TD3 and DDPG on Hopper-v5 for Figure 1's Hopper panel, seed 0, 100k env steps (MBPO's official budget there),
# each with its own paper's preset (facts.md §6), one run at a time on one core. Evaluation as every baseline here:
# 10 deterministic episodes every 1000 steps. The same command continues: finished runs are skipped, stopped ones
# resume from their newest checkpoint. Public: Tianshou SAC 1766 at 100k (facts.md §4).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
# (Session 12: ddpg/ holds the former DDPG, whose critic loss was ½ of the paper's, doubling its decay; today's
# preset is another config, which the grid refuses there. This first line ran sac,td3,ddpg at seed 0; now it is
# sac,td3, and the DDPG run at the paper's balance is ../ddpg-collapse/ddpg-paper-loss-hopper-s0.)
.venv/bin/memb experiment --algo sac,td3 --env Hopper-v5 --seeds 0 --steps 100000 --workers 1 \
  --no-progress --out benchmarks/results/baselines/hopper-100k "$@"
# Session 12: seeds 1 and 2 of SAC and TD3 (SAC's seed 1 was already run).
.venv/bin/memb experiment --algo sac,td3 --env Hopper-v5 --seeds 0-2 --steps 100000 --workers 1 \
  --no-progress --out benchmarks/results/baselines/hopper-100k "$@"
