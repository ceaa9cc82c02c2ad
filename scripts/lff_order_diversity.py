"""How alike LfF's conflicting images are (``data.assignment = "lff-order"``: the first and last few of each class in
MNIST's file order) against random subsets of the same size per class: the mean pairwise pixel distance within a
class (a pre-check of the cmnist gap ablation; it trains nothing).

    LAZY_MNIST_DIR=../shared/data/mnist python scripts/lff_order_diversity.py   (or MNIST in the cache)
"""

import numpy as np
import torch

from lazyartist_cli.data.colorize import assign_colors
from lazyartist_cli.data.mnist import load_base


def spread(x: np.ndarray, y: np.ndarray) -> float:
    out = []
    for k in range(10):
        z = x[y == k]
        d = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))
        out.append(d[np.triu_indices(len(z), 1)].mean())
    return float(np.mean(out))


def main() -> None:
    raw = load_base(download=False)
    images, labels = raw.train_images, raw.train_labels
    x = images.reshape(len(images), -1).astype(np.float32) / 255
    rng = np.random.default_rng(0)
    for corr in (0.995, 0.99):
        _, aligned = assign_colors(torch.as_tensor(labels).long(), corr, torch.Generator(), assignment="lff-order")
        conf = np.nonzero(~aligned.numpy())[0]
        draws = [spread(x[ix], labels[ix]) for ix in (
            np.concatenate([rng.choice(np.nonzero(labels == k)[0], int((labels[conf] == k).sum()), replace=False)
                            for k in range(10)]) for _ in range(10))]
        print(f"{100 * (1 - corr):g}% conflicting ({len(conf)} images): LfF's blocks {spread(x[conf], labels[conf]):.3f}, "
              f"random subsets {np.mean(draws):.3f} +- {np.std(draws, ddof=1):.3f} (10 draws)")


if __name__ == "__main__":
    main()
