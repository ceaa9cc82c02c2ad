"""What the AuxK loss does to dead latents on real activations (not a speed benchmark).

TopK SAEs on a trained run's penultimate-layer activations (train split), with the
auxiliary loss off, at Gao et al.'s weight (1/32) and at the study's default (0.25),
each for the study's SAE sizes; dead fraction and explained variance on held-out val
activations. One process, seed 0.

    python benchmarks/bench_sae_auxk.py [--runs-dir runs] [--run lazy-cnn-erm-s0] [--epochs 5]
"""

import argparse
import json
from pathlib import Path

import torch

from lazyartist_cli.pipeline.common import load_run
from lazyartist_cli.pipeline.sae import cache_activations, penultimate_layer
from lazyartist_cli.pipeline.splits import SplitCache
from lazyartist_cli.sae.analysis import sae_metrics
from lazyartist_cli.sae.model import SparseAutoencoder, train_sae


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--run", default="lazy-cnn-erm-s0")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    run = load_run(args.runs_dir, args.run, torch.device("cpu"))
    cache = SplitCache(args.runs_dir, torch.device("cpu"))
    dataset = run.config["train"]["dataset"]
    layer = penultimate_layer(run.model)
    acts_tr = cache_activations(run.model, layer, cache.get(dataset, "train")[2])
    acts_val = cache_activations(run.model, layer, cache.get(dataset, "val")[2])
    d = acts_tr.shape[1]
    rows = []
    for expansion, k in ((4, 8), (8, 16)):
        for coef in (0.0, 1 / 32, 0.25):
            torch.manual_seed(0)
            sae = SparseAutoencoder(d, expansion, "topk", k, aux_coef=coef)
            train_sae(sae, acts_tr, args.epochs, 256, 1e-3, 0)
            m = sae_metrics(sae.eval(), acts_val)
            rows.append({"latents": d * expansion, "k": k, "aux_coef": round(coef, 4),
                         "dead_fraction": round(m["dead_fraction"], 3), "explained_variance": round(m["explained_variance"], 4)})
            print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
