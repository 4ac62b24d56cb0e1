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
# # 00 · Quickstart: install check, synthetic faces, a small ME-GraphAU, a prediction, a K-NN graph
#
# This notebook is a quick tour of **afg**:
#
# 1. check the installation (versions, the device `DEVICE="auto"` resolves to);
# 2. look at the embedded **synthetic faces** — procedural 68-landmark faces whose AU labels follow
#    the real DISFA statistics, so everything runs without a licensed dataset;
# 3. train a small **ME-GraphAU** (Luo et al., IJCAI 2022) through the cached experiment runner
#    `afg.experiments.run` — re-executing the cell reads the finished run instead of training;
# 4. run `afg.Predictor` on a real photograph (MTCNN detection → alignment → model);
# 5. draw the **K-NN node graph** of Fig. 4 of the paper from the model's node features.
#
# ME-GraphAU in one paragraph: a backbone turns the face into tokens $X\in\mathbb{R}^{D\times C}$;
# the AU-specific feature generator (AFG) maps them to one feature map $U_i$ per AU and pools it
# to a node feature $v_i$; the facial graph generator (FGG) links each node to its $K$ most similar
# nodes ($\mathrm{Sim}(i,j)=v_i^\top v_j$) and updates the nodes with one GCN layer (Eq. 1); the AU
# probability is the cosine similarity between $\mathrm{ReLU}(v_i)$ and a learned vector
# $\mathrm{ReLU}(s_i)$ (Eq. 2). Stage 2 replaces the FGG by multi-dimensional edge features (MEFL,
# Eq. 3–5) and a gated GCN, trained with $\mathcal{L}=\mathcal{L}_{WA}+\lambda\mathcal{L}_E$ (Eq. 6–8).
# Notebook `02_me_graphau` takes these apart step by step.
#
# **Modes.** `QUICK=True`: a tiny synthetic set at 64 px, one epoch of two steps per stage — a smoke
# test whose numbers mean nothing. `QUICK=False` (default): 1,200 synthetic DISFA-profile faces of 30
# identities at 112 px (800 to train), `resnet_tiny` pretrained on synthetic landmarks (`afg.pretrain`, 4x the steps of the first default:
# read from the package's `afg/weights/` where it ships them, else pretrained once on this CPU, then cached), 8 epochs per stage at learning rate $10^{-3}$, fold 1.
# `DATASET="disfa"`/`"bp4d"` with `DATA_ROOT` (faces prepared by `afg prepare`): the paper's recipe
# (`configs/me_graphau_<dataset>_resnet50.yaml`, 224 px, ImageNet weights) on a GPU.

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # "synthetic" | "disfa" | "bp4d"
DATA_ROOT = None        # release folder for a real dataset (faces prepared by `afg prepare`)
DEVICE = "auto"
EPOCHS = None           # None: 8 per stage on synthetic data, the recipe's on real data (1 in quick mode)
FOLDS = None            # the quickstart trains fold 1 only
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps

# %%
import warnings

import pandas as pd
import skimage.data
import torch

from afg.data.synth import SynthFaces, au_gallery
from afg.experiments import build_data, run
from afg.papers.environment import environment_report
from afg.papers.me_graphau_table3 import me_graphau_config
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.results import first_images
from afg.viz import plot_au_f1, plot_knn_graph, save_figure

warnings.filterwarnings("ignore", message=".*initialised from previous stage.*")
setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
print(setup.describe())

# %% [markdown]
# ## 1 · Install check
#
# `afg` needs PyTorch, timm and the scientific stack; `facenet-pytorch` (MTCNN) is only needed for
# face detection on raw photographs. `device` is what `DEVICE="auto"` resolves to: CUDA, then Apple
# MPS, then CPU.

# %%
environment_report(DEVICE)

# %% [markdown]
# ## 2 · Synthetic faces
#
# `SynthFaces` renders faces on the fly from a seed: identity (shape, skin, hair), 18 AUs moving
# the 68 landmarks and shading their regions, pose/lighting nuisances and optional occluders.
# The labels of profile `disfa` are drawn from a pairwise maximum-entropy model fitted to the real
# DISFA occurrence rates and co-occurrences (see `01_data_preparation`). The gallery shows six
# identities and every AU of one identity at intensity 5.

# %%
fig = au_gallery(size=64 if QUICK else 112)
_ = save_figure(fig, "00_synth_au_gallery")

# %%
faces = SynthFaces(profile="disfa", n_subjects=4, images_per_subject=4, size=64 if QUICK else 112, seed=SEED)
print(faces, "·", len(faces), "images ·", faces.au_names)
pd.DataFrame(faces.labels()["au"][:8].astype(int), columns=faces.au_names,
             index=faces.sample_subjects[:8]).rename_axis("subject")

# %% [markdown]
# ## 3 · Train a small ME-GraphAU through the cached runner
#
# `configs/me_graphau_synthetic.yaml` is the CPU version of the paper's recipe: afg's narrow
# `resnet_tiny` (7×7 tokens at 112 px, as ResNet-50 at 224 px) instead of ResNet-50, AdamW $(0.9, 0.999)$, weight decay $5\cdot10^{-4}$, per-iteration cosine decay, stage 1
# (ANFL, $\mathcal{L}_{WA}$) then stage 2 (MEFL + GatedGCN, $\mathcal{L}_{WA}+0.05\,\mathcal{L}_E$)
# initialised from stage 1. `run(config)` hashes the resolved config: a finished run with the same
# hash is read back from `$AFG_RUNS_DIR` (default `./runs`) instead of retrained.

# %%
cfg = me_graphau_config(setup)
result = run(cfg, load_model=True)
print(f"run folder: {result.run_dir.name} · cached: {result.cached} · {result.seconds:.0f} s")
au_names = [k.split("/")[1] for k in result.metrics if k.startswith("f1/")]
pd.DataFrame({"F1 (%)": [100 * result.metrics[f"f1/{a}"] for a in au_names],
              "AUC (%)": [100 * result.metrics[f"auc/{a}"] for a in au_names]},
             index=au_names).T.assign(mean=lambda d: d.mean(axis=1)).round(1)

# %%
fig = plot_au_f1({"ME-GraphAU (ours, synthetic)": [result.metrics[f"f1/{a}"] for a in au_names]},
                 au_names, title="Per-AU F1 on the held-out identities")
_ = save_figure(fig, "00_me_graphau_f1")

# %% [markdown]
# ## 4 · Predictions on a photograph
#
# `afg.Predictor(checkpoint)` rebuilds the model from a checkpoint (a `.pt` file or a run folder),
# detects every face with MTCNN, aligns it with the same 5-point similarity transform as
# `afg prepare`, and returns one row per face with py-feat-style columns (`FaceRectX`, …, `AU01`, …).
# A model trained on a few hundred cartoon faces says little about a real face — with a checkpoint
# trained on DISFA or BP4D (e.g. the authors' released weights) the same call gives real AU
# estimates.

# %%
photo = skimage.data.astronaut()
try:
    from afg import Predictor
except ImportError:  # afg.predict is optional in minimal installs
    Predictor = None
if Predictor is not None:
    predictions = Predictor(result.run_dir, device=DEVICE).predict([photo])
    cols = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore", *au_names, "status"]
    display_table = predictions[[c for c in cols if c in predictions.columns]].round(3)
else:
    display_table = pd.DataFrame({"status": ["afg.predict is not installed"]})
display_table

# %% [markdown]
# ## 5 · A K-NN node graph (Fig. 4)
#
# With `return_intermediates=True` every afg model returns the tensors worth plotting; ME-GraphAU
# returns the node features `nodes` $(B, N, C)$. `plot_knn_graph` links each AU node to its $K$
# most similar nodes with the model's own similarity (`dots`: $v_i^\top v_j$) — the graph the FGG
# convolves over. Node colour and size follow the predicted probability; AUs predicted active
# (≥ 0.5) get an orange rim. The paper observes that active AUs tend to collect more edges.

# %%
_, val = build_data(cfg.data)
batch = first_images(val, 4)
model = result.model.cpu().eval()
with torch.no_grad():
    out = model(batch["image"], return_intermediates=True)
k = cfg.model.get("neighbor_num", 3)
fig = plot_knn_graph(out["nodes"], k, activations=out["au"], names=au_names, images=batch["rgb"],
                     titles=[f"{s} · true: {', '.join(a for a, y in zip(au_names, lab) if y > 0.5) or 'none'}"
                             for s, lab in zip(batch["subject"], batch["au"].numpy())])
_ = save_figure(fig, "00_knn_graph")
print("node features:", tuple(out["nodes"].shape), "· edges per node:", k)

# %% [markdown]
# ## Where next
#
# * `01_data_preparation` — label statistics, MTCNN alignment, preparing an official release, folds.
# * `02_me_graphau` — ANFL/MEFL step by step, two-stage training, the Table 3 ablation.
# * `03`–`06` — the other four papers; `07` — every figure type; `08` — all paper figures and tables.

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time and runs trained to
# `docs/results/notebook_00.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("00_quickstart")
