"""Figures (matplotlib, Agg backend): pure functions from arrays to PNG files."""

import matplotlib

matplotlib.use("Agg")
