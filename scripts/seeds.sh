#!/usr/bin/env bash
# Train and evaluate the Training-issue study: erm and consistency over 3 seeds,
# every other strategy and the non-lazy models once. Stops on the first failure.
#   LAZY_MNIST_DIR=../shared/data/mnist bash scripts/seeds.sh [RUNS_DIR]
set -euo pipefail
RUNS="${1:-runs}"
lazy() { command lazy "$@" --runs-dir "$RUNS" --quiet; }
lazy make-data
lazy verify-data --no-grids
runs=()
for seed in 0 1 2; do
  for s in erm consistency; do
    [ -f "$RUNS/lazy-cnn-$s-s$seed/best.pt" ] || lazy train --strategy "$s" --seed "$seed" --force
    runs+=("lazy-cnn-$s-s$seed")
  done
done
for s in lff color-entropy focal input-gradient; do
  [ -f "$RUNS/lazy-cnn-$s-s0/best.pt" ] || lazy train --strategy "$s" --force
  runs+=("lazy-cnn-$s-s0")
done
[ -f "$RUNS/small-cnn-erm-s0/best.pt" ] || lazy train --model small-cnn --strategy erm --force
runs+=("small-cnn-erm-s0")
lazy eval "${runs[@]}" --json > "$RUNS/eval-all.json"
lazy counterfactual "${runs[@]}" --json > "$RUNS/counterfactual-all.json"
echo "done: $RUNS/eval-all.json $RUNS/counterfactual-all.json"
