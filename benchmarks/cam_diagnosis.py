"""Why do Grad-CAM maps miss their AU? Notebook 02's Table 3 models scored against the truth (#45).

On the fold-1, seed-0 runs of ME-GraphAU Table 3 (notebook 02's default configs, fetched from the
run cache — this script trains nothing and stops when a run is missing), for every AU of the
profile on held-out faces where it is active (:func:`afg.papers.figures.localisation_report`):

* the plain backbone row and each model with and without the K-NN graph (FGG) and MEFL, at the
  last backbone stage (7×7 at 112 px) and one stage earlier (14×14), with Grad-CAM and HiResCAM
  (element-wise gradient × activation instead of channel-averaged gradients);
* where each map actually points: the AU whose region holds the most map energy per unit area;
* each model's K-NN neighbour frequency against P(j | i) of the training labels and of the
  generator, with the node-relabelling baseline.

Writes results file ``localisation`` (``--results-dir``)::

    python benchmarks/cam_diagnosis.py --runs runs --faces 48
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from afg.data.stats import dataset_labels
from afg.experiments import build_data, run_dir_for
from afg.graphs import knn_adjacency
from afg.measured import write_results
from afg.metrics.localisation import au_region_masks, energy_share
from afg.papers.figures import graph_report, localisation_report
from afg.papers.me_graphau_table3 import StageAblation, me_graphau_config, table3_variants
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.results import dataset_attr, first_images, label_names, model_for
from afg.runs import RunFolder
from afg.viz import gradcam

ROWS = ("Backbone (WBCE)", "+AFG, L_WA", "+AFG+FGG, L_WA", "+AFG+MEFL, L_WA", "+AFG+FGG+MEFL, L_WA+L_E")


def where_it_points(model, layer, batch, aus, masks_all, method="gradcam") -> dict[str, str]:
    """For each target AU: the AU whose region holds the most map energy per unit area."""
    cams = gradcam(model, batch["image"], layer, aus, names=aus, method=method)  # (B, A, H, W)
    area = masks_all.mean(axis=(-2, -1))  # (B, A regions)
    out = {}
    for t, a in enumerate(aus):
        lift = np.nanmean(energy_share(cams[:, t][:, None], masks_all) / area, axis=0)  # (A regions,)
        out[a] = aus[int(np.nanargmax(lift))] if np.isfinite(lift).any() else "none (all-zero maps)"
    return out


def _num(v) -> float | None:
    """JSON-safe: NaN (an all-zero map's energy share) -> None."""
    v = float(v)
    return None if not np.isfinite(v) else round(v, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=None, help="run cache (default $AFG_RUNS_DIR or ./runs)")
    ap.add_argument("--faces", type=int, default=48)
    ap.add_argument("--results-dir", default=None)
    ap.add_argument("--quick", action="store_true", help="the QUICK runs (smoke test; give --results-dir)")
    ap.add_argument("--random-init", action="store_true",
                    help="the same rows from a randomly initialised backbone (model.weights: null), trained "
                    "here when missing (5 runs) -- a check that needs no pretrained backbone")
    args = ap.parse_args(argv)
    setup = NotebookSetup(quick=args.quick)
    cfg = me_graphau_config(setup)
    rows = ROWS
    if args.random_init:
        cfg = cfg.override({"model.weights": None})
        rows = tuple(r for r in ROWS if r != "+AFG+MEFL, L_WA")  # 4 runs: what this check can afford
    abl = StageAblation(cfg, table3_variants(cfg, stage2_lr=cfg.recipe.optimizer.lr), folds=[1], seeds=[0],
                        root=args.runs)
    missing = [n for n, _, _, c in abl.configs() if n in rows and not RunFolder(run_dir_for(c, args.runs)).is_complete()]
    if missing and not args.random_init:
        sys.exit(f"cam_diagnosis: runs not in the cache yet: {missing} (run notebook 02 or replicate_tables.py)")
    abl.variants = {n: v for n, v in abl.variants.items() if n in rows or n == "+AFG+FGG, L_WA"}
    abl.run()
    first = abl.first_runs()
    models = {n: model_for(first[n], args.runs).eval() for n in rows}
    train, val = build_data(first[rows[-1]].config.data)
    aus = label_names(val)
    scores = {n: {k: round(float(first[n].metrics[k]), 4) for k in ("f1_mean", "auc_mean")} for n in rows}
    print("held-out F1 / AUC of the models:", scores, flush=True)
    records, points = [], {}
    for method in ("gradcam", "hirescam"):
        for stage, pick in (("last stage (7x7)", lambda m: m.backbone.target_layer),
                            ("stage 3 (14x14)", lambda m: m.backbone.model.layer3)):
            spec = {n: (m, pick(m)) for n, m in models.items()}
            loc = localisation_report(spec, val, aus, n=args.faces, method=method)
            for (m, a), r in loc.iterrows():
                records.append({"method": method, "layer": stage, "model": m, "au": a,
                             **{k: _num(r[k]) for k in ("pointing", "energy", "chance")}, "n": int(r["n"])})
            print(f"--- {method}, {stage}\n{loc.round(3).to_string()}", flush=True)
    batch = first_images(val, args.faces)
    masks_all = au_region_masks(np.asarray(batch["landmarks"]), list(batch["subject"]), aus,
                                tuple(batch["image"].shape[-2:]), landmark_size=int(dataset_attr(val, "size")))
    for n, m in models.items():
        points[n] = where_it_points(m, m.backbone.target_layer, batch, aus, masks_all)
        print(f"{n}: the map of each AU lies most in the region of {points[n]}", flush=True)
    faces = torch.stack([val[i]["image"] for i in range(len(val))])
    k = int(cfg.model["neighbor_num"])
    knn = {}
    for n in rows[1:]:
        with torch.no_grad():
            nodes = models[n](faces, return_intermediates=True)["nodes"]
        knn[n] = knn_adjacency(nodes, k, "dots").float().mean(0)
    graphs = graph_report(knn, dataset_labels(train)["au"], profile=dataset_attr(val, "profile"))
    print(graphs.attrs["note"], "\n", graphs.round(3).to_string(), flush=True)
    write_results("localisation_random_init" if args.random_init else "localisation", {
        "init": "random" if args.random_init else cfg.model.get("weights"),
        "runs": {n: first[n].run_dir.name for n in rows}, "metrics": scores, "faces": args.faces, "localisation": records,
        "points_to": points,
        "graphs": [{"graph": g, "truth": t, **{c: _num(v) for c, v in r.items()}}
                   for (g, t), r in graphs.iterrows()]},
        command="python benchmarks/cam_diagnosis.py " + " ".join(sys.argv[1:] if argv is None else argv),
        precision=first[rows[-1]].precision, folder=args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
