"""The laziness frontier in the report (end of section 5): one table per frontier folder written by
``scripts/frontier.py``, and the computed verdict on which network designs are lazy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .intervals import LAZY_HARD
from .loader import _load
from .writer import Writer

FRONTIER = Path("frontier") / "frontier.json"  # written by scripts/frontier.py


def _study_model_label() -> str:
    from ...models import OPTIONS

    return "lazy-cnn: " + ", ".join(f"{k}={v}" for k, v in OPTIONS["lazy-cnn"][1].items())


def frontier_verdict(summary: list[dict[str, Any]], lazy_below: float = LAZY_HARD) -> list[str]:
    """Computed from the frontier table: which designs are lazy under ERM, and how close each role comes to its
    colour-blind oracle there (the study needs both at once)."""
    by = {(e["design"], e["role"]): e for e in summary}
    designs = list(dict.fromkeys(e["design"] for e in summary))
    lazy = [d for d in designs if (d, "erm") in by and by[d, "erm"]["test_hard"] < lazy_below]
    shape = [d for d in designs if (d, "erm") in by and by[d, "erm"]["test_hard"] >= lazy_below]
    out = [f"- ERM is lazy (hard < {100 * lazy_below:.0f}%) on {len(lazy)} of {len(lazy) + len(shape)} designs"
           + (": " + ", ".join(f"`{d}`" for d in lazy) if lazy else "") + "."]
    roles = [r for r in dict.fromkeys(e["role"] for e in summary) if r not in ("erm", "oracle")]
    for group, label in ((lazy, "lazy"), (shape, "not lazy")):
        oracles = [by[d, "oracle"]["test_hard"] for d in group if (d, "oracle") in by]
        if oracles:
            out.append(f"- Colour-blind oracle on the {label} designs: hard {100 * min(oracles):.1f}-{100 * max(oracles):.1f}%.")
        for role in roles:
            pts = [(by[d, role]["test_hard"], by[d, "oracle"]["test_hard"], d) for d in group if (d, role) in by and (d, "oracle") in by]
            if pts:
                best = max(pts)
                gaps = [o - h for h, o, _ in pts]
                out.append(f"- `{role}` on the {label} designs: best hard {100 * best[0]:.1f}% (`{best[2]}`), "
                           f"{100 * min(gaps):.1f}-{100 * max(gaps):.1f} points below that design's oracle.")
    return out



def _frontier_section(w: Writer, runs_dir: Path, dataset_fp: Any = None) -> None:
    """The laziness frontier (scripts/frontier.py): one table per frontier folder (e.g. one per training recipe)."""
    w.h(3, "Laziness frontier: which networks take the shortcut")
    srcs = sorted(runs_dir.glob(f"{FRONTIER.parent}*/{FRONTIER.name}"))
    if not srcs:
        w.not_run("laziness frontier at fixed learning rates", "python scripts/frontier.py runs --design v1 --design default "
                  "--strategy consistency")
        w.p("The frontier under each design's own rule (its learning rate chosen by easy val) is the sweep "
            "`experiments/frontier-lr.toml` (`lazy sweep experiments/frontier-lr.toml --executor process --workers 2`), shown among the sweeps "
            "below when it has run.")
        w.p()
        return
    for src in srcs:
        data = _load(src)
        if data:
            _frontier_table(w, src, data, dataset_fp)


def _frontier_recipe(summary: list[dict[str, Any]]) -> str:
    lrs = {f"{e['role']}": e.get("lr") for e in summary}
    if all(v is None for v in lrs.values()):
        return ("Learning rates are not recorded in this table (it was made before they were; train.lr was then 0.001 for "
                "every role, and consistency used hue, brightness, contrast and saturation jitter).")
    return "Learning rate per role: " + ", ".join(f"{role} {lr:g}" for role, lr in lrs.items() if lr is not None) + "."


def _frontier_dataset(data: dict[str, Any], dataset_fp: Any) -> str:
    """What the table says about the dataset its runs trained on, when that is not the report's own."""
    ds = data.get("dataset")
    if not ds:
        return (" Made before frontier tables recorded their dataset: its runs trained on an earlier build of the dataset "
                "(colours drawn per image, aligned fractions within about 0.4 points of the target), so compare its "
                "numbers with the tables above only roughly.")
    if dataset_fp is not None and ds.get("fingerprint") != dataset_fp:
        return (f" Its runs trained on another build of `{ds.get('name')}` ({ds.get('assignment')} colour assignment) than "
                "the report's, so compare its numbers with the tables above only roughly.")
    return ""


def _frontier_table(w: Writer, src: Path, data: dict[str, Any], dataset_fp: Any = None) -> None:
    w.p(f"**`{src.parent.name}`**: per network design (lazy-cnn knobs), plain ERM, the colour-blind oracle and robust strategies, "
        f"{data['epochs']} epochs, checkpoints chosen without hard data. {_frontier_recipe(data['summary'])} "
        "A design is useful for the study when ERM stays lazy (hard < 20%) while the oracle "
        "shows room for shape. kMACs/image is the cost of one forward pass (machine-independent); images/s is the training "
        "throughput of that run on the device it trained on, with other runs sharing the machine, so compare designs by MACs. "
        f"The study's own network (`{_study_model_label()}`) is the strategy table above. Produced by `{data['command']}`."
        + _frontier_dataset(data, dataset_fp))
    w.p()
    key = src.parent.name
    rows = []
    for e in data["summary"]:
        def cell(split: str) -> str:
            sd = e.get(f"{split}_std")
            return f"{100 * e[split]:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "") + "%"
        w.num(f"{key}.{e['design']}.{e['role']}.test_hard", e["test_hard"], src)
        rows.append([f"`{e['design']}`", e["role"], f"`{e['strategy']}`", str(e["seeds"]), cell("val"), cell("test_easy"),
                     cell("test_hard"), "" if e.get("macs_per_image") is None else f"{e['macs_per_image'] / 1000:,.0f}",
                     str(e.get("device", "cpu")), f"{e['images_per_second']:,.0f}"])
    w.table(["design", "role", "strategy", "seeds", "easy val", "easy test", "hard test", "kMACs/image", "device", "images/s"], rows)
    w.p()
    for line in frontier_verdict(data["summary"]):
        w.p(line)
    if data.get("not_finished"):
        w.p()
        w.p("Not finished, so not in the table: " + ", ".join(f"`{n}`" for n in data["not_finished"]) + ".")
    w.fig(src.parent / "frontier.png", f"hard-test accuracy per design and role ({key})", 560)
