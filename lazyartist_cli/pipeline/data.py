"""``make-data`` and ``verify-data`` as importable functions."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from .. import __version__
from ..config import RunConfig
from ..data.build import SPLITS, build_splits
from ..data.dataset import ColoredMNIST, load_split_file
from ..data.mnist import load_base
from ..data.protocols import get_protocol
from ..data.verify import split_stats
from ..errors import LazyError, UsageError
from ..figures.grids import sample_grid
from ..runs import (check_name, dataset_dir, ensure_dir, read_json, sha256_file, staging_dir, torch_save_atomic, write_json_atomic,
                    write_lock)
from .reporter import SILENT, Reporter

METADATA = "metadata.json"
VERIFY = "verify.json"  # written by verify-data


@dataclass
class MakeDataResult:
    dataset_dir: Path
    built: bool  # False when an identical dataset already existed
    seconds: float
    metadata: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)


def _split_targets(correlation: float) -> dict[str, float]:
    return {"train": correlation, "val": correlation, "test_easy": correlation, "test_hard": 0.0}


def run_make_data(cfg: RunConfig, runs_dir: Path, force: bool = False, reporter: Reporter = SILENT) -> MakeDataResult:
    """Build the dataset named ``cfg.data.name`` under ``runs_dir/datasets/``, atomically, holding its write lock."""
    check_name(cfg.data.name, "dataset name")
    ensure_dir(runs_dir)
    with write_lock(runs_dir, "dataset", cfg.data.name):
        return _run_make_data(cfg, runs_dir, force, reporter)


def _run_make_data(cfg: RunConfig, runs_dir: Path, force: bool, reporter: Reporter) -> MakeDataResult:
    d = cfg.data
    seed = cfg.data_seed()
    final = dataset_dir(runs_dir, d.name)
    ensure_dir(final.parent)
    fingerprint = d.build_fingerprint(seed)
    if (final / METADATA).is_file():
        old = read_json(final / METADATA, "dataset metadata")
        if old.get("fingerprint") == fingerprint and not force:
            reporter.note(f"dataset {d.name!r} is up to date with this config: {final}")
            return MakeDataResult(final, False, 0.0, old, _paths(final))
        if old.get("fingerprint") != fingerprint and not force:
            raise UsageError(
                f"dataset {d.name!r} already exists with a different config ({final}); "
                "choose another data.name or pass --force to replace it"
            )
    t0 = time.perf_counter()

    def dl_progress(stem: str, done: int, total: Optional[int]) -> None:
        reporter.update("download", completed=done, total=total, description=f"downloading {stem}")

    reporter.start("download", "looking for MNIST", None)
    raw = load_base(d.base, d.mnist_dir, download=d.download, progress=dl_progress)
    reporter.done("download")
    reporter.note(f"{d.base} loaded and verified from {raw.source}")

    reporter.start("build", "colouring splits", len(SPLITS))
    splits = build_splits(
        torch.from_numpy(raw.train_images), torch.from_numpy(raw.train_labels),
        torch.from_numpy(raw.test_images), torch.from_numpy(raw.test_labels),
        d.palette_rgb(), d.correlation, d.n_train, d.n_val, d.n_test, seed,
        d.protocol, d.stripe_prob, progress=lambda name: reporter.update("build", 1), assignment=d.assignment,
        color_std=d.color_std, patch_size=d.patch_size,
    )
    reporter.done("build")
    build_seconds = time.perf_counter() - t0

    proto = get_protocol(d.protocol)
    with staging_dir(final) as tmp:
        hashes, measured, sizes = {}, {}, {}
        for name in SPLITS:
            torch_save_atomic(splits[name], tmp / f"{name}.pt")
            hashes[name] = sha256_file(tmp / f"{name}.pt")
            measured[name] = round((splits[name]["colors"] == splits[name]["labels"]).float().mean().item(), 6)
            sizes[name] = int(splits[name]["labels"].shape[0])
        metadata = {
            "name": d.name,
            "format": "lazy-colored-mnist/1",
            "palette": {"names": d.palette, "rgb": [list(c) for c in d.palette_rgb()]},
            "correlation": d.correlation,
            "assignment": d.assignment,
            "target_aligned_fraction": _split_targets(d.correlation),
            "measured_aligned_fraction": measured,
            "sizes": sizes,
            "seed": seed,
            "protocol": d.protocol,
            "bias": {"kind": proto.kind, "names": proto.bias_names(d.palette), "description": proto.description,
                     **({"color_std": d.color_std} if d.protocol == "lff" else {}),
                     **({"patch_size": d.patch_size} if d.protocol == "decoy" else {})},
            "base": {"name": d.base, "source": raw.source, "payload_sha256": raw.payload_sha256},
            "split_sha256": hashes,
            "fingerprint": fingerprint,
            "tool_version": __version__,
            "torch_version": torch.__version__,
            "build_seconds": round(build_seconds, 3),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_json_atomic(tmp / METADATA, metadata)  # last: its presence marks a complete dataset
    reporter.note(f"dataset written to {final}")
    return MakeDataResult(final, True, time.perf_counter() - t0, metadata, _paths(final))


def _paths(final: Path) -> dict[str, str]:
    out = {name: str(final / f"{name}.pt") for name in SPLITS}
    out["metadata"] = str(final / METADATA)
    return out


def load_dataset_metadata(runs_dir: Path, name: str) -> tuple[Path, dict[str, Any]]:
    final = dataset_dir(runs_dir, name)
    if not (final / METADATA).is_file():
        raise LazyError(f"dataset {name!r} not found under {final.parent}; run `lazy make-data` first")
    meta = read_json(final / METADATA, "dataset metadata")
    if not isinstance(meta, dict):  # valid JSON, but not what make-data writes (edited by hand, or another file)
        raise LazyError(f"dataset metadata is corrupted ({final / METADATA}): a JSON {type(meta).__name__}, not an object; "
                        "rebuild with `lazy make-data --force`")
    return final, meta


def load_verified_split(runs_dir: Path, name: str, split: str) -> tuple[ColoredMNIST, dict[str, Any]]:
    """Load one split after checking its SHA-256 against metadata.json."""
    final, meta = load_dataset_metadata(runs_dir, name)
    path = final / f"{split}.pt"
    expected = meta.get("split_sha256", {}).get(split)
    if not path.is_file():
        raise LazyError(f"split file missing: {path}; rebuild with `lazy make-data --force`")
    if sha256_file(path) != expected:
        raise LazyError(f"{path} does not match the hash in {final / METADATA}; rebuild with `lazy make-data --force`")
    return ColoredMNIST(load_split_file(path), split), meta


@dataclass
class VerifyResult:
    dataset_dir: Path
    ok: bool
    splits: dict[str, dict[str, Any]]
    hashes_ok: dict[str, bool]
    grids: dict[str, str]


def run_verify_data(cfg: RunConfig, runs_dir: Path, grids: bool = True, reporter: Reporter = SILENT) -> VerifyResult:
    """Check a dataset and write what was measured into it (``verify.json``, sample grids), holding its write lock."""
    load_dataset_metadata(runs_dir, cfg.data.name)  # a missing dataset fails before any lock is taken
    with write_lock(runs_dir, "dataset", cfg.data.name):
        return _run_verify_data(cfg, runs_dir, grids, reporter)


def _run_verify_data(cfg: RunConfig, runs_dir: Path, grids: bool, reporter: Reporter) -> VerifyResult:
    final, meta = load_dataset_metadata(runs_dir, cfg.data.name)
    names = meta.get("bias", {}).get("names") or meta["palette"]["names"]  # a bias value's name: colour, shade, angle
    targets = meta["target_aligned_fraction"]
    stats: dict[str, dict[str, Any]] = {}
    hashes_ok: dict[str, bool] = {}
    grid_paths: dict[str, str] = {}
    reporter.start("verify", "verifying splits", len(SPLITS))
    for split in SPLITS:
        path = final / f"{split}.pt"
        hashes_ok[split] = path.is_file() and sha256_file(path) == meta["split_sha256"].get(split)
        if not hashes_ok[split]:
            stats[split] = {"n": 0, "aligned_fraction": None, "ok": False, "checks": {"sha256": False}}
            reporter.update("verify", 1)
            continue
        data = load_split_file(path)
        how = meta.get("assignment")
        stats[split] = split_stats(data, float(targets[split]), exact=how in ("exact", "balanced", "lff-order"),
                                   balanced=how in ("balanced", "lff-order"), slack=1 if how == "lff-order" else 0)
        stats[split]["checks"]["sha256"] = True
        if grids:
            out = sample_grid(data, names, f"{meta['name']} / {split}", final / f"samples_{split}.png")
            grid_paths[split] = str(out)
        reporter.update("verify", 1)
    reporter.done("verify")
    ok = all(s["ok"] for s in stats.values())
    # what `lazy report` reads: the measurements, next to the dataset they describe
    write_json_atomic(final / VERIFY, {"dataset": meta["name"], "fingerprint": meta.get("fingerprint"), "ok": ok,
                                       "palette": meta["palette"], "splits": stats, "grids": grid_paths})
    return VerifyResult(final, ok, stats, hashes_ok, grid_paths)
