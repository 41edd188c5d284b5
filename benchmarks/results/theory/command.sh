#!/bin/bash
# memb theory on the recorded Pendulum (seed 0, 5k steps) and HalfCheetah (seed 0, 200k steps) runs,
# with the empirical (max input-Jacobian) and the spectral (product of layer norms) Lipschitz estimates.
set -e
for run in pendulum/seed0 halfcheetah-200k/seed0; do
  name=$(dirname $run | tr / -)
  for lip in empirical spectral; do
    .venv/bin/memb theory benchmarks/results/$run --lipschitz $lip --json benchmarks/results/theory/$name-$lip.json \
      > benchmarks/results/theory/$name-$lip.txt
  done
done
