"""Markdown tables from the JSON of `lazy attack`, `lazy sae`, `lazy gradcam` and `lazy probe`.

    python scripts/analysis_tables.py runs   # reads runs/{attack,sae,gradcam,probe}.json (written by scripts/seeds.sh)
"""

import json
import sys
from pathlib import Path


def pct(v: float) -> str:
    return f"{100 * v:.1f}"


def main() -> None:
    runs = Path(sys.argv[1])
    att = json.loads((runs / "attack.json").read_text())["runs"]
    first = next(iter(att.values()))
    print(f"Targeted attack {first['source_class']} -> {first['target_class']} on every {first['source_class']} of "
          f"{first['split']} (success = target class with confidence >= 0.9), eps {first['eps']}:\n")
    print("| run | FGSM success % | PGD success % | PGD mean L-inf | PGD median iterations | " +
          " | ".join(f"PGD @ {e:g}" for e in first["sweep"]["eps"]) + " |")
    print("|---|---|---|---|---|" + "---|" * len(first["sweep"]["eps"]))
    for name, r in att.items():
        f, p = r["methods"]["fgsm"], r["methods"]["pgd"]
        med = "-" if p["iterations_median"] is None else f"{p['iterations_median']:.0f}"
        print(f"| {name} | {pct(f['success_rate'])} | {pct(p['success_rate'])} | {p['linf_mean']:.4f} | {med} | " +
              " | ".join(pct(v) for v in r["sweep"]["success"]["pgd"]) + " |")
    sae = json.loads((runs / "sae.json").read_text())["runs"]
    print("\nSparse autoencoders on the penultimate layer (held-out val activations; shares of the labelled features; "
          "flip share = predictions changed on 1,000 test_easy images, mean over the intervened features):\n")
    print("| run | explained var. | L0 | dead % | acc % | acc with reconstruction % | colour % | shape % | polysemantic % "
          "| unclear % | ablate colour: flips % | ablate shape: flips % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in sae.items():
        m, sh, c = r["metrics"], r["label_shares"], r["intervention_contrast"]
        ab = lambda k: pct(c[k]["mean_flip_share"]) if k in c else "-"
        print(f"| {name} | {m['explained_variance']:.3f} | {m['l0']:.1f} | {pct(m['dead_fraction'])} | {pct(m['accuracy_val'])} | "
              f"{pct(m['accuracy_val_reconstructed'])} | {pct(sh['colour'])} | {pct(sh['shape'])} | {pct(sh['polysemantic'])} | "
              f"{pct(sh['unclear'])} | {ab('colour@0')} | {ab('shape@0')} |")
    gc = json.loads((runs / "gradcam.json").read_text())["runs"]
    print("\nGrad-CAM on test_hard (share of map mass on stroke pixels; stroke-focused >= 0.5):\n")
    print("| run | layer | images | mean stroke share | mean concentration | stroke-focused % | diffuse % | background % |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in gc.items():
        s, p = r["scores"], r["scores"]["proportions"]
        print(f"| {name} | {r['layer']} | {s['n']} | {s['stroke_share_mean']:.3f} | {s['concentration_mean']:.3f} | "
              f"{pct(p['stroke'])} | {pct(p['diffuse'])} | {pct(p['background'])} |")
    pr = json.loads((runs / "probe.json").read_text())["runs"]
    print("\nProbed units (8 per layer of an early, a middle and the last layer) by selectivity label:\n")
    print("| run | units | colour % | shape % | polysemantic % | weak/dead % |")
    print("|---|---|---|---|---|---|")
    for name, r in pr.items():
        sh = r["label_shares"]
        print(f"| {name} | {len(r['units'])} | {pct(sh['colour'])} | {pct(sh['shape'])} | {pct(sh['polysemantic'])} | {pct(sh['weak/dead'])} |")


if __name__ == "__main__":
    main()
