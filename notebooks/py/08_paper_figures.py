# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python (afg)
#     language: python
#     name: afg
# ---

# %% [markdown]
# # 08 · Paper figures: every figure and LaTeX table of notebooks 03–06, exported to `figures/`
#
# This notebook regenerates the figures and tables of the paper notebooks from the **run cache**:
# `afg.papers.figures.paper_experiments(setup)` builds the same ablations and sweeps as notebooks
# 03–06 for the same parameters (same configs → same run folders under `$AFG_RUNS_DIR`, default
# `runs/`), so after those notebooks ran nothing is trained here. Run it with the parameters you used
# for them (e.g. `QUICK=False`, or `DATASET="disfa"`, `DATA_ROOT=...`).
#
# Figures go through `afg.viz.save_figure` (PDF with embedded fonts + 300-dpi PNG) into
# `$AFG_FIGURES_DIR` (default `figures/`); tables through `afg.experiments.to_latex` (booktabs, best
# value per column in bold) and `to_markdown`.
#
# `QUICK=True` exports a reduced set (first and last row of each ablation, sweeps at the base value
# only) so that it finishes quickly from an empty cache. ME-GraphAU's figures are exported
# by notebook 02.

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"
DATA_ROOT = None
DEVICE = "auto"
EPOCHS = None
FOLDS = None
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps
SEEDS = [0, 1]          # the tables' seeds, as notebooks 02-06 run them (quick mode: the first); None: seed SEED

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd

import afg
from afg.papers import figures as F
from afg.papers.gallery import write_gallery
from afg.papers.notebook_setup import NotebookSetup
from afg.viz import figures_dir, save_figure

setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
out = figures_dir()
print(afg.__version__, setup.describe(), "| figures ->", out.resolve())

# %% [markdown]
# ## Run (or fetch) every experiment
#
# The `cached` column says how many runs came from the cache.

# %%
experiments = F.paper_experiments(setup, subset="ends" if QUICK else None, seeds=SEEDS)
status = []
for key, exp in experiments.items():
    t0 = time.perf_counter()
    tidy = exp.run(load_model=key.endswith("/ablation"))
    status.append({"experiment": key, "runs": len(exp.results), "cached": int(sum(r.cached for *_, r in exp.results)),
                   "seconds": round(time.perf_counter() - t0, 1)})
pd.DataFrame(status)

# %% [markdown]
# ## LaTeX and Markdown tables

# %%
written = F.export_tables(experiments)
print((out / written["file"].iloc[0]).read_text()[:800])
written

# %% [markdown]
# ## Figures

# %%
saved = {}


def export(fig, name):
    saved[name] = [p.name for p in save_figure(fig, name)]
    plt.close(fig)


ablations = {k.split("/")[0]: v for k, v in experiments.items() if k.endswith("/ablation")}
if "mafg_ccfg" in ablations:
    abl = ablations["mafg_ccfg"]
    if "Baseline+MAFG+CCFG" in abl.variants:
        export(F.mafg_gradcam_figure(abl, setup), "mafg_ccfg_gradcam")
if "au_gcn" in ablations:
    export(F.au_gcn_rois_figure(setup), "au_gcn_rois")
    export(F.au_gcn_table1_figure(seed=SEED, n_synthetic=2000 if QUICK else 20000), "au_gcn_table1_disfa")
    export(F.au_gcn_reconstruction_figure(ablations["au_gcn"], setup), "au_gcn_reconstructions")
if "emotion_gcn" in ablations:
    export(F.emotion_adjacency_figure(setup), "emotion_gcn_adjacency")
    export(F.emotion_confusion_figure(ablations["emotion_gcn"]), "emotion_gcn_confusion")
    export(F.emotion_cosine_figure(ablations["emotion_gcn"]), "emotion_gcn_cosine")
if "svml_rgcn" in ablations:
    export(F.svml_relations_figure(setup), "svml_rgcn_relations")
    export(F.svml_gradcam_figure(ablations["svml_rgcn"], setup), "svml_rgcn_gradcam")

# %% [markdown]
# Sweeps (Li et al. Fig. 6; Emotion-GCN Table II; SVML-RGCN Fig. 5–6), one panel per swept parameter:

# %%
sweeps = {k: v for k, v in experiments.items() if "/sweep:" in k}
for paper in dict.fromkeys(k.split("/")[0] for k in sweeps):
    mine = {k: v for k, v in sweeps.items() if k.startswith(paper)}
    fig, axes = plt.subplots(1, len(mine), figsize=(3.3 * len(mine), 2.5), squeeze=False)
    for ax, (k, sw) in zip(axes[0], mine.items()):
        F.sweep_figure(sw, ax=ax, title=k.split(":")[1])
    export(fig, f"{paper}_sweeps")
pd.Series(saved, name="files")

# %% [markdown]
# ## Gallery for the README
#
# `write_gallery(setup, seeds=...)` (`afg.papers.gallery`) draws the five small PNGs the README shows — a
# K-NN node graph, adjacency heatmaps, a Grad-CAM grid, Emotion-GCN's classifier cosine similarity
# and ME-GraphAU Table 3's verdict table — and their caption file `README.md` (which runs, mode,
# folds, seeds, afg and generator versions). Its models are notebook 02's ME-GraphAU Table 3 (the
# setup's folds × `SEEDS`; the pictures come from seed `SEED`) and notebook 05's `emotion_gcn` row of Table I, fetched from the run cache (after
# those notebooks nothing is trained; from an empty cache the default mode trains Table 3's 28 runs,
# as notebook 02 does, in about its time: docs/results.md, "Notebooks"). The pictures are fold 1's.
#
# * `QUICK=False` on synthetic faces writes the committed **`docs/gallery/`** (what the README
#   links to); rerun this notebook after a change that alters the figures and commit the files.
# * `QUICK=True` writes `<figures dir>/gallery/` (here `$AFG_FIGURES_DIR/gallery`) and never
#   `docs/gallery/`: a smoke run's models have learned nothing.
# * Real datasets: skipped (the gallery is the synthetic default's).

# %%
gallery = write_gallery(setup, seeds=setup.run_seeds(SEEDS)) if setup.synthetic else {}
if gallery:
    print("gallery ->", gallery["README.md"].parent.resolve())
pd.Series({name: f"{path.stat().st_size / 1000:.0f} kB" for name, path in gallery.items()}, name="size",
          dtype=object)

# %% [markdown]
# ## Everything in the figures folder

# %%
files = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
print(len(files), "files")
files

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time and runs trained to
# `docs/results/notebook_08.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("08_paper_figures", seeds=SEEDS)
