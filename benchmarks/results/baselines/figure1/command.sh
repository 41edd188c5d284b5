#!/usr/bin/env bash
# Figure 1 in the paper's form, with the runs there are so far: one panel per task, one curve (mean ± std over seeds)
# per algorithm, the paper's and public numbers as markers; and the report table beside the paper's numbers. Reads
# runs recorded elsewhere under benchmarks/results/ (each with its own command and commit); writes only here.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
R=benchmarks/results
OUT=$R/baselines/figure1
RUNS=(
  # InvertedPendulum-v5: MEMB at the paper's budget (5 seeds); SAC with its clipped log-std (3 seeds, 30k steps);
  # MBPO (seed 0, stopped at 4k steps)
  $R/paper-budgets/memb/InvertedPendulum-v5-s{0,1,2,3,4}
  $R/baselines/sac-log-std/clip
  $R/baselines/mbpo-inverted-pendulum
  # SVG(1)-ER at the paper's 40 epochs, seeds 0-2 (svg/command.sh)
  $R/baselines/svg/inverted-pendulum
  # HalfCheetah-v5: MEMB seed 0 at 200k; SAC and TD3 at 200k, seeds 0-2 (halfcheetah-200k/index.csv has each
  # run's status and step). DDPG (session 13): the preset, the paper's critic loss and batch normalization, seeds
  # 0-2 at 200k (ddpg-collapse/RESULT.md; 5 evaluation episodes, not 10). Left out: halfcheetah-200k/ddpg, the
  # former DDPG whose decay weighed twice the paper's, and ddpg-collapse/ddpg-paper-loss-s*, session 12's DDPG at
  # the paper's balance without batch normalization
  $R/halfcheetah-200k/seed0
  $R/baselines/halfcheetah-200k/sac
  $R/baselines/halfcheetah-200k/td3
  $R/baselines/ddpg-collapse/ddpg-paper-bn-s0
  $R/baselines/ddpg-collapse/ddpg-paper-bn-s1
  $R/baselines/ddpg-collapse/ddpg-paper-bn-s2
  # SVG(1)-ER, seed 0, 100k (svg/command.sh hc)
  $R/baselines/svg/halfcheetah
  # MBPO (its own settings), seed 0, as far as one core ran it in one session (mbpo-halfcheetah/RESULT.md)
  $R/baselines/mbpo-halfcheetah
  # Hopper-v5: MEMB seed 0 at the paper's 300k; MBPO seed 0 (its own settings) as far as one core ran it in one
  # session (mbpo-hopper/RESULT.md)
  $R/hopper-300k/seed0
  $R/baselines/mbpo-hopper
  # SAC and TD3, seeds 0-2, 100k (hopper-100k/command.sh); DDPG, the preset (the paper's critic loss and batch
  # normalization), seeds 0-2, 100k (ddpg-collapse/); left out: hopper-100k/ddpg, the former DDPG, and
  # ddpg-collapse/ddpg-paper-loss-hopper-s0, session 12's without batch normalization
  $R/baselines/hopper-100k/sac
  $R/baselines/hopper-100k/td3
  $R/baselines/ddpg-collapse/ddpg-paper-bn-hopper-s0
  $R/baselines/ddpg-collapse/ddpg-paper-bn-hopper-s1
  $R/baselines/ddpg-collapse/ddpg-paper-bn-hopper-s2
  # SVG(1)-ER, seed 0, 100k (svg/command.sh hopper)
  $R/baselines/svg/hopper
)
.venv/bin/memb plot --label algo "${RUNS[@]}" --out $OUT/figure1.png
.venv/bin/memb report --label algo "${RUNS[@]}" --steps 5000,10000,20000,30000,40000,100000,200000,300000 --out $OUT/report.md
