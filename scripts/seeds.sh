#!/usr/bin/env bash
# Train and evaluate a wider comparison: erm and consistency over 3 seeds,
# every other strategy and small-cnn once, then eval, counterfactual, attack, sae,
# gradcam and probe on the main runs. Resumable; stops on the first failure.
#   LAZY_MNIST_DIR=../shared/data/mnist bash scripts/seeds.sh [RUNS_DIR]
set -euo pipefail
RUNS="${1:-runs}"
lazy() { command lazy "$@" --runs-dir "$RUNS" --quiet; }
# a run that exists is resumed (a finished one trains no more epochs), a new one is trained
train_once() {
  local name="${*: -1}"
  if [ -d "$RUNS/$name" ]; then lazy train "$@" --resume; else lazy train "$@"; fi
}
lazy make-data
lazy verify-data --no-grids
runs=()
for seed in 0 1 2; do
  for s in erm consistency; do
    train_once --strategy "$s" --seed "$seed" --name "lazy-cnn-$s-s$seed"
    runs+=("lazy-cnn-$s-s$seed")
  done
done
for s in lff color-entropy focal input-gradient; do
  train_once --strategy "$s" --name "lazy-cnn-$s-s0"
  runs+=("lazy-cnn-$s-s0")
done
train_once --model small-cnn --strategy erm --name small-cnn-erm-s0
runs+=("small-cnn-erm-s0")
lazy eval "${runs[@]}" --json > "$RUNS/eval-all.json"
lazy counterfactual "${runs[@]}" --json > "$RUNS/counterfactual-all.json"
lazy attack lazy-cnn-erm-s0 lazy-cnn-consistency-s0 lazy-cnn-input-gradient-s0 --json > "$RUNS/attack.json"
lazy sae lazy-cnn-erm-s0 lazy-cnn-consistency-s0 --json > "$RUNS/sae.json"
lazy gradcam lazy-cnn-erm-s0 lazy-cnn-consistency-s0 --json > "$RUNS/gradcam.json"
lazy probe lazy-cnn-erm-s0 lazy-cnn-consistency-s0 --json > "$RUNS/probe.json"
echo "done: $RUNS/eval-all.json $RUNS/counterfactual-all.json"
