"""``study``: the whole study in order, resumable.

make-data -> verify-data -> train (baseline, robust strategies, oracle; every
seed) -> eval and counterfactual (every run) -> gradcam, probe, attack, sae
(first seed of the baseline and of each strategy) -> report.

Resuming: a dataset or run trained with the same config is reused (a run cut
off mid-training is resumed from ``last.pt``); an analysis step is skipped when
its marker ``<run>/.study/<step>.json`` holds the same fingerprint (a hash of
the step's config section, the checkpoint's bytes and the dataset). Markers are
written last, atomically, so a step killed half-way simply runs again.

Parallel: with ``study.workers`` > 1 (the default on a multi-core CPU) the
trainings and each run's analyses run in spawned worker processes, each with
cores / workers threads; a run's analyses start when its training ends, in the
registry's order (they share the run's write lock). Each step seeds itself, so
the order does not change a number; the thread count can (float reductions),
and each run records it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Optional

from ..config import RunConfig
from ..errors import LazyError
from ..runs import read_json, run_dir, sha256_file, write_json_atomic
from .data import METADATA, VERIFY, load_dataset_metadata, run_make_data, run_verify_data
from .plan import (  # noqa: F401  (re-exported)
    STUDY_FILE, RunSpec, analysed_runs, analysis_plan, check_study_options, run_config, study_runs, train_command,
)
from .report import run_report
from .reporter import SILENT, Reporter

def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _marker(runs_dir: Path, run: str, step: str) -> Path:
    return run_dir(runs_dir, run) / ".study" / f"{step}.json"


def _run_state(rcfg: RunConfig, runs_dir: Path) -> str:
    """absent | partial | done | other (a run of that name trained with another config)."""
    from ..strategies import get_strategy
    from .stored_config import REFIT_FILE, budget_problem, comparable_config, resolved_config

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
    if budget_problem(old, epochs, rcfg.train.epochs, rcfg.train.schedule):
        return "other"
    refitted = not get_strategy(rcfg.train.strategy).refits or (out / REFIT_FILE).is_file()
    return "done" if epochs >= rcfg.train.epochs and (out / "best.pt").is_file() and refitted else "partial"


def run_study(cfg: RunConfig, runs_dir: Path, reporter: Reporter = SILENT) -> dict[str, Any]:
    from .train import run_train

    check_study_options(cfg)  # before anything is built
    steps: list[dict[str, Any]] = []
    t_study = time.perf_counter()

    def record(step: str, target: str, status: str, t0: float, seconds: Optional[float] = None) -> None:
        """``seconds``: the step's own time when it ran in a worker (default: since ``t0``)."""
        seconds = time.perf_counter() - t0 if seconds is None else seconds
        steps.append({"step": step, "target": target, "status": status, "seconds": round(seconds, 1)})
        reporter.note(f"{step:<15} {target:<32} {status} ({seconds:.1f} s)")

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

    # training, then the analyses: in one process, or in ``workers`` processes when independent steps may overlap
    specs = study_runs(cfg)
    every = [s.name for s in specs]
    first = [s.name for s in analysed_runs(cfg)]
    workers = study_workers(cfg)
    train_jobs = []
    for spec in specs:
        rcfg = run_config(cfg, spec)
        state = _run_state(rcfg, runs_dir)
        if state == "other":
            raise LazyError(
                f"run {spec.name!r} exists with a different config; move it away or retrain it with `{train_command(spec, cfg)} --force`"
            )
        train_jobs.append((spec.name, rcfg, state))
    # run -> [(step, step config, the step's options, marker)], in the registry's order
    analysis_jobs: dict[str, list[tuple[str, RunConfig, dict[str, Any], Path]]] = {}
    for planned in analysis_plan(cfg):
        step, section = planned.analysis.name, planned.options
        attr = planned.analysis.section
        step_cfg = cfg if section is getattr(cfg, attr) else cfg.model_copy(update={attr: section})
        for name in planned.runs:
            analysis_jobs.setdefault(name, []).append((step, step_cfg, section.model_dump(mode="json"), _marker(runs_dir, name, step)))
    study_file = runs_dir / cfg.report.dir / STUDY_FILE
    try:
        if workers > 1:
            reporter.note(f"study: {workers} worker processes, {job_threads(workers)} thread(s) each")
            _parallel_steps(train_jobs, analysis_jobs, runs_dir, cfg.seed, dataset_fp, workers, record, reporter)
        else:
            reporter.start("study-train", "study: training", len(train_jobs))
            for name, rcfg, state in train_jobs:
                t0 = time.perf_counter()
                if state != "done":
                    run_train(rcfg, runs_dir, resume=state == "partial", reporter=reporter)
                record("train", name, _TRAIN_STATUS[state], t0)
                reporter.update("study-train", 1)
            for name, items in analysis_jobs.items():
                for step, step_cfg, options, marker in items:
                    t0 = time.perf_counter()
                    status = _analyse(step, step_cfg, options, marker, runs_dir, name, cfg.seed, dataset_fp, reporter)
                    record(step, name, status, t0)
    except BaseException:  # what finished is recorded even when a step failed (a rerun skips it and keeps its cost)
        try:
            _write_record(study_file, steps, t_study, workers, complete=False, seeds=cfg.study.seeds)
        except Exception as exc:  # noqa: BLE001 - the step's own error is the one to report
            reporter.note(f"study: could not write {study_file}: {exc}")
        raise
    _write_record(study_file, steps, t_study, workers, complete=True, seeds=cfg.study.seeds)

    t0 = time.perf_counter()
    rep = run_report(cfg, runs_dir, reporter=reporter)
    record("report", str(rep["path"]), "ran", t0)
    _write_record(study_file, steps[:-1], t_study, workers, complete=True, seeds=cfg.study.seeds, again=True)  # + the report's time
    return {"ok": True, "seconds": round(time.perf_counter() - t_study, 1), "steps": steps, "report": str(rep["path"]),
            "runs": every, "analysed": first, "study_file": str(study_file), "workers": workers}


def _write_record(study_file: Path, steps: list[dict[str, Any]], t_study: float, workers: int, complete: bool,
                  seeds: int = 1, again: bool = False) -> None:
    """``study.json``: what each step cost when it last ran (a skipped step keeps its earlier time), and every
    invocation's wall time (``invocations``: seeds, workers, seconds, steps that ran, complete), oldest first.
    ``again``: this invocation wrote the record already (before its report); its entry is replaced."""
    earlier, invocations = {}, []
    if study_file.is_file():
        try:
            record = read_json(study_file, "study record")
            earlier = {(s["step"], s["target"]): s for s in record.get("steps", [])}
            invocations = [dict(x) for x in record.get("invocations", [])]
        except (LazyError, AttributeError, KeyError, TypeError):
            earlier, invocations = {}, []
    seconds = round(time.perf_counter() - t_study, 1)
    if again and invocations:
        invocations.pop()
    invocations.append({"seeds": seeds, "workers": workers, "seconds": seconds, "complete": complete,
                        "ran": sum(1 for s in steps if s["status"] != "up to date"), "steps": len(steps), "report": again})
    for s in steps:
        old = earlier.get((s["step"], s["target"]))
        if s["status"] == "up to date" and old and "compute_seconds" in old:
            s["compute_seconds"] = old["compute_seconds"]
        elif s["status"] != "up to date":
            s["compute_seconds"] = s["seconds"]
    if not complete:  # the steps this invocation did not reach keep what the earlier record knew of them
        reached = {(s["step"], s["target"]) for s in steps}
        steps = steps + [old for key, old in earlier.items() if key not in reached]
    write_json_atomic(study_file, {"steps": steps, "seconds_this_invocation": seconds, "workers": workers,
                                   "complete": complete, "invocations": invocations})


_TRAIN_STATUS = {"done": "up to date", "partial": "resumed", "absent": "ran"}


def study_workers(cfg: RunConfig) -> int:
    """``study.workers`` resolved: 0 means one per core (at most 4) on a CPU and 1 on a GPU."""
    from ..executors.base import cpu_count
    from ..seeding import resolve_device

    if cfg.study.workers:
        return cfg.study.workers
    if resolve_device(cfg.device).type != "cpu":
        return 1
    return max(1, min(cpu_count(), 4))


def job_threads(workers: int) -> int:
    from ..executors.base import cpu_count

    return max(1, cpu_count() // workers)


def _analyse(step: str, step_cfg: RunConfig, options: dict[str, Any], marker: Path, runs_dir: Path, name: str,
             seed: int, dataset_fp: Any, reporter: Reporter = SILENT) -> str:
    """One analysis of one run, skipped when its marker holds the same fingerprint; the marker is written last."""
    from .analyses import get_analysis

    if options.get("precision") == "auto":  # what "auto" means on this machine: another device is another result
        from ..precision import resolve_precision
        from ..seeding import resolve_device

        options = {**options, "precision": resolve_precision("auto", resolve_device(step_cfg.device))}
    fp = _fingerprint(step, options, seed, sha256_file(run_dir(runs_dir, name) / "best.pt"), dataset_fp)
    if marker.is_file() and _read_marker(marker) == fp:
        return "up to date"
    get_analysis(step).runner()(step_cfg, runs_dir, [name], reporter=reporter)
    write_json_atomic(marker, {"step": step, "fingerprint": fp})
    return "ran"


def _worker_start(threads: int) -> None:
    import torch

    from ..allocator import tune_allocator
    from ..executors.process import die_with_parent

    die_with_parent()  # a killed `lazy study` leaves no worker holding a run's lock
    tune_allocator()
    torch.set_num_threads(threads)


def _train_job(rcfg: RunConfig, runs_dir: Path, state: str) -> float:
    from .train import run_train

    t0 = time.perf_counter()
    if state != "done":
        run_train(rcfg, runs_dir, resume=state == "partial")
    return time.perf_counter() - t0


def _analysis_job(items: list[tuple[str, RunConfig, dict[str, Any], Path]], runs_dir: Path, name: str, seed: int,
                  dataset_fp: Any) -> list[tuple[str, str, float]]:
    """Every analysis of one run, in turn (they share the run's write lock): [(step, status, seconds)]. An error
    carries the steps that finished before it (``exc.finished_steps``, pickled with the exception), so the
    parent records their times."""
    out: list[tuple[str, str, float]] = []
    for step, step_cfg, options, marker in items:
        t0 = time.perf_counter()
        try:
            status = _analyse(step, step_cfg, options, marker, runs_dir, name, seed, dataset_fp)
        except Exception as exc:
            exc.finished_steps = out
            raise
        out.append((step, status, time.perf_counter() - t0))
    return out


def _parallel_steps(train_jobs, analysis_jobs, runs_dir: Path, seed: int, dataset_fp: Any, workers: int,
                    record, reporter: Reporter) -> None:
    """The trainings (queued longest first) and each run's analyses in ``workers`` spawned processes; a run's
    analyses are queued as soon as its training ends (behind the trainings still waiting), so a worker does not
    idle while the last trainings run. Every job seeds itself (``run_train`` and the analyses call
    ``seed_everything``), so the results do not depend on the order. A failed job stops the study with its error
    once the running ones end (queued jobs are cancelled; every error is noted); Ctrl-C cancels what is queued."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    def cost(job) -> float:
        rcfg = job[1]
        return rcfg.train.epochs * (2.5 if rcfg.train.strategy.startswith("consistency") else 1.0)

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_start, initargs=(job_threads(workers),)) as pool:
        reporter.start("study-train", "study: training", len(train_jobs))
        reporter.start("study-analyses", "study: analyses", len(analysis_jobs))
        t0 = time.perf_counter()
        pending = {pool.submit(_train_job, rcfg, runs_dir, state): ("train", name, state)
                   for name, rcfg, state in sorted(train_jobs, key=cost, reverse=True)}

        def analyse(name: str) -> None:
            if name in analysis_jobs:
                pending[pool.submit(_analysis_job, analysis_jobs[name], runs_dir, name, seed, dataset_fp)] = ("analyses", name, None)

        try:
            _drain(pending, analyse, record, reporter, t0)
        except BaseException:  # Ctrl-C in the parent: drop what is queued, let the workers' own SIGINT end the rest
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _drain(pending: dict[Any, tuple], analyse, record, reporter: Reporter, t0: float) -> None:
    """Take finished jobs as they come (``analyse`` adds a run's analyses to ``pending``, which is changed in
    place); every error is noted, the first is raised once the running jobs end."""
    from concurrent.futures import FIRST_COMPLETED, wait

    error = None
    while pending:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for fut in done:
            kind, name, state = pending.pop(fut)
            try:
                result = fut.result()
            except BaseException as exc:  # the first error wins; queued jobs are cancelled
                for step, status, seconds in getattr(exc, "finished_steps", []):  # a run's analyses before the failure
                    record(step, name, status, t0, seconds)
                if not fut.cancelled():
                    reporter.note(f"{kind:<15} {name:<32} failed: {exc}")
                error = error or exc
                for other in pending:
                    other.cancel()
                continue
            if kind == "train":
                record("train", name, _TRAIN_STATUS[state], t0, result)
                reporter.update("study-train", 1)
                if error is None:
                    analyse(name)
            else:
                for step, status, seconds in result:
                    record(step, name, status, t0, seconds)
                reporter.update("study-analyses", 1)
        for fut in [f for f in pending if f.cancelled()]:
            del pending[fut]
    if error is not None:
        raise error


def _read_marker(path: Path) -> Any:
    try:
        return json.loads(path.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
