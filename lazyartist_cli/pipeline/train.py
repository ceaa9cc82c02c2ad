"""``train``: fit one model with one strategy on in-memory tensors, checkpointing atomically."""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ..checkpoints import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..config import RunConfig
from ..errors import LazyError, UsageError
from ..figures.curves import plot_curves
from ..models import build_model, resolve_options
from ..runs import ensure_dir, read_json, run_dir, write_json_atomic, write_lock, write_text_atomic
from ..seeding import resolve_device, seed_everything
from ..precision import autocast, memory_format, resolve_precision
from ..strategies import StrategyContext, build_strategy, get_strategy
from ..data.mnist import NUM_CLASSES
from .common import environment
from .data import load_dataset_metadata
from ..data.views import ORACLE_COLOR
from .reporter import SILENT, Reporter
from .bias_proxy import PROXY_FILE, fit_proxy_groups
from .selection import SCORE_OF_RULE
from .stored_config import REFIT_FILE, budget_problem, comparable_config, resolved_config
from .train_data import TrainData, load_data, score_epoch

@dataclass
class TrainResult:
    run_dir: Path
    name: str
    best_epoch: int
    best: dict[str, float]
    last: dict[str, float]
    epochs_run: int
    seconds: float
    images_per_second: float
    paths: dict[str, str] = field(default_factory=dict)


def lr_factor(schedule: str, step: int, total: int) -> float:
    """Learning-rate multiplier at optimiser step ``step`` of ``total`` (cosine: to 0 at the end)."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))
    return 1.0


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch ``epoch``'s order: depends on (seed, epoch) only, so a resumed run sees the same batches."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order of epoch ``epoch``: a permutation of every row."""
    return torch.randperm(n, generator=_epoch_generator(seed, epoch))


def run_train(
    cfg: RunConfig, runs_dir: Path, resume: bool = False, force: bool = False, reporter: Reporter = SILENT
) -> TrainResult:
    """Train one run; the run's write lock is held throughout (a second writer, ``--force`` or not, fails)."""
    with write_lock(runs_dir, "run", cfg.run_name()):
        return _run_train(cfg, runs_dir, resume, force, reporter)


def _prepare_run_dir(cfg: RunConfig, out: Path, resolved: dict[str, Any], resume: bool, force: bool,
                     precision: str) -> Optional[dict[str, Any]]:
    """Check what is already in ``out`` against the request; returns the checkpoint to resume from (or None)."""
    name = cfg.run_name()
    if resume and force:
        raise UsageError("--resume and --force cannot be combined")
    start_ckpt: Optional[dict[str, Any]] = None
    if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):  # dotfiles: temp files of a killed write
        if resume:
            old = read_json(out / "config.json", "run config")
            if not isinstance(old, dict):
                raise LazyError(f"--resume: {out / 'config.json'} is not a run config (not a JSON object); use --force")
            if comparable_config(old.get("config", {})) != comparable_config(resolved):
                raise UsageError(f"--resume: run {name!r} was trained with a different config; use another --name or --force")
            if (out / "last.pt").is_file():
                start_ckpt = load_checkpoint(out / "last.pt")
            problem = budget_problem(old.get("config", {}), int(start_ckpt["epoch"]) if start_ckpt else 0,
                                     cfg.train.epochs, cfg.train.schedule)
            if problem:
                raise UsageError(f"--resume: run {name!r} cannot go on as a {cfg.train.epochs}-epoch run: {problem}; "
                                 "use another --name or --force")
            old_precision = old.get("environment", {}).get("precision")
            if start_ckpt is not None and old_precision not in (None, precision):
                raise UsageError(f"--resume: run {name!r} trained its first epochs in {old_precision} and would go on in "
                                 f"{precision} here; pass --set train.precision={old_precision}")
        elif force:
            shutil.rmtree(out)
        else:
            raise UsageError(f"run {name!r} already exists ({out}); pass --resume to continue it or --force to replace it")
    elif resume:
        raise UsageError(f"--resume: run {name!r} does not exist yet ({out})")
    return start_ckpt


def _train_epoch(model, strategy, opt, x_tr: torch.Tensor, y_tr: torch.Tensor, perm: torch.Tensor, epoch: int, t: Any,
                 lr: float, precision: str, device: torch.device, layout: Any, reporter: Reporter
                 ) -> tuple[int, float, dict[str, float]]:
    """One epoch over the rows ``perm`` in batches; returns (batches, summed objective, summed logs)."""
    nb = (perm.shape[0] + t.batch_size - 1) // t.batch_size
    reporter.update("batches", completed=0, total=nb)
    sums: dict[str, float] = {}
    obj_sum = 0.0
    for b in range(nb):
        step = (epoch - 1) * nb + b
        own = strategy.lr_multiplier(step)
        factor = own if own is not None else lr_factor(t.schedule, step, t.epochs * nb)
        for group in opt.param_groups:
            group["lr"] = lr * factor * group.get("lr_scale", 1.0)
        idx = perm[b * t.batch_size : (b + 1) * t.batch_size]
        batch = {"x": x_tr[idx].contiguous(memory_format=layout), "y": y_tr[idx], "index": idx}
        with autocast(precision, device):
            loss, logs = strategy.loss(model, batch)
        loss = loss.float()
        if not torch.isfinite(loss):
            raise LazyError(f"epoch {epoch}, batch {b}: the {t.strategy} loss is not finite ({loss.item()}); lower train.lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        strategy.after_step(model)
        obj_sum += loss.item()
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v
        if b % 20 == 0 or b == nb - 1:
            reporter.update("batches", completed=b + 1, loss=obj_sum / (b + 1))
    return nb, obj_sum, sums


def _write_run_config(out: Path, cfg: RunConfig, resolved: dict[str, Any], device: torch.device, precision: str,
                      meta: dict[str, Any]) -> None:
    write_json_atomic(out / "config.json", {
        "config": resolved, "environment": {**environment(device), "precision": precision, "threads": torch.get_num_threads()},
        "dataset": {"name": cfg.dataset_name(), "split_sha256": meta["split_sha256"]}})


def _check_request(cfg: RunConfig, runs_dir: Path) -> None:
    """What can be refused before the run directory exists (a refused request leaves nothing behind)."""
    t = cfg.train
    problem = get_strategy(t.strategy).check_epochs(cfg.strategy_config(), t.epochs)
    if problem:
        raise UsageError(problem)
    if t.input == "colorblind":  # the oracle's view needs a colour protocol
        protocol = load_dataset_metadata(runs_dir, cfg.dataset_name())[1].get("protocol", "foreground")
        if protocol not in ORACLE_COLOR:
            raise UsageError(f"train.input = colorblind needs a colour protocol ({', '.join(ORACLE_COLOR)}); dataset "
                             f"{cfg.dataset_name()!r} draws its shortcut with {protocol!r}")


def _build(cfg: RunConfig, d: TrainData, device: torch.device, layout: Any) -> tuple[dict[str, Any], Any, Any, Any]:
    """The model, its strategy (with the training split's context) and Adam over both: (options, model, strategy, opt)."""
    t = cfg.train
    options = resolve_options(t.model, t.model_options)
    model = build_model(t.model, input=t.input, options=options).to(device, memory_format=layout)
    ctx = StrategyContext(
        model_builder=lambda: build_model(t.model, input=t.input, options=options), n_train=d.x_tr.shape[0],
        num_classes=NUM_CLASSES, palette=torch.tensor(d.meta["palette"]["rgb"], dtype=torch.float32) / 255.0,
        labels=d.train_ds.labels, colors=d.train_ds.colors,
    )
    strategy = build_strategy(t.strategy, cfg.strategy_config(), ctx)
    strategy.to(device, memory_format=layout)  # its own models (JTT, uLA, LfF) in the layout of the kept one
    params = list(model.parameters()) + list(strategy.parameters())
    if strategy.own_lr_scale != 1.0:  # the strategy's own models at their own rate (one group otherwise: old runs resume)
        params = [{"params": list(model.parameters())},
                  {"params": list(strategy.parameters()), "lr_scale": strategy.own_lr_scale}]
    return options, model, strategy, torch.optim.Adam(params, lr=t.learning_rate(), weight_decay=t.weight_decay)


def _run_train(cfg: RunConfig, runs_dir: Path, resume: bool, force: bool, reporter: Reporter) -> TrainResult:
    t = cfg.train
    name = cfg.run_name()
    out = run_dir(runs_dir, name)
    resolved = resolved_config(cfg)
    device = resolve_device(cfg.device)  # before anything is created: a missing GPU leaves no empty run
    precision = resolve_precision(t.precision, device, get_strategy(t.strategy).input_gradients)
    layout = memory_format(precision, device)
    _check_request(cfg, runs_dir)
    seed_everything(cfg.seed)
    d = load_data(cfg, runs_dir, device)  # the dataset is verified before the run directory exists
    problem = get_strategy(t.strategy).check_held_out(cfg.strategy_config(), d.y_val, d.bias_val, NUM_CLASSES)
    if problem:
        raise UsageError(problem)
    start_ckpt = _prepare_run_dir(cfg, out, resolved, resume, force, precision)
    created = not out.exists()
    ensure_dir(out)
    finished = False
    try:
        result = _train_loop(cfg, out, resolved, device, precision, layout, d, start_ckpt, reporter)
        finished = True
        return result
    finally:
        # a run that failed before its first checkpoint (a diverging loss, Ctrl-C) leaves nothing a later command
        # would call a partial run; one with a checkpoint stays, to be resumed
        if not finished and created and not (out / "last.pt").exists():
            shutil.rmtree(out, ignore_errors=True)


def _refit_best(out: Path, model, strategy, d: TrainData, cfg: RunConfig, reporter: Reporter) -> dict[str, Any]:
    """A refitting strategy (DFR) changes the chosen checkpoint's model once training is over; best.pt is rewritten
    atomically with the new weights, what was chosen (``best["refit"]``) and the refitted model's scores (the base
    model's stay under ``best["base"]``). Refitting reads only the features the unchanged layers give, so a resumed
    run that refits again gets the same layer."""
    ckpt = load_checkpoint(out / "best.pt")
    model.load_state_dict(ckpt["model"])
    t0 = time.perf_counter()
    info = {**strategy.refit(model, d.x_tr, d.x_val, d.y_val, d.bias_val, cfg.seed),
            "seconds": round(time.perf_counter() - t0, 3)}
    rule = cfg.train.selection_rule(cfg.strategy_config())
    old = ckpt["best"]
    scores = score_epoch(model, d, cfg.train, rule, strategy)
    keys = ("val_acc", "val_recolored_acc", "val_worst_group_acc", "hard_acc_monitor")
    best = {**old, **{k: scores.get(k) for k in keys}, "base": old.get("base") or {k: old.get(k) for k in (*keys, "score")},
            "refit": info}
    save_checkpoint(out / "best.pt", **{**{k: v for k, v in ckpt.items() if k != "format"}, "model": model.state_dict(),
                                        "best": best})
    write_json_atomic(out / REFIT_FILE, info)  # last: a run killed before it is resumed (and refitted again)
    reporter.note(f"{strategy.name}: last layer refitted on validation (C {info.get('c')}, held-out worst group "
                  f"{info.get('held_out_worst_group', float('nan')):.4f}; val now {scores['val_acc']:.4f}, in-sample)")
    return best


def _train_loop(cfg: RunConfig, out: Path, resolved: dict[str, Any], device: torch.device, precision: str, layout: Any,
                d: TrainData, start_ckpt: Optional[dict[str, Any]], reporter: Reporter) -> TrainResult:
    t = cfg.train
    name = cfg.run_name()
    x_tr, y_tr, meta = d.x_tr, d.y_tr, d.meta
    rule = t.selection_rule(cfg.strategy_config())
    n = x_tr.shape[0]

    options, model, strategy, opt = _build(cfg, d, device, layout)
    lr = t.learning_rate()
    if rule == "val-proxy-group":  # the seed's shared bias proxy (bias_proxy.py): the same for every run at this seed
        d.proxy_groups_val, proxy_info = fit_proxy_groups(t.proxy_model or t.model, t.input, t.model, options, x_tr,
                                                          y_tr, d.x_val, d.y_val, d.bias_val, cfg.seed, NUM_CLASSES,
                                                          t.eval_batch_size, t.proxy_options)
        write_json_atomic(out / PROXY_FILE, proxy_info)
        reporter.note(f"bias proxy for val-proxy-group: {proxy_info['groups_present']} pseudo-groups on val, "
                      f"{proxy_info['seconds']:.1f}s")

    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"score": -1.0, "epoch": 0, "rule": rule}
    first_epoch = 1
    if start_ckpt is not None:
        model.load_state_dict(start_ckpt["model"])
        strategy.load_state_dict(start_ckpt["strategy"])
        opt.load_state_dict(start_ckpt["optimizer"])
        set_rng_state(start_ckpt["rng"])
        history = list(start_ckpt["history"])
        best = dict(start_ckpt["best"])
        best.setdefault("score", best.get("val_acc", -1.0))
        first_epoch = int(start_ckpt["epoch"]) + 1
        reporter.note(f"resuming {name} after epoch {first_epoch - 1}")

    _write_run_config(out, cfg, resolved, device, precision, meta)

    reporter.note(f"{name}: {t.strategy} on {device.type}, {precision} training (train.precision = {t.precision}), "
                  f"lr {lr:g}, {torch.get_num_threads()} thread(s)")
    reporter.start("epochs", f"{name}: epochs", t.epochs)
    reporter.update("epochs", completed=first_epoch - 1)
    reporter.start("batches", "batches", (n + t.batch_size - 1) // t.batch_size)
    t_start = time.perf_counter()
    train_images, train_seconds = 0, 0.0
    for epoch in range(first_epoch, t.epochs + 1):
        model.train()
        strategy.train()
        strategy.before_epoch(epoch, model, x_tr, y_tr)
        model.train()
        strategy.train()
        order = strategy.epoch_indices(epoch, _epoch_generator(cfg.seed, epoch))
        perm = (order if order is not None else _epoch_permutation(cfg.seed, epoch, n)).to(device)
        t_ep = time.perf_counter()
        nb, obj_sum, sums = _train_epoch(model, strategy, opt, x_tr, y_tr, perm, epoch, t, lr, precision, device, layout,
                                         reporter)
        seconds = time.perf_counter() - t_ep
        train_images += perm.shape[0]
        train_seconds += seconds
        with autocast(precision, device):  # the scores that choose the checkpoint; `lazy eval` re-scores in fp32
            scores = score_epoch(model, d, t, rule, strategy)
        row: dict[str, Any] = {"epoch": epoch, "train_objective": obj_sum / nb, **scores, "lr": opt.param_groups[0]["lr"]}
        row.update({f"log_{k}": v / nb for k, v in sums.items()})
        row["seconds"] = round(seconds, 3)
        row["images_per_second"] = round(perm.shape[0] / seconds, 1)
        history.append(row)
        state = dict(
            model_name=t.model, model_options=options, num_classes=NUM_CLASSES, input=t.input, model=model.state_dict(),
            optimizer=opt.state_dict(),
            strategy=strategy.state_dict(), epoch=epoch, metrics=row, config=resolved, history=history,
        )
        score = row[SCORE_OF_RULE[rule]]  # model selection never looks at hard data
        # a tie (the worst group's accuracy moves in steps of one image) goes to the higher easy val accuracy
        if strategy.selectable(epoch) and (score, row["val_acc"]) > (best["score"], best.get("val_acc", -1.0)):
            best = {"epoch": epoch, "rule": rule, "score": score, "val_acc": row["val_acc"],
                    "val_recolored_acc": row["val_recolored_acc"], "val_worst_group_acc": row["val_worst_group_acc"],
                    "train_acc": row["train_acc"], "hard_acc_monitor": row.get("hard_acc_monitor")}
            if strategy.refits:  # the refit of an earlier best no longer describes best.pt
                (out / REFIT_FILE).unlink(missing_ok=True)
            save_checkpoint(out / "best.pt", **state, best=best, rng=rng_state())
        save_checkpoint(out / "last.pt", **state, best=best, rng=rng_state())
        write_text_atomic(out / "history.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        reporter.update("epochs", 1, val=row["val_acc"], hard=row.get("hard_acc_monitor", float("nan")))
        reporter.note(
            f"epoch {epoch:3d}  loss {row['train_objective']:.4f}  train {row['train_acc']:.4f}  val {row['val_acc']:.4f}"
            f"  val-recoloured {row['val_recolored_acc']:.4f}  val-worst-group {row['val_worst_group_acc']:.4f}"
            + (f"  hard(monitor) {row['hard_acc_monitor']:.4f}" if t.monitor_hard else "")
            + f"  {seconds:.1f}s"
        )
    reporter.done("batches")
    if strategy.refits and best["epoch"]:
        best = _refit_best(out, model, strategy, d, cfg, reporter)
    # Again after the loop: a command killed between the last epoch's last.pt and its history write resumes
    # with no epoch left to run, and the history would otherwise stay one line short (a "partial" run forever).
    write_text_atomic(out / "history.jsonl", "".join(json.dumps(r) + "\n" for r in history))
    plot_curves(history, best["epoch"], f"{name} ({t.model}, {t.strategy})", out / "curves.png")
    return TrainResult(
        out, name, int(best["epoch"]), best, history[-1] if history else {}, len(history),
        time.perf_counter() - t_start, train_images / train_seconds if train_seconds else 0.0,
        {k: str(out / f) for k, f in [("config", "config.json"), ("history", "history.jsonl"), ("curves", "curves.png"),
                                       ("best", "best.pt"), ("last", "last.pt")]},
    )
