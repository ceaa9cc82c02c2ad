"""What the report reads: the stored JSON of each run (``RunFiles``), the runs found beyond the study and
how they are matched to its rows (``_other_runs``), the strategy table's rows, and the ``ReportContext``
that every section receives."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ...config import RunConfig
from ...errors import LazyError
from ...runs import DATASETS_DIR, ensure_dir, run_dir, upgrade
from ..plan import RunSpec, analysed_runs, study_runs
from .writer import Writer

SPLITS = ("train", "val", "test_easy", "test_hard")


def _load(path: Path) -> Optional[dict[str, Any]]:
    try:
        return upgrade(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _mean_std(values: list[float]) -> tuple[float, Optional[float]]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


class RunFiles:
    """Paths of what one run stored: one attribute per analysis of the registry (the file
    the report reads; a test checks that every analysis has one)."""

    def __init__(self, runs_dir: Path, name: str, gradcam_method: str):
        self.name = name
        self.dir = run_dir(runs_dir, name)
        self.config = self.dir / "config.json"
        self.eval = self.dir / "eval" / "metrics.json"
        self.counterfactual = self.dir / "counterfactual" / "summary.json"
        self.gradcam = self.dir / "gradcam" / gradcam_method / "summary.json"
        self.probe = self.dir / "probe" / "units.json"
        self.attack = self.dir / "attack" / "summary.json"
        self.sae = self.dir / "sae" / "summary.json"
        self._cache: dict[str, Optional[dict[str, Any]]] = {}

    def get(self, what: str) -> Optional[dict[str, Any]]:
        """The stored JSON result ``what`` (eval, counterfactual, ...), read once; None when absent."""
        if what not in self._cache:
            self._cache[what] = _load(getattr(self, what))
        return self._cache[what]


def _other_runs(cfg: RunConfig, runs_dir: Path, known: set[str], gradcam_method: str) -> list[tuple[RunSpec, RunFiles]]:
    """Evaluated runs the study did not train. A run trained exactly like a study run
    but for its seed joins that run's row (more seeds); any other run of the same
    model is an *extra* row of its own. Runs of the laziness frontier (`frontier-*`) and the points of a
    sweep (`<sweep>-*`, one folder per sweep under runs/sweeps/) have a section of their own and are not
    repeated here."""
    from ..plan import run_config
    from ..stored_config import comparable_config, resolved_config

    def seedless(conf: dict[str, Any]) -> dict[str, Any]:
        tree = comparable_config(conf)  # epochs count here: a longer run is another row, not another seed
        tree.setdefault("train", {})["epochs"] = conf.get("train", {}).get("epochs")
        tree.pop("seed", None)
        tree.get("train", {}).pop("name", None)
        return tree

    def same(stored: dict[str, Any], expected: dict[str, Any]) -> bool:
        return seedless(stored) == seedless(expected)

    out = []
    if not runs_dir.is_dir():
        return out
    s = cfg.study
    sweeps_dir = runs_dir / "sweeps"
    swept = tuple(f"{d.name}-" for d in sweeps_dir.iterdir() if d.is_dir()) if sweeps_dir.is_dir() else ()
    first_of: dict[str, str] = {}  # an extra config (seedless JSON) -> the first run trained with it
    extra_keys: dict[str, set[str]] = {}  # an extra strategy -> its distinct configs
    for d in sorted(runs_dir.iterdir()):
        if (d.name in known or d.name == DATASETS_DIR or d.name.startswith(("frontier-", *swept))
                or not (d / "eval" / "metrics.json").is_file()):
            continue
        conf = (_load(d / "config.json") or {}).get("config", {})
        tr = conf.get("train", {})
        if tr.get("model") != s.model or tr.get("dataset", cfg.data.name) != cfg.data.name:
            continue  # another network, or another dataset (a suite's protocols): not this study's comparison
        strategy, inp, seed = tr.get("strategy", "?"), tr.get("input", "rgb"), int(conf.get("seed", 0))
        role = ("oracle" if inp == "colorblind" else "extra" if inp == "grayscale"  # legacy oracle: not colour-blind
                else "baseline" if strategy == s.baseline else "robust" if strategy in s.strategies else "extra")
        spec = RunSpec(d.name, strategy, seed, inp, role)
        if role != "extra":
            try:
                if not same(conf, resolved_config(run_config(cfg, spec))):
                    role = "extra"
            except (LazyError, ValueError):  # a config this version cannot rebuild: show the run as an extra
                role = "extra"
        if role == "extra":  # seeds of one config share a row; different configs of one strategy do not
            key = json.dumps([inp, seedless(conf)], sort_keys=True)
            first_of.setdefault(key, d.name)
            extra_keys.setdefault(strategy, set()).add(key)
            spec = RunSpec(d.name, key, seed, inp, role)
        out.append((spec, RunFiles(runs_dir, d.name, gradcam_method)))
    for i, (spec, f) in enumerate(out):
        if spec.strategy in first_of:  # label the extra rows: the strategy, plus the first run's name when configs differ
            strategy = (_load(runs_dir / spec.name / "config.json") or {}).get("config", {}).get("train", {}).get("strategy", "?")
            alone = len(extra_keys[strategy]) == 1 and strategy != s.baseline and strategy not in s.strategies
            label = strategy if alone else f"{strategy} ({first_of[spec.strategy]})"
            out[i] = (RunSpec(spec.name, label, spec.seed, spec.input, spec.role), f)
    return out


def _knows(strategy: str, options: Optional[dict[str, Any]] = None, protocol: Optional[str] = None,
           rule: Optional[str] = None) -> str:
    """What a run knows about the bias: its strategy with the options it stored (consistency's ops decide it) on its
    protocol, raised to what its checkpoint rule reads (``effective_knowledge``)."""
    from ...strategies.base import effective_knowledge

    from ...strategies import STRATEGIES

    cls = STRATEGIES.get(strategy.split(" ")[0])
    if cls is None:
        return "?"
    from pydantic import ValidationError

    try:
        knows = cls.knowledge(cls.Config.model_validate(options or {}), protocol)
    except ValidationError:  # options stored by an older version: the class's own statement
        knows = cls.knows
    return effective_knowledge(knows, rule) if rule else knows


def _strategy_table_rows(specs: list[RunSpec], evals: dict[str, Any], files: dict[str, RunFiles]) -> list[dict[str, Any]]:
    """One row per (strategy, role): mean and std over the seeds that were evaluated."""
    groups: dict[tuple[str, str], list[str]] = {}
    for sp in specs:
        if evals.get(sp.name):
            groups.setdefault((sp.strategy, sp.role), []).append(sp.name)
    rows = []
    for (strategy, role), names in groups.items():
        row: dict[str, Any] = {"strategy": strategy, "role": role, "n": len(names), "runs": names, "source": files[names[0]].eval}
        conf = (_load(files[names[0]].config) or {}).get("config", {}) if files[names[0]].config.is_file() else {}
        row["select"] = conf.get("train", {}).get("select", "val")  # runs before the rule existed used val
        row["lr"] = conf.get("train", {}).get("lr")
        row["base_strategy"] = conf.get("train", {}).get("strategy", strategy)
        row["input"] = conf.get("train", {}).get("input", "rgb")
        options = conf.get("strategy", {}).get(row["base_strategy"], {})
        row["options"] = options
        row["knows"] = ("nothing (sees no colour)" if role == "oracle" or row["input"] == "colorblind"
                        else _knows(row["base_strategy"], options, conf.get("data", {}).get("protocol"), row["select"]))
        for key, split in (("val", "val"), ("easy", "test_easy"), ("hard", "test_hard")):
            row[key] = _mean_std([evals[n][split] for n in names])
        row["sources"] = [files[n].eval for n in names]
        with_cf = [n for n in names if (files[n].get("counterfactual") or {}).get("n_images")]
        row["cf"] = _mean_std([files[n].get("counterfactual")["follows_new_color"] for n in with_cf]) if with_cf else (None, None)
        row["cf_sources"] = [files[n].counterfactual for n in with_cf]
        rows.append(row)
    order = {"baseline": 0, "robust": 1, "extra": 2, "oracle": 3}
    return sorted(rows, key=lambda r: (order[r["role"]], -r["hard"][0]))


@dataclass
class ReportContext:
    """What every section reads: the writer, the config and the runs with their stored results."""

    w: Writer
    cfg: RunConfig
    runs_dir: Path
    specs: list[RunSpec]  # the configured study's runs, the baseline first
    all_specs: list[RunSpec]  # those plus the evaluated runs found beyond the study (``_other_runs``)
    first: list[RunSpec]  # the runs the per-model analyses look at (``analysed_runs``)
    files: dict[str, RunFiles]
    evals: dict[str, Optional[dict[str, Any]]]
    rows: list[dict[str, Any]]  # the strategy table (``_strategy_table_rows``)
    ds_meta: Optional[dict[str, Any]]  # the dataset's metadata.json

    @property
    def base(self) -> RunSpec:
        return self.specs[0]

    @property
    def ev(self) -> Optional[dict[str, Any]]:
        """The baseline's evaluation."""
        return self.evals.get(self.base.name)

    @property
    def scope_runs(self) -> dict[str, list[RunSpec]]:
        """The runs of each analysis scope (``Analysis.scope``)."""
        return {"every": self.specs, "first": self.first}

    def row(self, role: str) -> Optional[dict[str, Any]]:
        """The strategy table's first row of ``role`` (baseline, oracle)."""
        return next((r for r in self.rows if r["role"] == role), None)

    def dataset_file(self, name: str) -> Path:
        return self.runs_dir / DATASETS_DIR / self.cfg.data.name / name


def load_context(cfg: RunConfig, runs_dir: Path, out_dir: Optional[Path] = None) -> ReportContext:
    """Find the study's runs and the others in ``runs_dir``; the report's folder (``out_dir``, default the runs
    directory's ``report.dir``) is created."""
    if not runs_dir.is_dir():
        raise LazyError(f"runs directory {runs_dir} does not exist: there is nothing to report (run `lazy study` first)")
    out_dir = ensure_dir(out_dir if out_dir is not None else runs_dir / cfg.report.dir)
    w = Writer(runs_dir, out_dir)
    method = cfg.gradcam.method
    specs = study_runs(cfg)
    files = {sp.name: RunFiles(runs_dir, sp.name, method) for sp in specs}
    extra = _other_runs(cfg, runs_dir, set(files), method)
    for sp, f in extra:
        files[sp.name] = f
    all_specs = specs + [sp for sp, _ in extra]
    evals = {n: f.get("eval") for n, f in files.items()}
    return ReportContext(w, cfg, runs_dir, specs, all_specs, analysed_runs(cfg), files, evals,
                         _strategy_table_rows(all_specs, evals, files), _load(runs_dir / DATASETS_DIR / cfg.data.name / "metadata.json"))
