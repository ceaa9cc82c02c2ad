"""What a run stores of its config (``<run>/config.json``) and how a stored config is compared with a request:
the training sections only, defaults filled in, and without the keys that may change on resume."""

from __future__ import annotations

import json
from typing import Any, Optional

from ..config import RunConfig
from ..models import resolve_options

# config keys that may differ when resuming (they do not change what is computed; device and precision change
# only float rounding, and the precision in force is checked against the stored run's on resume)
RESUME_FREE = {("train", "epochs"), ("device",), ("data", "mnist_dir"), ("data", "download"), ("train", "precision")}
# the top-level keys of the run config that define training: the config stored with a run keeps only
# these (an allow-list: a section added to the run file later does not make every stored run look changed)
TRAINING_SECTIONS = ("seed", "device", "data", "train", "strategy")
REFIT_FILE = "refit.json"  # <run>/refit.json: what a refitting strategy (DFR) chose, written once best.pt holds it


def comparable_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """A stored run config without the keys that may change on resume (they do not change what is computed)."""
    out = json.loads(json.dumps(cfg))
    data = out.get("data", {})
    if isinstance(data, dict) and data.get("protocol", "foreground") != "lff":
        data.pop("color_std", None)  # read by lff only (configs stored while it was kept everywhere compare equal)
    if isinstance(data, dict) and (data.get("protocol") != "decoy" or data.get("patch_size", 4) == 4):
        data.pop("patch_size", None)  # read by decoy only; its default is how configs stored before it read
    train = out.get("train", {})
    if isinstance(train, dict) and train.get("proxy_model", None) in (None, train.get("model")):
        train.pop("proxy_model", None)  # the default (the run's own model): configs stored before it compare equal
    if isinstance(train, dict) and train.get("proxy_options", None) is None:
        train.pop("proxy_options", None)  # the default: configs stored before it compare equal
    for path in RESUME_FREE:
        node = out
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return out


def resolved_config(cfg: RunConfig) -> dict[str, Any]:
    """The config stored with a run: defaults filled in, only the strategy in use.
    Only the sections that define training (``TRAINING_SECTIONS``) are kept, not the study,
    the report or the analyses (``pipeline/analyses.py``)."""
    resolved = cfg.model_dump(mode="json", include=set(TRAINING_SECTIONS))
    if resolved["data"]["protocol"] != "lff":  # a knob only lff reads: runs of the other protocols keep their configs
        resolved["data"].pop("color_std", None)
    if resolved["data"]["protocol"] != "decoy" or resolved["data"]["patch_size"] == 4:  # decoy's knob, stored off its default
        resolved["data"].pop("patch_size", None)
    if resolved["train"].get("proxy_model") in (None, cfg.train.model):  # stored only when it is not the run's model
        resolved["train"].pop("proxy_model", None)
    if resolved["train"].get("proxy_options") is None:  # stored only when given
        resolved["train"].pop("proxy_options", None)
    resolved["train"]["name"] = cfg.run_name()
    resolved["train"]["dataset"] = cfg.dataset_name()
    resolved["train"]["model_options"] = resolve_options(cfg.train.model, cfg.train.model_options)
    resolved["train"]["select"] = cfg.train.selection_rule(cfg.strategy_config())
    resolved["train"]["lr"] = cfg.train.learning_rate()
    resolved["strategy"] = {cfg.train.strategy: cfg.strategy_config().model_dump(mode="json")}
    return resolved


def budget_problem(old: dict[str, Any], epochs_done: int, epochs: int, schedule: str) -> Optional[str]:
    """Why a stored run (config ``old``, ``epochs_done`` epochs trained) cannot be resumed or reused as a run of
    ``epochs`` epochs (None: it can). ``train.epochs`` may grow on resume, which is exact at a constant rate; a run
    that already trained past the request, or a cosine schedule stretched or shrunk mid-run, would not be that run."""
    if epochs_done > epochs:
        return f"it trained {epochs_done} epochs, more than the {epochs} asked for (its kept checkpoint may be later)"
    old_epochs = (old.get("train") or {}).get("epochs")
    if schedule != "constant" and epochs_done and old_epochs not in (None, epochs):
        return (f"its {schedule} schedule was laid out over {old_epochs} epochs, not {epochs}: the rate of its first "
                "epochs would differ")
    return None
