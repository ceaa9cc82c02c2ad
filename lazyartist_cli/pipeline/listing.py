"""``runs``: what the runs directory holds, one row per trained run, from the stored files only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import LazyError
from ..runs import RESERVED_NAMES, upgrade
from .analyses import ANALYSES


def _json(path: Path, key: str = "") -> dict[str, Any]:
    """The object stored in ``path`` (or under its ``key``); {} when it is missing, damaged or not an object
    (a run edited by hand is listed with what can be read, not a crash)."""
    try:
        obj = upgrade(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}
    obj = obj.get(key) if key and isinstance(obj, dict) else obj
    return obj if isinstance(obj, dict) else {}


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every directory of ``runs_dir`` with a ``config.json``: its model, strategy, input, seed,
    epochs trained, checkpoint rule and epoch, accuracies (from ``lazy eval`` when it ran) and analyses."""
    if not runs_dir.is_dir():
        raise LazyError(f"runs directory {runs_dir} does not exist")
    rows = []
    for d in sorted(runs_dir.iterdir()):
        if d.name in RESERVED_NAMES or d.name.startswith(".") or not (d / "config.json").is_file():
            continue
        conf = _json(d / "config.json", "config")
        tr = conf.get("train") if isinstance(conf.get("train"), dict) else {}
        history = (d / "history.jsonl").read_text().splitlines() if (d / "history.jsonl").is_file() else []
        ev = _json(d / "eval" / "metrics.json")
        rows.append({
            "run": d.name, "model": tr.get("model"), "strategy": tr.get("strategy"), "input": tr.get("input", "rgb"),
            "seed": conf.get("seed"), "epochs": len(history), "select": tr.get("select", "val"),
            "best_epoch": ev.get("checkpoint_epoch"),
            "val": ev.get("val"), "test_easy": ev.get("test_easy"), "test_hard": ev.get("test_hard"),
            "analyses": [a.name for a in ANALYSES.values() if (d / a.artifact).exists()],
        })
    return rows
