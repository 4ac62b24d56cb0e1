"""Is each paper's full model clearly above chance on the synthetic default? Issue #26's criteria,
measured per paper on held-out identities.

Run::

    python benchmarks/synth_margins.py                         # all five papers, fold 1, seed 0
    python benchmarks/synth_margins.py --papers emotion_gcn --seeds 0 1 --runs /tmp/runs

Trains (through the run cache, ``--runs``; notebooks 02–06 share these runs) each paper's full
model as the notebooks' default mode configures it (``configs/<paper>_synthetic.yaml`` merged with
``configs/synthetic/default.yaml`` by :class:`~afg.papers.notebook_setup.NotebookSetup`), on fold ``--fold``
with each seed of ``--seeds`` (``recipe.seed``: initialisation, batch order and the selection split's identities; the faces stay),
evaluates the held-out fold and compares it with the constant predictors that know the held-out
label rates (so the references are, if anything, generous):

* AU papers (ME-GraphAU two-stage, MAFG+CCFG, AU-GCN): mean F1 against the F1 of predicting every
  AU present, ``mean_i 2 r_i / (1 + r_i)`` with ``r_i`` AU ``i``'s held-out rate; the criterion is a
  ratio of at least **1.5**. Mean AUC is printed beside it (chance 0.5).
* Emotion-GCN (7 balanced expressions): accuracy against the majority-class rate (chance); the
  criterion is at least **2×** chance and every class's recall above chance (Happy first). Below
  its row, the structure the paper reads off its Fig. 6 (:func:`afg.metrics.fig6_structure`).
* SVML-RGCN (multi-label emotions): label-ranking average precision (the paper's AP, Eq. 12)
  against the AP of ranking every face's labels by their held-out frequency; "clearly above" is
  read here as at least **+0.10** AP (afg's reading: the issue names no number).

The issue's fourth criterion (final training loss well below the constant predictor's loss) is
not measured here: the papers' losses are weighted differently and a constant predictor has no
single loss across them; the held-out criteria above are the stricter test.

Prints one row per paper and seed, then the per-paper mean with a verdict. Measured figures are
recorded in the README (issue #26's per-paper table) with the afg commit and the machine. The
default mode's backbone initialisation is :data:`afg.pretrain.DEFAULT_PRETRAINING`
(``synthetic-long`` since 3 Dec 2026); figures recorded before that date are the first default's,
``--set model.weights=synthetic`` reruns them.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from synth_stability import parse_arm  # benchmarks/ is the script folder, on sys.path

PAPERS = ("me_graphau", "mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn")


def measure(paper: str, fold: int, seed: int, root: str | None,
            overrides: dict[str, Any] | None = None, epochs: int | None = None) -> dict[str, Any]:
    """Train (or read from the cache) ``paper``'s full model and measure its margins
    (``overrides``: dotted keys on top of the default mode's config; ``epochs``: the notebooks'
    ``EPOCHS`` parameter, every stage)."""
    from afg.experiments import run
    from afg.metrics.chance import chance_margins
    from afg.papers.notebook_setup import NotebookSetup
    from afg.papers.results import predictions

    setup = NotebookSetup(quick=False, epochs=epochs)
    cfg = setup.config(paper, {**(overrides or {}), "data.fold": fold, "recipe.seed": seed})
    t0 = time.perf_counter()
    result = run(cfg, root=root, load_model=True)
    secs = time.perf_counter() - t0
    p = predictions(result)
    task = getattr(result.model, "task", "au")
    out = chance_margins(task, p["metrics"], p["labels"])
    out.update(paper=paper, seed=seed, task=task, seconds=secs, cached=result.cached)
    if task == "expression" and hasattr(result.model, "classifier_vectors"):
        from afg.metrics import fig6_structure

        m = result.model
        out["fig6"] = fig6_structure(m.classifier_vectors(), m.node_names, accuracy=out["score"],
                                     chance=out["chance"])["note"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--fold", type=int, default=1)
    ap.add_argument("--runs", default=None, help="runs folder (default $AFG_RUNS_DIR or ./runs)")
    ap.add_argument("--epochs", type=int, default=None, help="the notebooks' EPOCHS (default: the mode's)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="dotted overrides on every paper's config (values parsed as YAML)")
    args = ap.parse_args()
    try:
        _, overrides = parse_arm(["--set", *args.set])
    except ValueError as e:
        ap.error("--set: " + str(e).split(": ", 1)[1])

    rows = []
    for paper in args.papers:
        for seed in args.seeds:
            r = measure(paper, args.fold, seed, args.runs, overrides, args.epochs)
            rows.append(r)
            how = "cached" if r["cached"] else f"trained in {r['seconds']:.0f} s"
            print(f"{paper:<12} seed {seed}: {r['score']:.3f} vs chance {r['chance']:.3f} -> margin "
                  f"{r['margin']:.2f} ({r['criterion']}: {'met' if r['met'] else 'NOT met'}); {r['detail']}; {how}",
                  flush=True)
            if "fig6" in r:
                print(f"{'':<12} Fig. 6: {r['fig6']}", flush=True)
    print(f"\nfold {args.fold}, seeds {args.seeds}")
    print(f"{'paper':<12} {'score':>6} {'chance':>6} {'margin':>7}  met  criterion")
    for paper in args.papers:
        rs = [r for r in rows if r["paper"] == paper]
        mean = {k: float(np.mean([r[k] for r in rs])) for k in ("score", "chance", "margin")}
        met = sum(r["met"] for r in rs)
        print(f"{paper:<12} {mean['score']:>6.3f} {mean['chance']:>6.3f} {mean['margin']:>7.2f}  "
              f"{met}/{len(rs)}  {rs[0]['criterion']}")


if __name__ == "__main__":
    main()
