"""The main job (``make demo`` = ``python -m afg demo``): ME-GraphAU vs its backbone on synthetic DISFA.

1. A synthetic dataset with DISFA's 8 AUs and label statistics (:class:`afg.data.synth.SynthFaces`,
   ``profile="disfa"``), split by identity: fold 1 of a 3-fold subject-independent protocol.
2. Two cached runs through :func:`afg.experiments.run` (a rerun trains nothing), both on afg's
   ``resnet_tiny`` at 112 px (7x7 tokens) initialised from its synthetic-landmark pretraining
   (:mod:`afg.pretrain`, :data:`~afg.pretrain.DEFAULT_PRETRAINING`: read from the package's
   ``afg/weights/`` where it ships them, else trained once, ~8-20 CPU minutes, then cached;
   ``--quick``: from scratch),
   with the *same* loss (ME-GraphAU's weighted asymmetric loss L_WA, Eq. 6), optimiser and
   two-stage schedule, so that they differ only in the model:
   the backbone baseline (ME-GraphAU with its graph modules off: mean-pooled tokens → linear,
   Table 3's backbone row trained with L_WA) and ME-GraphAU stage 1 (AFG + FGG, L_WA) followed by
   stage 2 (MEFL + GatedGCN, L_WA + λ·L_E), stage 2 initialised from stage 1.
3. ``recipe.selection: last``: no model selection at all; the held-out subjects are evaluated once,
   after the last epoch (and ME-GraphAU's stage-1 weights once more, for the intermediate row).
   The per-AU F1 table shows, for scale, the F1 of predicting every AU present (the score a
   model that learned nothing but "say yes" gets; a working model must beat it) and the paper's
   DISFA row (ME-GraphAU, ResNet-50, Table 2 — a real-data number, not a target for synthetic
   faces and a small CPU budget).
4. Figures (``$AFG_FIGURES_DIR`` or ``./figures``): ``demo_f1.pdf|png`` (per-AU F1 bars with the
   paper's row as markers) and ``demo_knn_graph.pdf|png`` (each AU node linked to its K nearest
   neighbours in the trained stage-2 model, for held-out faces; ME-GraphAU Fig. 4).
5. :class:`afg.Predictor` (what ``afg predict`` runs) with the trained ME-GraphAU on a real
   photograph (scikit-image's astronaut: MTCNN detection + alignment) and on a few synthetic faces
   (already aligned: ``detect=False``); the tables go to ``<runs>/demo/predict_*.csv``.

One fold and one seed show that the pipeline runs end to end and that both models learn; they
cannot show which model is better: the run-to-run noise at this scale is a few F1 points, so a
difference needs paired runs over folds × seeds with a confidence interval
(:func:`afg.papers.me_graphau_table3.table3_report`, notebook 02).

Runs go to ``$AFG_RUNS_DIR`` or ``./runs``. ``--quick`` shrinks everything to about a minute
(for CI).
"""
from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from . import __version__
from .data.transforms import to_uint8
from .data.wrappers import base_dataset
from .docs import record
from .experiments import RunResult, build_data, build_model, load_experiment, run, runs_root
from .experiments.runner import final_model_config
from .metrics.chance import every_present_f1s
from .predict import Predictor, load_model_checkpoint, resolve_checkpoint
from .pretrain import DEFAULT_PRETRAINING
from .reference import load_table
from .runs import RunFolder, load_checkpoint
from .train.evaluate import evaluate
from .utils import resolve_device

__all__ = ["PLANS", "demo_configs", "main"]

#: sizes of the two forms of the demo
PLANS: dict[str, dict[str, Any]] = {
    "full": {"n_subjects": 24, "images_per_subject": 40, "batch_size": 16,
             "stage1_epochs": 12, "stage2_epochs": 8, "max_steps": None, "synthetic_faces": 4},
    "quick": {"n_subjects": 6, "images_per_subject": 4, "batch_size": 8,
              "stage1_epochs": 1, "stage2_epochs": 1, "max_steps": 2, "synthetic_faces": 2},
}
#: rows of the F1 table
_BASELINE, _STAGE1, _FULL = "Baseline (backbone + linear)", "ME-GraphAU stage 1 (ANFL)", "ME-GraphAU stage 2 (full)"
_CHANCE, _PAPER = "Chance: every AU present", "Paper: ME-GraphAU R-50 (real DISFA)"


def demo_configs(quick: bool = False, device: str = "cpu") -> dict[str, dict[str, Any]]:
    """The two experiment configs (dicts for :func:`afg.experiments.load_experiment`): the same
    data, loss (L_WA), optimiser and two-stage schedule; only the model differs."""
    plan = PLANS["quick" if quick else "full"]
    data = {"dataset": "synthetic", "profile": "disfa", "n_subjects": plan["n_subjects"],
            "images_per_subject": plan["images_per_subject"], "size": 112, "folds": 3, "fold": 1,
            "seed": 0}

    def recipe(stage2_model: dict[str, Any]) -> dict[str, Any]:
        return {"batch_size": plan["batch_size"], "eval_batch_size": 32,
                "optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 5.0e-4},
                "schedule": {"name": "cosine", "warmup_epochs": 0.5 if not quick else 0.0, "min_lr": 0.05},
                "max_steps_per_epoch": plan["max_steps"], "device": device, "progress": True,
                "selection": "last", "seed": 0, "epochs": plan["stage1_epochs"], "stages": [
                    {"name": "stage1", "epochs": plan["stage1_epochs"], "init_from": None},
                    {"name": "stage2", "model": stage2_model, "init_from": "previous",
                     "init_checkpoint": "last", "epochs": plan["stage2_epochs"],
                     "optimizer": {"lr": 1.0e-3}},  # MEFL and GatedGCN start from random weights
                ]}

    model = {"name": "me_graphau_stage1", "num_classes": 8, "backbone": "resnet_tiny", "pretrained": False,
             "img_size": 112, "weights": None if quick else DEFAULT_PRETRAINING, "loss": "wa"}
    baseline = {
        "name": "demo-baseline",
        "description": "resnet_tiny backbone + linear head, L_WA, same two-stage budget (fold 1)",
        "model": {**model, "use_afg": False},
        "data": data,
        "recipe": recipe({}),  # stage 2 continues the same model
    }
    me_graphau = {
        "name": "demo-me_graphau",
        "description": "ME-GraphAU stage 1 (AFG+FGG, L_WA) then stage 2 (MEFL+GatedGCN, L_WA+λL_E)",
        "model": {**model, "neighbor_num": 3, "metric": "dots", "lam": 0.05},
        "data": data,
        "recipe": recipe({"name": "me_graphau"}),
    }
    return {"baseline": baseline, "me_graphau": me_graphau}


def main(quick: bool = False, runs: str | os.PathLike | None = None,
         figures: str | os.PathLike | None = None, device: str | None = None) -> int:
    """Run the demo; returns 0. See the module docstring."""
    warnings.filterwarnings("ignore", message=r"stage 'stage2': initialised from previous stage")
    t_start, c_start = time.perf_counter(), time.process_time()
    dev = str(resolve_device(device or "cpu"))
    root = runs_root(runs)
    print(f"afg {__version__} demo{' --quick' if quick else ''}: torch {torch.__version__}, device {dev}, "
          f"{torch.get_num_threads()} threads, runs in {root}", flush=True)
    cfgs = {k: load_experiment(v) for k, v in demo_configs(quick, dev).items()}
    timings: dict[str, float] = {}
    t = time.perf_counter()
    test = _data(cfgs["baseline"].data)
    timings["data"] = time.perf_counter() - t
    results = _train(cfgs, root, timings)
    t = time.perf_counter()
    table, paper_row = _f1_table(results, test, dev, quick)
    _figures(table, paper_row, results["me_graphau"], test, figures, quick)
    timings["figures"] = time.perf_counter() - t
    t = time.perf_counter()
    _predict(results["me_graphau"], test, root / "demo", dev, PLANS["quick" if quick else "full"])
    timings["predict"] = time.perf_counter() - t
    total, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    _hr("done")
    print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; total {total:.0f} s "
          f"({total / 60:.1f} min); process CPU time {cpu:.0f} s on {torch.get_num_threads()} threads")
    _record(quick, table, results, timings, total)
    return 0


def _record(quick: bool, table: pd.DataFrame, results: dict[str, RunResult], timings: dict[str, float],
            total: float) -> None:
    """The demo's summary as ``docs/results/demo.json`` (``--quick``: ``demo_quick.json``), the
    file the README's and ``docs/`` pages render their demo numbers from (:func:`afg.docs.record`)."""
    rows = {"baseline": _BASELINE, "me_graphau_stage1": _STAGE1, "me_graphau": _FULL,
            "every_au_present": _CHANCE, "paper_disfa": _PAPER}
    auc = {k: results[k].metrics.get("auc_mean") for k in ("baseline", "me_graphau")}
    data = {"mode": "quick" if quick else "full",
            "minutes": round(total / 60, 2),
            "seconds": {k: round(v, 1) for k, v in timings.items()},
            "trained": {k: not r.cached for k, r in results.items()},  # False: the run came from the cache
            "f1_mean": {k: round(float(table.loc[row, "mean"]), 2) for k, row in rows.items()},
            "auc_mean": {k: None if v is None else round(100 * float(v), 2) for k, v in auc.items()},
            "threads": torch.get_num_threads()}
    record("demo_quick" if quick else "demo", data, command="python -m afg demo" + (" --quick" if quick else ""),
           precision=results["me_graphau"].precision)


def _hr(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


def _data(spec: Any) -> Any:
    """Section 1: the fold's training and held-out faces, their subjects and AU base rates; returns
    the held-out faces."""
    _hr("1. data: synthetic DISFA-profile faces (8 AUs), fold 1/3 by identity")
    train, test = build_data(spec)
    ds = base_dataset(train)
    names = list(ds.au_names)
    tr_subj = sorted({str(ds.sample_subjects[i]) for i in train.indices})
    te_subj = sorted({str(ds.sample_subjects[i]) for i in test.indices})
    rates = np.nanmean(np.asarray(ds.labels()["au"], dtype=float), 0)
    print(f"{len(ds)} images of {ds.n_subjects} identities at 112 px: train {len(train)} "
          f"({len(tr_subj)} subjects), held-out test {len(test)} ({', '.join(te_subj)})")
    print("AU base rates: " + " ".join(f"{n}={r:.2f}" for n, r in zip(names, rates)))
    return test


def _train(cfgs: dict[str, Any], root: Path, timings: dict[str, float]) -> dict[str, RunResult]:
    """Section 2: both runs through the run cache (a rerun trains nothing)."""
    _hr("2. training (cached runs; a rerun trains nothing)")
    results = {}
    for key, label in (("baseline", "backbone baseline"), ("me_graphau", "ME-GraphAU stage 1 + stage 2")):
        t = time.perf_counter()
        print(f"-- {label}: {cfgs[key].description}", flush=True)
        res = run(cfgs[key], root=root)
        timings[key] = time.perf_counter() - t
        print(f"   {'cached' if res.cached else 'trained'} in {timings[key]:.0f} s -> {res.run_dir}", flush=True)
        results[key] = res
    return results


def _stage_held_out(result: RunResult, stage: str, test: Any, device: str = "cpu") -> dict[str, Any]:
    """Held-out metrics of one stage's last weights (its resumable checkpoint)."""
    d = RunFolder(result.run_dir).stage(stage)
    model = build_model(final_model_config(result.config, stage), test)
    model.load_state_dict(load_checkpoint(RunFolder.last(d))["model"])
    return evaluate(model.to(device), test, batch_size=32, device=device)


def _per_au(metrics: dict[str, Any], names: list[str]) -> list[float]:
    return [100.0 * float(metrics.get(f"f1/{n}", float("nan"))) for n in names]


def _f1_table(results: dict[str, RunResult], test: Any, dev: str, quick: bool) -> tuple[pd.DataFrame, list[float]]:
    """Section 3: per-AU F1 of the three models, the every-AU-present reference and the paper's row;
    what one fold and one seed can and cannot show. Returns the table and the paper's row."""
    _hr("3. per-AU F1 (%) on the held-out subjects (final weights: no model selection)")
    ds = base_dataset(test)
    names = list(ds.au_names)
    base_m, me_m = results["baseline"].metrics, results["me_graphau"].metrics
    rows = {_BASELINE: _per_au(base_m, names),
            _STAGE1: _per_au(_stage_held_out(results["me_graphau"], "stage1", test, dev), names),
            _FULL: _per_au(me_m, names)}
    paper = load_table("me_graphau/table2").loc["ME-GraphAU (ResNet-50)"]
    paper_row = [float(paper[n]) for n in names]
    table = pd.DataFrame(rows, index=names).T
    table["mean"] = table[names].mean(1)
    held_out = np.asarray(ds.labels()["au"], dtype=float)[np.asarray(test.indices)]
    chance = (100.0 * every_present_f1s(held_out)).tolist()  # F1 of predicting every AU present
    table.loc[_CHANCE] = chance + [float(np.mean(chance))]
    table.loc[_PAPER] = paper_row + [float(paper["mean"])]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.round(1).to_string())
    auc = {"Baseline": base_m.get("auc_mean"), "ME-GraphAU": me_m.get("auc_mean")}
    print("mean AUC: " + ", ".join(f"{k} {100 * float(v):.1f}" for k, v in auc.items() if v is not None)
          + " (chance 50.0)")
    _verdict(table, float(np.mean(chance)), quick)
    return table, paper_row


def _verdict(table: pd.DataFrame, ref: float, quick: bool) -> None:
    """Did each model beat the every-AU-present F1, and why one fold cannot rank them."""
    for label in (_BASELINE, _FULL):
        f1 = float(table.loc[label, "mean"])
        verdict = "above it: the model learned" if f1 > ref else "NOT above it: the model did not learn"
        print(f"{label}: mean F1 {f1:.1f} vs {ref:.1f} for predicting every AU present — {verdict}")
    both = all(float(table.loc[k, "mean"]) > ref for k in (_BASELINE, _FULL))
    d = table.loc[_FULL, "mean"] - table.loc[_BASELINE, "mean"]
    print(f"ME-GraphAU - baseline: {d:+.1f} F1 points on one fold with one seed (same loss, optimiser and "
          "epochs).")
    print("What this can show: " + (
        "both pipelines train end to end and both models learn (F1 above the every-AU-present reference)."
        if both else "the pipelines run end to end; here not both models beat the every-AU-present "
        "reference" + (" (--quick trains for a few steps only)." if quick else ".")))
    print("What it cannot show: whether ME-GraphAU is better. Runs differ by a few F1 points from fold to "
          "fold and seed to seed, so a difference needs paired runs over folds × seeds with a confidence "
          "interval (notebook 02; afg.papers.me_graphau_table3.table3_report).")


def _figures(table: pd.DataFrame, paper_row: list[float], result: RunResult, test: Any,
             figures: str | os.PathLike | None, quick: bool) -> None:
    """Section 4: per-AU F1 bars with the paper's row; the trained stage-2 model's AU graph (Fig. 4)."""
    _hr("4. figures")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # local: pyplot only after the demo has chosen its backend

    from .viz import (  # local: afg.viz imports pyplot, so only after the demo has chosen its backend
        plot_au_f1,
        plot_knn_graph,
        save_figure,
        use_style,
    )

    use_style()
    names = list(base_dataset(test).au_names)
    fig = plot_au_f1(table.drop(index=[_PAPER, _CHANCE])[names], names,
                     paper={"ME-GraphAU R-50 (DISFA)": paper_row}, title="Synthetic DISFA, held-out subjects")
    paths = save_figure(fig, "demo_f1", folder=figures)
    plt.close(fig)
    model = _load_final(result)
    n_show = 4 if not quick else 2
    items = [test[i] for i in range(0, len(test), max(1, len(test) // n_show))][:n_show]
    x = torch.stack([it["image"] for it in items])
    with torch.no_grad():
        out = model.eval()(x, return_intermediates=True)
    titles = [f"{it['subject']}, true AUs: " + (",".join(n.replace("AU0", "").replace("AU", "")
                                                      for n, y in zip(names, it["au"].tolist()) if y > 0.5)
                                             or "none") for it in items]
    fig = plot_knn_graph(out["nodes"], k=model.head.neighbor_num, activations=out["au"], names=names,
                         images=np.stack([to_uint8(im) for im in x]), titles=titles)
    paths += save_figure(fig, "demo_knn_graph", folder=figures)
    plt.close(fig)
    for p in paths:
        print(f"written: {p}")


def _load_final(result: RunResult) -> nn.Module:
    """The trained model of a run (last stage, the checkpoint written after its last epoch)."""
    if result.model is not None:
        return result.model.cpu()
    model, _ = load_model_checkpoint(result.run_dir)
    return model


def _predict(result: RunResult, test: Any, out_dir: Path, dev: str, plan: dict[str, Any]) -> None:
    """Section 5: :class:`afg.Predictor` (as ``afg predict``) on a real photograph (MTCNN) and on
    synthetic faces (already aligned); one CSV each in ``out_dir``."""
    _hr("5. afg.Predictor: a real photograph (MTCNN) and synthetic faces (detect=False)")
    ds = base_dataset(test)
    out_dir.mkdir(parents=True, exist_ok=True)
    predictor = Predictor(resolve_checkpoint(result.run_dir), device=dev)
    print(f"{predictor!r}", flush=True)
    with tempfile.TemporaryDirectory(prefix="afg-demo-") as tmp:
        photo = Path(tmp) / "astronaut.png"
        try:
            from skimage import (
                data as skdata,  # local: scikit-image (~0.5 s) only for the demo photograph
            )

            Image.fromarray(skdata.astronaut()).save(photo)
        except ImportError:  # pragma: no cover - scikit-image is a dev dependency
            print("(scikit-image not installed: using a synthetic face as the photograph)")
            Image.fromarray(ds.render(test.indices[0])).resize((256, 256)).save(photo)
        synth_dir = Path(tmp) / "synthetic"
        synth_dir.mkdir()
        for i in test.indices[1:1 + plan["synthetic_faces"]]:
            Image.fromarray(ds.render(i)).save(synth_dir / f"{ds.sample_subjects[i]}_{i:04d}.png")
        for source, detect, name in ((photo, True, "predict_photo.csv"),
                                     (synth_dir, False, "predict_synthetic.csv")):
            df = predictor.predict([str(source)], detect=detect)
            df.to_csv(out_dir / name, index=False)
            _show_predictions(df, predictor.output_columns, out_dir / name)
    print("(the model learned synthetic faces only: its AU probabilities on a real photograph show the "
          "pipeline, not a calibrated prediction)")


def _show_predictions(df: pd.DataFrame, columns: list[str], written: Path) -> None:
    """How many faces were found, and their AU probabilities."""
    ok = df[df["status"] == "ok"]
    print(f"{written.name}: {df['input'].nunique()} input(s), {len(ok)} face(s), "
          f"{int((df['status'] != 'ok').sum())} row(s) without a face")
    if len(ok):
        show = ok[["input", "face", "FaceScore", *columns]].copy()
        show["input"] = show["input"].map(lambda s: Path(s).name)
        with pd.option_context("display.width", 200, "display.max_columns", 40):
            print(show.round(2).to_string(index=False))
    print(f"written: {written}")
