"""Figures (matplotlib, Agg backend): pure functions from arrays to PNG files."""

import matplotlib

matplotlib.use("Agg")


def save(fig, path, dpi: int = 100, suptitle: str = ""):
    """Title, tighten, write (creating the folder) and close a figure; returns the path."""
    import matplotlib.pyplot as plt

    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
