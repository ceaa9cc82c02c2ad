#!/bin/bash
# Collect a (possibly still running) sweep's finished points and copy their compact results into results/runs:
#   bash scripts/commit_sweep.sh experiments/cmnist-grid.toml
# then `python scripts/render_blocks.py` and commit. Only points trained and evaluated are exported.
set -euo pipefail
file=$1
json=$(mktemp)
lazy sweep "$file" --collect --json -q > "$json"
name=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['sweep'])" "$json")
args=$(python - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = [p["run"] for p in d["points"] if p["status"] not in ("pending", "failed")]
data = sorted({p["dataset"] for p in d["points"] if p.get("dataset")})
print(" ".join(f"--only {r}" for r in runs + [f"datasets/{x}" for x in data]))
PY
)
lazy export results/runs --only "sweeps/$name" $args -q
rm -f "$json"
