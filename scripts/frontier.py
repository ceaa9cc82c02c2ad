"""The laziness frontier: for each network design, plain ERM, the colour-blind oracle and a robust strategy.

Every point is an ordinary `lazy` run (trained with `run_train`, scored with `run_eval`,
both checkpoint rules as `lazy train` applies them), so every run can be inspected with
the other subcommands. Writes `<runs>/frontier/frontier.json`, `frontier.csv`,
`frontier.md` and `frontier.png`; `lazy report` shows them when they exist.

    LAZY_MNIST_DIR=../shared/data/mnist python scripts/frontier.py runs \
        --design v1 --design 'channels=16,kernel=3,convs=2' --strategy consistency --seeds 1

A design is `v1` (sessions 1-2's lazy-cnn), `default` (today's lazy-cnn) or
comma-separated lazy-cnn knobs (channels, kernel, convs, grid, pool, hidden) on top of
`lazy-cnn-v1`. Existing runs with the same config are reused (the study's rule), so an
interrupted frontier resumes. Hard-split accuracies are reported, never used to choose
a checkpoint; choosing the default network from this table is a choice made after
looking at test_hard, and the report says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path
from typing import Any

from lazyartist_cli.allocator import tune_allocator
from lazyartist_cli.config import load_config
from lazyartist_cli.models import resolve_options
from lazyartist_cli.pipeline.data import METADATA, run_make_data, run_verify_data
from lazyartist_cli.pipeline.evaluate import run_eval
from lazyartist_cli.pipeline.stored_config import comparable_config, resolved_config
from lazyartist_cli.pipeline.train import run_train
from lazyartist_cli.runs import dataset_dir, read_json, write_json_atomic, write_text_atomic

ROLES = {"erm": ("erm", "rgb"), "oracle": ("erm", "colorblind")}


def parse_design(text: str) -> tuple[str, str, dict[str, Any]]:
    """(label, model name, options)."""
    if text in ("v1", "default"):
        return text, "lazy-cnn-v1" if text == "v1" else "lazy-cnn", {}
    opts: dict[str, Any] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        opts[key.strip()] = value.strip() if key.strip() == "pool" else int(value)
    resolve_options("lazy-cnn-v1", opts)  # fail early on a bad knob
    return text, "lazy-cnn-v1", opts


def slug(label: str) -> str:
    return label.replace("=", "").replace(",", "-")


def macs_per_image(model: str, opts: dict[str, Any]) -> int:
    """Multiply-accumulates of one forward pass (convolutions and linear layers): a cost that,
    unlike images/s, does not depend on the machine or on what else it is doing."""
    import torch

    from lazyartist_cli.models import build_model

    net = build_model(model, options=opts)
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            total += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
        elif isinstance(mod, torch.nn.Linear):
            total += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, 28, 28))
    for h in handles:
        h.remove()
    return total


def train_point(runs: Path, model: str, opts: dict[str, Any], label: str, role: str, strategy: str, inp: str, seed: int,
                epochs: int, base: Path | None, device: str = "cpu", finished_only: bool = False) -> dict[str, Any] | None:
    name = f"frontier-{slug(label)}-{role}-s{seed}"
    over = {"seed": seed, "device": device, "train.model": model, "train.model_options": opts, "train.strategy": strategy,
            "train.input": inp, "train.name": name, "train.epochs": epochs}
    cfg = load_config(base, over)
    out = runs / name
    done = same = False
    if (out / "config.json").is_file():
        stored = read_json(out / "config.json", "run config").get("config", {})
        hist = (out / "history.jsonl").read_text().splitlines() if (out / "history.jsonl").is_file() else []
        same = comparable_config(stored) == comparable_config(resolved_config(cfg))
        done = same and len(hist) >= epochs and (out / "eval" / "metrics.json").is_file()
    if not done and finished_only:
        return None
    if not done:
        resume = same and (out / "last.pt").is_file()  # a run of another recipe (e.g. another lr) is retrained
        res = run_train(cfg, runs, resume=resume, force=not resume and out.exists())
        run_eval(cfg, runs, [name])
        ips = res.images_per_second
    else:
        hist = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
        ips = statistics.fmean(h["images_per_second"] for h in hist)
    ev = read_json(out / "eval" / "metrics.json", "metrics")
    trained = read_json(out / "config.json", "run config").get("config", {})
    return {"lr": trained.get("train", {}).get("lr"), "options_of_strategy": trained.get("strategy", {}).get(strategy, {}),
            "design": label, "model": model, "options": resolve_options(model, opts), "role": role, "strategy": strategy,
            "seed": seed, "run": name, "val": ev["val"], "test_easy": ev["test_easy"], "test_hard": ev["test_hard"],
            "epoch": ev["checkpoint_epoch"], "images_per_second": ips, "macs_per_image": macs_per_image(model, opts),
            "device": read_json(out / "config.json", "run config").get("environment", {}).get("device", device)}


def _point(job: tuple) -> dict[str, Any]:
    """One (design, seed, role) in a worker process; returns its row."""
    return train_point(*job)


def figure(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(r["design"] for r in rows))
    roles = list(dict.fromkeys(r["role"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(designs) + 1), 3.4))
    width = 0.8 / max(len(roles), 1)
    for j, role in enumerate(roles):
        means, errs = [], []
        for d in designs:
            vals = [100 * r["test_hard"] for r in rows if r["design"] == d and r["role"] == role]
            means.append(statistics.fmean(vals) if vals else 0.0)
            errs.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
        ax.bar([i + (j - (len(roles) - 1) / 2) * width for i in range(len(designs))], means, width, yerr=errs, capsize=3, label=role)
    ax.axhline(20, color="gray", ls=":", lw=1)
    ax.set_xticks(range(len(designs)))
    ax.set_xticklabels(designs, rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("hard test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample std over seeds per (design, role)."""
    out = []
    for key in dict.fromkeys((r["design"], r["role"]) for r in rows):
        grp = [r for r in rows if (r["design"], r["role"]) == key]
        entry: dict[str, Any] = {"design": key[0], "role": key[1], "strategy": grp[0]["strategy"], "seeds": len(grp),
                                 "lr": grp[0].get("lr"),
                                 "images_per_second": statistics.fmean(r["images_per_second"] for r in grp),
                                 "macs_per_image": grp[0].get("macs_per_image"),
                                 "device": ", ".join(sorted({str(r.get("device", "cpu")) for r in grp}))}
        for split in ("val", "test_easy", "test_hard"):
            vals = [r[split] for r in grp]
            entry[split] = statistics.fmean(vals)
            entry[f"{split}_std"] = statistics.stdev(vals) if len(vals) > 1 else None
        out.append(entry)
    return out


def markdown(summary: list[dict[str, Any]], command: str, devices: str = "cpu") -> str:
    def pct(m: float, sd: float | None) -> str:
        return f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"

    lines = [f"Produced by `{command}` (trained on: {devices}; images/s were measured with other runs sharing the "
             "machine, so compare designs by MACs, a machine-independent cost).", "",
             "| design | role | strategy | seeds | easy val | easy test | hard test | kMACs/image | device | train images/s |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for e in summary:
        macs = e.get("macs_per_image")
        lines.append(f"| `{e['design']}` | {e['role']} | `{e['strategy']}` | {e['seeds']} | {pct(e['val'], e['val_std'])} | "
                     f"{pct(e['test_easy'], e['test_easy_std'])} | {pct(e['test_hard'], e['test_hard_std'])} | "
                     f"{'' if macs is None else f'{macs / 1000:,.0f}'} | {e.get('device', 'cpu')} | {e['images_per_second']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--design", action="append", required=True)
    ap.add_argument("--strategy", action="append", default=[], help="robust strategies to add per design")
    ap.add_argument("--roles", default="erm,oracle", help="which of erm,oracle to train")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=None, help="default: the run file's train.epochs")
    ap.add_argument("--config", type=Path, default=None, help="a run file (its strategy options, schedule, epochs)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process (GPU: 4-8)")
    ap.add_argument("--out", default="frontier", help="output folder under the runs dir (a name starting with 'frontier'); "
                    "`lazy report` shows every such folder, e.g. one per training recipe")
    ap.add_argument("--finished-only", action="store_true",
                    help="train nothing: tabulate the points whose runs are finished (e.g. trained elsewhere and copied in)")
    args = ap.parse_args()
    tune_allocator()  # as every `lazy` process does
    if not args.out.startswith("frontier") or "/" in args.out:
        raise SystemExit("frontier: --out must be a folder name starting with 'frontier'")
    runs = args.runs
    base_cfg = load_config(args.config, {"device": "cpu"})
    epochs = args.epochs or base_cfg.train.epochs
    run_make_data(base_cfg, runs)
    run_verify_data(base_cfg, runs, grids=False)
    plan = [(role, *ROLES[role]) for role in args.roles.split(",") if role] + [(s, s, "rgb") for s in args.strategy]
    jobs = [(runs, model, opts, label, role, strategy, inp, seed, epochs, args.config, args.device, args.finished_only)
            for label, model, opts in map(parse_design, args.design) for seed in range(args.seeds)
            for role, strategy, inp in plan]
    rows = []
    t0 = time.perf_counter()

    skipped: list[str] = []

    def show(row: dict[str, Any] | None, job: tuple) -> None:
        if row is None:
            skipped.append(f"frontier-{slug(job[3])}-{job[4]}-s{job[7]}")
            return
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("design", "role", "seed", "val", "test_easy", "test_hard", "epoch")}), flush=True)

    if args.jobs <= 1:
        for job in jobs:
            show(train_point(*job), job)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from lazyartist_cli.pipeline.study import _worker_start, job_threads

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                                 initargs=(job_threads(args.jobs),)) as pool:  # cores / jobs threads each
            for job, row in zip(jobs, pool.map(_point, jobs)):  # results in plan order
                show(row, job)
    if not rows:
        raise SystemExit("frontier: no finished runs to tabulate")
    out = runs / args.out
    summary = summarise(rows)
    command = "python scripts/frontier.py " + " ".join(
        [str(runs)] + [f"--design '{d}'" for d in args.design] + [f"--strategy {s}" for s in args.strategy]
        + [f"--seeds {args.seeds}", f"--epochs {epochs}"] + ([f"--config {args.config}"] if args.config else [])
        + ([f"--device {args.device}"] if args.device != "cpu" else []) + (["--finished-only"] if args.finished_only else [])
        + ([f"--out {args.out}"] if args.out != "frontier" else []))
    ds_meta = read_json(dataset_dir(runs, base_cfg.data.name) / METADATA, "dataset metadata")
    dataset = {"name": base_cfg.data.name, "fingerprint": ds_meta.get("fingerprint"),
               "assignment": ds_meta.get("assignment", "bernoulli")}
    write_json_atomic(out / "frontier.json", {"command": command, "epochs": epochs, "dataset": dataset, "rows": rows, "summary": summary,
                                              "not_finished": skipped,
                                              "seconds": round(time.perf_counter() - t0, 1)})
    with open(out / "frontier.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=[k for k in rows[0] if k != "options"])
        wr.writeheader()
        for r in rows:
            wr.writerow({k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items() if k != "options"})
    devices = ", ".join(sorted({str(r["device"]) for r in rows}))
    note = f"\nNot finished, so not in the table: {', '.join(f'`{n}`' for n in skipped)}.\n" if skipped else ""
    write_text_atomic(out / "frontier.md", markdown(summary, command, devices) + note)
    figure(rows, out / "frontier.png")
    print(markdown(summary, command, devices))


if __name__ == "__main__":
    main()
