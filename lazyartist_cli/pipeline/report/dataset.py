"""Section 2 of the report: the dataset's palette and the aligned fractions measured by ``lazy verify-data``."""

from __future__ import annotations

from ..data import VERIFY
from .loader import SPLITS, ReportContext, _load


def write_dataset(ctx: ReportContext) -> None:
    w, cfg, ds_meta = ctx.w, ctx.cfg, ctx.ds_meta
    w.h(2, "2. Dataset")
    ver = _load(ctx.dataset_file(VERIFY))
    if not ds_meta:
        w.not_run("dataset", "lazy make-data")
    else:
        pal = ds_meta["palette"]
        base_name = ds_meta["base"].get("name") if isinstance(ds_meta.get("base"), dict) else cfg.data.base
        w.p(f"`{cfg.data.name}`: {base_name} digits coloured with the `{ds_meta.get('protocol', cfg.data.protocol)}` protocol; "
            + ("in train/val/test_easy exactly round(correlation x n_k) of class *k*'s n_k images, a random subset, take its dominant "
               "colour (exact assignment), and none in test_hard "
               if ds_meta.get("assignment") == "exact" else
               "class *k* takes its dominant colour with the configured probability in train/val/test_easy (each image drawn "
               "independently) and never in test_hard ")
            + "(test_easy and test_hard share digits and backgrounds).")
        w.p()
        bias = ds_meta.get("bias", {})
        if bias.get("kind", "colour") == "colour":
            w.table(["class", "dominant colour", "RGB"], [[str(k), n, str(tuple(c))] for k, (n, c) in enumerate(zip(pal["names"], pal["rgb"]))])
        else:  # the shortcut is not colour: the bias value each class takes (a patch's shade, a grating's angle)
            w.p(f"The shortcut is a {bias['kind']}: {bias.get('description', '')}. Here *aligned* means the image carries its "
                "class's bias value (and *colour* in the sections below reads as that bias value; the colour-only "
                "analyses are not applicable).")
            w.p()
            w.table(["class", "dominant bias value"], [[str(k), n] for k, n in enumerate(bias.get("names", []))])
        if ver:
            src = ctx.dataset_file(VERIFY)
            rows = []
            for sp in SPLITS:
                st = ver["splits"].get(sp, {})
                if st.get("aligned_fraction") is None:
                    continue
                rows.append([sp, str(st["n"]), w.num(f"dataset.{sp}.aligned_fraction", st["aligned_fraction"], src),
                             "yes" if st.get("ok") else "NO"])
            w.p("Measured by `lazy verify-data` (aligned = the image has its class's dominant colour):")
            w.p()
            w.table(["split", "images", "aligned fraction", "checks pass"], rows)
            for sp in ("train", "test_hard"):
                w.fig(ver.get("grids", {}).get(sp), f"samples of {sp}", 520)
        else:
            w.not_run("dataset verification", "lazy verify-data")
