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
# # 04 · AU-GCN (Liu et al. 2020): ROIs, auto-encoders, the AU relation graph, Table 4
#
# AU-GCN has no CNN backbone. It
#
# 1. cuts **regions of interest** around facial landmarks (Sec. 3.2): one square per AU location
#    (14 ROIs for DISFA's 8 AUs, 19 for BP4D's 12, the last one the whole face);
# 2. encodes every ROI with its own small **auto-encoder** (Sec. 3.3): latent $Z_0$ with $d_0=150$,
#    reconstruction loss plus an ROI-level classification loss (Eq. 1–3), pre-trained first;
# 3. builds the **AU relation graph** from the training labels: $M_{ij}=P(AU_j=1\mid AU_i=1)$,
#    $M_{sym}=M+M^\top$, $M_{bool}=[M_{sym}\ge h]$ with self loops (Eq. 4–5, Table 1), and lifts it to
#    a graph $G$ over the ROIs (ROIs of related AUs, symmetric ROI pairs and the face are linked);
# 4. propagates with two graph convolutions $Z_{i+1}=GZ_iW_i$ (Eq. 6), $150\to30\to12$, and a fully
#    connected layer gives the AU probabilities, trained with a weighted multi-label cross-entropy
#    (Eq. 7) plus a weighted Dice loss $D$ (Eq. 8–9).
#
# Table 4 ablates the GCN, the Dice loss ("D") and the whole-face ROI ("F"): `model.variant` is one of
# `au_net`, `au_net_d`, `wo_fd`, `wo_f`, `wo_d`, `full`.
#
# **Modes.** `QUICK=True`: tiny synthetic set at 64 px, one step per stage, fold 1 (smoke test).
# `QUICK=False`: 1,200 synthetic DISFA-profile faces (30 identities) with their true landmarks at
# 112 px, the training faces sampled per identity as in §4.1 (`data.frame_sampling`), auto-encoders
# pre-trained (4 epochs), then the whole model (8 epochs), Adam $10^{-3}$ instead of the paper's SGD
# (which leaves this budget at chance; `configs/synthetic/default.yaml`), two subject-independent
# folds of three. `DATASET="bp4d"`/`"disfa"`
# with `DATA_ROOT`: the paper's recipe `configs/au_gcn_<dataset>.yaml`.

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # "synthetic" | "bp4d" | "disfa"
DATA_ROOT = None
DEVICE = "auto"
EPOCHS = None           # None: 8 (auto-encoder stage 4) on synthetic data; the recipe's on real data
FOLDS = None            # None: folds 1-2 of 3 on synthetic data, all 3 on real data (1 in quick mode)
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps
SEEDS = [0, 1]          # each row and fold once per seed: 4 pairs on 2 folds (quick mode: the first);
                        # None: one run per row and fold, seed SEED (half the time)
THRESHOLD = 0.8         # h of Eq. 5

# %%
import numpy as np
import pandas as pd
import torch

import afg
from afg import reference
from afg.data.rois import roi_set
from afg.data.synth import sample_au_labels
from afg.experiments import styled
from afg.experiments.analysis import fold_noise, noise_note, ordering
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.probes import DISFA_REFERENCE_AUS, au_relation_graphs, disfa_training_labels
from afg.papers.results import dataset_attr, first_images, load_stage_model
from afg.reference.au_gcn_graphs import TABLE1_DISFA
from afg.viz import plot_adjacency, plot_rois, save_figure
from afg.viz.rois import plot_roi_reconstructions

setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
print(afg.__version__, setup.describe("au_gcn"))

# %% [markdown]
# ## ROIs on a face
#
# `afg.data.rois` places the ROIs from the 68 landmarks (`roi_frac` = side of a square as a fraction
# of the face width); `afg.viz.plot_rois` draws them with the AUs each ROI serves.

# %%
train, val = setup.data("au_gcn")
face = first_images(train, 1)
rois = roi_set(dataset_attr(train, "au_names"))
fig = plot_rois(face["image"][0], face["landmarks"][0], rois=rois, title=f"{len(rois)} ROIs")
save_figure(fig, "au_gcn_rois")
pd.DataFrame({"ROI": rois.names, "AUs": [", ".join(r.aus) or "all (whole face)" for r in rois.rois]})

# %% [markdown]
# ## Table 1 — the AU relation graph
#
# DISFA's Table 1(b) follows from the real DISFA training labels of every fold (for $h$ in about
# $[0.71, 0.92]$). When the reference label lists are available (`AFG_REFERENCE_DIR` or
# `../shared/reference`) the graph is recomputed from them; otherwise from labels drawn from the
# synthetic generator's DISFA profile (fitted to DISFA's statistics).

# %%
real = disfa_training_labels()
if real is not None:
    source = "real DISFA training labels"
    labels = real
else:
    source = "synthetic DISFA-profile labels"
    labels = {"synthetic": sample_au_labels("disfa", 2000 if QUICK else 20000, seed=SEED)}
graphs, summary = au_relation_graphs(labels, THRESHOLD, published=TABLE1_DISFA)
print(source)
summary

# %%
import matplotlib.pyplot as plt

first = next(iter(graphs.values()))
fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.2))
plot_adjacency(TABLE1_DISFA, DISFA_REFERENCE_AUS, title="Table 1(b), published", ax=axes[0])
plot_adjacency(first, DISFA_REFERENCE_AUS, title=f"ours ({source}, h={THRESHOLD})", ax=axes[1])
save_figure(fig, "au_gcn_table1_disfa")

# %% [markdown]
# ## Auto-encoder pre-training and Table 4
#
# Each Table 4 row is a two-stage recipe (`recipe.stages`): the auto-encoders and ROI classifiers
# first (`stage: autoencoder`, loss Eq. 3), then the whole model initialised from them (Eq. 9).
# Runs are cached: re-executing the cell trains nothing.

# %%
variants = reference.variants("au_gcn/table4")
abl = setup.ablation("au_gcn", variants, seeds=SEEDS)
tidy = abl.run(load_model=True)
styled(abl.table(["f1_mean", "auc_mean"], reference=next(iter(variants))), caption="Table 4 (ours): mean ± std over folds (%)")

# %% [markdown]
# ### Reconstructions after the auto-encoder stage
#
# The full model's run keeps each stage's checkpoint; the model after stage 1 reconstructs the ROI
# crops of a validation face (top: ROI, bottom: auto-encoder output).

# %%
full = abl.first_runs()["full"]  # fold 1, the first seed
ae_model = load_stage_model(full, "autoencoder")
vb = first_images(val, 1)
with torch.no_grad():
    out = ae_model(vb["image"], landmarks=vb["landmarks"], return_intermediates=True)
fig = plot_roi_reconstructions(out["roi_target"][0], out["roi_recon"][0], ae_model.rois.names)
save_figure(fig, "au_gcn_reconstructions")
err = ((out["roi_recon"] - out["roi_target"]) ** 2).mean().item()
print(f"reconstruction MSE (normalised pixels): {err:.3f}")

# %% [markdown]
# ### Table 4 next to the paper (BP4D) and the fold-to-fold noise

# %%
reference.compare(abl.summary(["f1_mean", "auc_mean"]), "au_gcn/table4")

# %%
print(noise_note(tidy, "f1_mean"))
print(noise_note(tidy, "auc_mean"))
fold_noise(tidy, "f1_mean")

# %%
order_f1 = ordering(abl.summary(["f1_mean"]), "au_gcn/table4", "F1-score")
order_auc = ordering(abl.summary(["auc_mean"]), "au_gcn/table4", "AUC")
print(f"Kendall tau (F1): {order_f1.attrs['kendall_tau']:.2f}   (AUC): {order_auc.attrs['kendall_tau']:.2f}")
print("F1:", order_f1.attrs.get("note", ""))
print("AUC:", order_auc.attrs.get("note", ""))
order_f1

# %% [markdown]
# ## Summary
#
# **Where the numbers are.** This summary quotes no measured number: they change with the machine,
# the commit and the seeds. What a run measured is printed above — Table 4 with each row's paired
# Δ F1 against `au_net` [95 % CI over the (fold, seed) pairs] and its verdict against the paper's Δ,
# Kendall's τ for F1 and AUC, the run-to-run noise, the auto-encoders' reconstruction error — and
# the last cell (`setup.finish`) prints the wall time, the runs trained and the verdict counts; in
# default mode it records them in `docs/results/notebook_04.json`, which the documentation's
# per-paper table and notebook times render (docs/results.md; how to weigh a verdict:
# docs/evidence.md). The dated measurements this summary used to quote (3 Dec 2026, each with its
# commit and machine) are in the repository's history: `git show ebe7a0d:notebooks/py/04_au_gcn.py`.
#
# **What the recorded runs of the synthetic default showed** (folds 1 and 2 with `SEEDS = [0, 1]`
# of 1,200 faces of 30 identities, the §4.1 sample, 4 + 8 epochs, Adam). Every row learns, well
# above the F1 of predicting every AU present (the earlier default, 192 faces at the paper's SGD
# rate, predicted no AU at all). The paper's central claim, that the GCN over the ROI graph beats
# AU-Net's concatenated features, is **contradicted** on these faces for three rows (`wo_f`,
# `wo_fd`, `wo_d`) and points the same way for the fourth (`full`, unresolved: its fold-1 seed-1
# run lags); `au_net_d` is level with `au_net` (unresolved). Kendall's τ against Table 4 is
# negative for F1 and for AUC. Neither of issue #26's stability targets (a row's seed std on one
# fold, a paired Δ's std) was met for every row; that target is withdrawn (docs/evidence.md).
#
# The measurement that explains it: the GCN rows fit their training faces less well. Their final
# training cross-entropy (Eq. 7) is higher than the AU-Net rows', and more of their runs select
# their last or second-to-last epoch; the GCN squeezes each ROI's 150 latent values through 30 and
# then 12 (Eq. 6) before the classifier, where AU-Net's classifier reads all 150. The same notebook
# in float32 with one seed contradicted `wo_fd` and `wo_d` again (`wo_f` unresolved), with a
# negative τ. More epochs do not close the gap: with `EPOCHS=20` (auto-encoders 10), folds 1–2,
# seed 0, `wo_fd` stays below `au_net` on both folds and stops improving about halfway, at a training
# cross-entropy well above the one `au_net` reaches: the GCN rows fit their training faces less
# well, not only later (`benchmarks/synth_margins.py --papers au_gcn --fold F --epochs 20
# --set model.variant=V`, one run each). This is a verdict on synthetic faces with a CPU budget (the
# paper trains 40 epochs on ~130k faces), not on the paper's data. The auto-encoders reconstruct
# their ROIs (the error printed above; an earlier version did not reconstruct them at all).

# %%
print(f"mode: {setup.mode}; folds: {abl.folds}; graph source: {source}")
print("F1 ours (best first): ", " > ".join(order_f1.index))
print("F1 paper (best first):", " > ".join(order_f1.sort_values("paper", ascending=False).index))
print(noise_note(tidy, "f1_mean"))

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time, runs trained and verdict counts to
# `docs/results/notebook_04.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("04_au_gcn", {"au_gcn/table4": order_f1}, seeds=SEEDS)
