"""``study``: the whole study in order, resumable.

make-data -> verify-data -> train (baseline, robust strategies, oracle; every
seed) -> eval and counterfactual (every run) -> gradcam, probe, attack, sae
(first seed of the baseline and of each strategy) -> report.

Resuming: a dataset or run trained with the same config is reused (a run cut
off mid-training is resumed from ``last.pt``); an analysis step is skipped when
its marker ``<run>/.study/<step>.json`` holds the same fingerprint (a hash of
the step's config section, the checkpoint's bytes and the dataset). Markers are
written last, atomically, so a step killed half-way simply runs again.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import LazyError
from ..runs import read_json, run_dir, sha256_file, write_json_atomic
from .data import METADATA, VERIFY, load_dataset_metadata, run_make_data, run_verify_data
from .plan import (  # noqa: F401  (re-exported)
    STUDY_FILE, RunSpec, analysed_runs, analysis_plan, run_config, study_runs, train_command,
)
from .report import run_report
from .reporter import SILENT, Reporter

def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _marker(runs_dir: Path, run: str, step: str) -> Path:
    return run_dir(runs_dir, run) / ".study" / f"{step}.json"


def _run_state(rcfg: RunConfig, runs_dir: Path) -> str:
    """absent | partial | done | other (a run of that name trained with another config)."""
    from .train import comparable_config, resolved_config

    out = run_dir(runs_dir, rcfg.run_name())
    if not out.is_dir() or not any(not p.name.startswith(".") for p in out.iterdir()):
        return "absent"
    if not (out / "config.json").is_file():
        return "other"
    try:
        old = read_json(out / "config.json", "run config").get("config", {})
    except LazyError:
        return "other"
    if comparable_config(old) != comparable_config(resolved_config(rcfg)):
        return "other"
    hist = out / "history.jsonl"
    epochs = sum(1 for line in hist.read_text().splitlines() if line.strip()) if hist.is_file() else 0
    return "done" if epochs >= rcfg.train.epochs and (out / "best.pt").is_file() else "partial"


def run_study(cfg: RunConfig, runs_dir: Path, reporter: Reporter = SILENT) -> dict[str, Any]:
    from .train import run_train

    steps: list[dict[str, Any]] = []
    t_study = time.perf_counter()

    def record(step: str, target: str, status: str, t0: float) -> None:
        steps.append({"step": step, "target": target, "status": status, "seconds": round(time.perf_counter() - t0, 1)})
        reporter.note(f"{step:<15} {target:<32} {status} ({time.perf_counter() - t0:.1f} s)")

    # data
    t0 = time.perf_counter()
    made = run_make_data(cfg, runs_dir, reporter=reporter)
    record("make-data", cfg.data.name, "ran" if made.built else "up to date", t0)
    t0 = time.perf_counter()
    final, meta = load_dataset_metadata(runs_dir, cfg.data.name)
    old = read_json(final / VERIFY, "verify results") if (final / VERIFY).is_file() else {}
    if old.get("fingerprint") == meta.get("fingerprint") and old.get("ok") and all(Path(p).is_file() for p in old.get("grids", {}).values()):
        record("verify-data", cfg.data.name, "up to date", t0)
    else:
        ver = run_verify_data(cfg, runs_dir, reporter=reporter)
        if not ver.ok:
            raise LazyError(f"verify-data failed for dataset {cfg.data.name!r}; see `lazy verify-data` for the failing checks")
        record("verify-data", cfg.data.name, "ran", t0)
    dataset_fp = read_json(final / METADATA, "dataset metadata").get("fingerprint")

    # training
    specs = study_runs(cfg)
    reporter.start("study-train", "study: training", len(specs))
    for spec in specs:
        t0 = time.perf_counter()
        rcfg = run_config(cfg, spec)
        state = _run_state(rcfg, runs_dir)
        if state == "other":
            raise LazyError(
                f"run {spec.name!r} exists with a different config; move it away or retrain it with `{train_command(spec, cfg)} --force`"
            )
        if state != "done":
            run_train(rcfg, runs_dir, resume=state == "partial", reporter=reporter)
        record("train", spec.name, {"done": "up to date", "partial": "resumed", "absent": "ran"}[state], t0)
        reporter.update("study-train", 1)

    # analyses: the registry's, each over its runs (pipeline/analyses.py, plan.analysis_plan)
    every = [s.name for s in specs]
    first = [s.name for s in analysed_runs(cfg)]
    for planned in analysis_plan(cfg):
        step, section = planned.analysis.name, planned.options
        attr = planned.analysis.section
        step_cfg = cfg if section is getattr(cfg, attr) else cfg.model_copy(update={attr: section})
        fn = planned.analysis.runner()
        for name in planned.runs:
            t0 = time.perf_counter()
            ckpt = run_dir(runs_dir, name) / "best.pt"
            fp = _fingerprint(step, section.model_dump(mode="json"), cfg.seed, sha256_file(ckpt), dataset_fp)
            marker = _marker(runs_dir, name, step)
            if marker.is_file() and _read_marker(marker) == fp:
                record(step, name, "up to date", t0)
                continue
            fn(step_cfg, runs_dir, [name], reporter=reporter)
            write_json_atomic(marker, {"step": step, "fingerprint": fp})
            record(step, name, "ran", t0)

    # what each step cost when it last ran (a skipped step keeps its earlier time), then the write-up
    study_file = runs_dir / cfg.report.dir / STUDY_FILE
    earlier = {}
    if study_file.is_file():
        try:
            earlier = {(s["step"], s["target"]): s for s in read_json(study_file, "study record").get("steps", [])}
        except (LazyError, AttributeError, KeyError, TypeError):
            earlier = {}
    for s in steps:
        old = earlier.get((s["step"], s["target"]))
        if s["status"] == "up to date" and old and "compute_seconds" in old:
            s["compute_seconds"] = old["compute_seconds"]
        elif s["status"] != "up to date":
            s["compute_seconds"] = s["seconds"]
    write_json_atomic(study_file, {"steps": steps, "seconds_this_invocation": round(time.perf_counter() - t_study, 1)})
    t0 = time.perf_counter()
    rep = run_report(cfg, runs_dir, reporter=reporter)
    record("report", str(rep["path"]), "ran", t0)
    return {"ok": True, "seconds": round(time.perf_counter() - t_study, 1), "steps": steps, "report": str(rep["path"]),
            "runs": every, "analysed": first, "study_file": str(study_file)}


def _read_marker(path: Path) -> Any:
    try:
        return json.loads(path.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
