#!/usr/bin/env bash
# The study's matched-learning-rate controls (the report's "Matched learning rates"
# paragraph and its extra rows): the baseline at consistency's rate (3e-3) and
# consistency at the baseline's rate (1e-3), three seeds each, then eval.
# Run after `lazy study examples.toml --seeds 3` on the same runs dir; resumable.
#   LAZY_MNIST_DIR=../shared/data/mnist bash scripts/controls.sh [RUNS_DIR] [RUN_FILE]
set -euo pipefail
RUNS="${1:-runs}"
RUN_FILE="${2:-examples.toml}"
lazy() { python -m lazyartist_cli "$@" --runs-dir "$RUNS" --quiet; }
train_once() {  # a finished run is left as it is, a cut-off one resumed
  local name="${*: -1}"
  if [ -f "$RUNS/$name/best.pt" ]; then lazy train -c "$RUN_FILE" "$@" --resume; else lazy train -c "$RUN_FILE" "$@" --force; fi
}
runs=()
for seed in 0 1 2; do
  train_once --strategy erm --set train.lr=0.003 --seed "$seed" --name "lazy-cnn-erm-lr3-s$seed"
  train_once --strategy consistency --set train.lr=0.001 --seed "$seed" --name "lazy-cnn-consistency-lr1-s$seed"
  runs+=("lazy-cnn-erm-lr3-s$seed" "lazy-cnn-consistency-lr1-s$seed")
done
lazy eval -c "$RUN_FILE" "${runs[@]}"
lazy counterfactual -c "$RUN_FILE" "${runs[@]}"
echo "controls done: ${runs[*]}"
