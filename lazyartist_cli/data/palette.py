"""Named colours and the default palette: one dominant colour per class."""

from __future__ import annotations

# Colour names a run file may use, with their RGB values.
NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 25),
    "green": (30, 200, 40),
    "blue": (40, 80, 255),
    "yellow": (240, 230, 30),
    "magenta": (230, 30, 230),
    "cyan": (30, 220, 230),
    "orange": (255, 140, 0),
    "purple": (130, 40, 200),
    "pink": (255, 150, 190),
    "brown": (140, 80, 30),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "olive": (128, 128, 0),
    "navy": (20, 30, 128),
    "teal": (0, 128, 128),
    "lime": (160, 255, 60),
    "maroon": (128, 0, 30),
}

# The PRD palette: class k's dominant colour.
DEFAULT_PALETTE: list[str] = [
    "red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "pink", "brown",
]
