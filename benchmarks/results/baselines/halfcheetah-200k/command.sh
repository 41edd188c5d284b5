#!/bin/bash
# SAC, TD3 and DDPG on HalfCheetah-v5 at 200k env steps, seeds 0-2, each with its own paper's preset (facts.md §6;
# SAC: 2018b, automatic alpha, log-std clipped to [-20, 2]), two runs at a time on one core each. The same command
# continues: finished runs are skipped and stopped ones resume from their newest checkpoint.
# Public: Tianshou SAC 7877 at 200k, SB3 zoo 6700 (facts.md §4).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
# Session 12: ddpg/ holds the former DDPG (its critic minimized ½ of the paper's loss, so its L2 decay weighed twice
# the paper's; ../ddpg-collapse/RESULT.md). Today's DDPG preset is another config, which this command would refuse
# there; the DDPG runs at the paper's balance are in ../ddpg-collapse/ddpg-paper-loss-s*. So only SAC and TD3 here.
.venv/bin/memb experiment --algo sac,td3 --env HalfCheetah-v5 --seeds 0-2 --steps 200000 --workers 2 \
  --no-progress --out benchmarks/results/baselines/halfcheetah-200k "$@"
