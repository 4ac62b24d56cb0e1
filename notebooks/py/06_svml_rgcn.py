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
# # 06 · SVML-RGCN (Zhang et al.): positive *and* negative label relations for multi-label expressions
#
# Faces often show blends ("happily surprised"); SVML-RGCN predicts the set of basic emotions with
# classifiers learned by a **relational GCN** over two kinds of label relations:
#
# * $P_{ij}=P(L_j=1\mid L_i=1)$ on the training labels (Eq. 3); a **negative** edge where
#   $P_{ij}<t_1$, a **positive** edge where $P_{ij}>t_2$, nothing in between (Eq. 4, Fig. 1);
# * node features fuse **semantic** word vectors $e_c$ and **visual** class-mean features $f_c$
#   (Eq. 5) with multi-modal factorised bilinear pooling (MFB, Eq. 6);
# * $L$ R-GCN layers $h_i^{l+1}=\sigma(W_0h_i^l+\sum_{r}\sum_{j\in N_i^r}\frac{1}{|N_i^r|}W_rh_j^l)$
#   (Eq. 7) give the classifiers $W_C$; scores $\hat y=W_C f$ (Eq. 1), multi-label soft-margin loss.
#
# Table 2 compares the CNN baseline, SVML-GCN (ML-GCN's re-weighted positive graph, Eq. 13–14) and
# SVML-RGCN; Table 3 semantic-only (`sml_rgcn`) and visual-only (`vml_rgcn`) node features. Both report
# nine metrics (`afg.metrics.multilabel_report`: Hamming loss, coverage, one-error, ranking loss —
# lower is better — and average precision, micro/macro F1, micro/macro AUC). Fig. 5 sweeps $t_1$ and
# $t_2$, Fig. 6 the number of R-GCN layers, Fig. 7 shows Grad-CAM maps.
#
# **Modes.** `QUICK=True`: smoke test (tiny set, 64 px, 2 steps, fold 1). `QUICK=False`: 1,200
# synthetic faces with blended expressions (30 identities, BP4D profile) at 112 px; as in RAF-ML
# every face shows at least one emotion, each emotion is the strongest one of a sixth of the faces
# and about half are blends (`data.options.balance=emotions`; the relations cell prints how many). `resnet_tiny` pretrained on synthetic
# landmarks (`afg.pretrain`), trained at the full lr for 6 epochs, decayed 10x after epoch 4
# (`configs/synthetic/default.yaml`: the paper's 0.1x backbone lr decayed every epoch stays at chance), folds
# 1–2 for Tables 2–3, fold 1 for the sweeps. `DATASET="rafml"`/`"rafcompound"`/`"jaffe"`
# with `DATA_ROOT`: the paper's recipe `configs/svml_rgcn_<dataset>.yaml`.

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # "synthetic" | "rafml" | "rafcompound" | "jaffe"
DATA_ROOT = None
DEVICE = "auto"
EPOCHS = None           # None: 6 on synthetic data (1 in quick mode); the recipe's on real data
FOLDS = None            # None: folds 1-2 of 3 on synthetic data, all 3 on real data (1 in quick mode)
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps
SEEDS = [0, 1]          # each row and fold once per seed: 4 pairs on 2 folds (quick mode: the first);
                        # None: one run per row and fold, seed SEED (half the time)
# Fig. 5 top (t2 = 0.4), Fig. 5 bottom (t1 = 0.15), Fig. 6
# None: afg.papers.sweeps.SWEEPS (the paper's grids on a release, fewer values on synthetic faces,
# two each in quick mode)
T1_VALUES = None
T2_VALUES = None
LAYERS = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import afg
from afg import reference
from afg.data.stats import training_statistics
from afg.experiments import styled
from afg.experiments.analysis import fold_noise, noise_note, ordering
from afg.graphs.relations import cooccurrence_probabilities, label_relations
from afg.papers.figures import generator_labels, graph_report, localisation_report
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.results import dataset_attr, first_images
from afg.papers.sweeps import sweep_values
from afg.viz import gradcam, plot_adjacency, plot_gradcam_grid, plot_sweep, save_figure

setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
T1_VALUES = T1_VALUES or sweep_values(setup, "svml_rgcn", "model.t1")
T2_VALUES = T2_VALUES or sweep_values(setup, "svml_rgcn", "model.t2")
LAYERS = LAYERS or sweep_values(setup, "svml_rgcn", "model.num_layers")
TAB = {"rafcompound": "rafcompound", "jaffe": "jaffe"}.get(setup.dataset, "rafml")
print(afg.__version__, setup.describe("svml_rgcn"), "| paper tables:", TAB)

# %% [markdown]
# ## Fig. 1 — positive and negative relations
#
# From the training labels of fold 1 with the paper's thresholds $t_1=0.15$, $t_2=0.4$; the signed
# matrix shows positive − negative edges (red: positive, blue: negative).

# %%
train, val = setup.data("svml_rgcn")
y = training_statistics(train)["emotion_labels"]
names = list(dataset_attr(train, "emotion_names"))
base = setup.config("svml_rgcn")
rel = label_relations(y, base.model["t1"], base.model["t2"])
print(f"{len(y)} training faces, {int((y.sum(1) > 1).sum())} with more than one emotion")
fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.2))
plot_adjacency(cooccurrence_probabilities(y), names, title="$P_{ij}$ (Eq. 3)", ax=axes[0])
plot_adjacency(rel["positive"] - rel["negative"], names, signed=True,
               title=f"relations, t1={base.model['t1']}, t2={base.model['t2']}", ax=axes[1])
save_figure(fig, "svml_rgcn_relations")

# %% [markdown]
# ## Tables 2 and 3 — the nine metrics

# %%
variants = {**reference.variants(f"svml_rgcn/table2_{TAB}"), **reference.variants(f"svml_rgcn/table3_{TAB}")}
NINE = ["hamming_loss", "coverage", "one_error", "ranking_loss", "average_precision", "micro_f1",
        "macro_f1", "micro_auc", "macro_auc"]
abl = setup.ablation("svml_rgcn", variants, seeds=SEEDS)
tidy = abl.run(load_model=True)
styled(abl.table(NINE, percent=False, digits=3, reference=next(iter(variants)),
                 delta_metrics=["average_precision"]), caption="Tables 2/3 (ours): mean ± std over folds")

# %%
display(reference.compare(abl.summary(NINE), f"svml_rgcn/table2_{TAB}", digits=3))
reference.compare(abl.summary(NINE), f"svml_rgcn/table3_{TAB}", digits=3)

# %%
print(noise_note(tidy, "average_precision", scale=1.0, unit=""))
display(fold_noise(tidy, "average_precision", scale=1.0))
orders = {t: ordering(abl.summary(["average_precision"]), f"svml_rgcn/{t}_{TAB}", "AP", scale=1.0)
          for t in ("table2", "table3")}
for t, o in orders.items():
    print(t, f"Kendall tau (AP): {o.attrs['kendall_tau']:.2f}", o.attrs.get("note", ""))
pd.concat(orders)

# %% [markdown]
# ## Fig. 5 — relation thresholds, Fig. 6 — R-GCN depth
#
# Sweeps of the full model on fold 1 (read them against the fold-to-fold noise above); the run with
# the base thresholds and depth is shared with the table through the cache.

# %%
sweeps = {
    "t1": setup.sweep("svml_rgcn", "model.t1", T1_VALUES, folds=[1]),
    "t2": setup.sweep("svml_rgcn", "model.t2", T2_VALUES, folds=[1]),
    "num_layers": setup.sweep("svml_rgcn", "model.num_layers", LAYERS, folds=[1]),
}
fig, axes = plt.subplots(1, 3, figsize=(9.6, 2.6))
for ax, (param, sw) in zip(axes, sweeps.items()):
    t = sw.run()
    t = t[t["metric"] == "average_precision"].assign(
        **{param: lambda d: d["variant"].str.split("=").str[1].astype(float), "AP": lambda d: d["value"]})
    plot_sweep(t, param, "AP", ax=ax)
save_figure(fig, "svml_rgcn_sweeps")
pd.concat({k: sw.table(["average_precision", "micro_f1"], percent=False, digits=3) for k, sw in sweeps.items()})

# %% [markdown]
# ## Fig. 7 — Grad-CAM, baseline vs. SVML-RGCN
#
# Maps of the last backbone stage (`model.backbone.target_layer`) for three emotions on validation
# faces of fold 1.

# %%
runs = abl.first_runs()  # fold 1, the first seed
batch = first_images(val, 3)
show = names[:3]
cams = [gradcam(runs[m].model.eval(), batch["image"], runs[m].model.backbone.target_layer, show, names=names)
        for m in ("baseline", "svml_rgcn")]
fig = plot_gradcam_grid(batch["rgb"], np.concatenate(cams, axis=1),
                        col_titles=["face"] + [f"baseline: {n}" for n in show] + [f"SVML-RGCN: {n}" for n in show])
save_figure(fig, "svml_rgcn_gradcam")

# %% [markdown]
# **Scored against the truth.** The generator draws an emotion through its EMFACS prototype AUs, so
# an emotion's region is the union of those AUs' regions, carried into each face through its
# landmarks (`afg.metrics.localisation`). Per emotion and model on 48 held-out faces (those showing
# the emotion): pointing-game hit rate and energy share inside the region against chance (the
# region's area share). Then the relations the model uses (positive − negative, Eq. 3–4 on the
# training labels) against $P(j\mid i)$ of the training labels and of a large fresh sample of the
# generator, with the node-relabelling baseline (`afg.papers.figures.graph_report`).

# %%
if setup.synthetic:
    loc = localisation_report({m: (runs[m].model, None) for m in ("baseline", "svml_rgcn")}, val, names, n=48)
    print(loc.attrs["note"])
    display(loc.round(3))
    relations = runs["svml_rgcn"].model.relations
    graphs = graph_report({"SVML-RGCN relations (pos − neg)": relations[0] - relations[1]}, y,
                          truth_labels=generator_labels(train, "emotions"))
    print(graphs.attrs["note"])
    display(graphs.round(3))

# %% [markdown]
# ## Summary
#
# **Where the numbers are.** This summary quotes no measured number: they change with the machine,
# the commit and the seeds. What a run measured is printed above — Tables 2 and 3 with the nine
# metrics, each row's paired Δ AP against its table's reference row (Table 2: the CNN baseline;
# Table 3: SML-RGCN) [95 % CI over the (fold, seed) pairs] and its verdict against the paper's Δ,
# Kendall's τ, the run-to-run noise, the threshold and layer sweeps, the localisation and relation
# scores — and the last cell (`setup.finish`) prints the wall time, the runs trained and the verdict
# counts; in default mode it records them in `docs/results/notebook_06.json`, which the
# documentation's per-paper table and notebook times render (docs/results.md; how to weigh a
# verdict: docs/evidence.md). The dated measurements this summary used to quote (3 Dec 2026, each
# with its commit and machine) are in the repository's history:
# `git show ebe7a0d:notebooks/py/06_svml_rgcn.py`.
#
# **What the recorded runs of the synthetic default showed** (folds 1 and 2 with `SEEDS = [0, 1]`
# of 800 training / 400 held-out faces of 30 identities, every face emotional,
# `PRETRAINING = "synthetic-long"`, 6 epochs). Every row learns: its AP is well above the
# label-frequency ranking's. The paper's differences are tiny (0.0005–0.002 AP) and the intervals
# here far wider, so the tables cannot resolve them: every verdict of both tables is *unresolved*
# (two rows of each without a claim). What the tables do show: the relation rows do not rank labels
# better than the plain CNN on these faces (every Δ AP against it small, on either side of 0), the
# relation rows' macro-F1 is higher than the CNN's, and VML-RGCN (visual nodes only) is the weakest
# and least stable row (the lowest in each fold-seed pair). The sweeps (fold 1, seed 0, one run
# each) stay inside the run-to-run noise.
#
# Earlier measurements (same history): with one seed in float32 the verdicts were the same. On the
# first default pretraining every row was barely above the frequency ranking and Table 3 had one
# contradiction (VML-RGCN below SML-RGCN), which was not repeated once the rows learned. Before the
# balanced labels and the learning schedule (3 epochs, the backbone at a tenth of the learning rate
# decayed every epoch, a third of the faces without an emotion) every row sat at chance, all rows
# level.

# %%
print(f"mode: {setup.mode}; folds: {abl.folds}")
for t, o in orders.items():
    print(f"{t} AP ours (best first): ", " > ".join(o.index))
    print(f"{t} AP paper (best first):", " > ".join(o.dropna().sort_values("paper", ascending=False).index))
print(noise_note(tidy, "average_precision", scale=1.0, unit=""))

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time, runs trained and verdict counts to
# `docs/results/notebook_06.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("06_svml_rgcn", {f"svml_rgcn/{t}_{TAB}": o for t, o in orders.items()}, seeds=SEEDS)
