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
# # 03 · MAFG + CCFG (Li et al. 2025): ablation, K sweep, Grad-CAM, paper vs. code
#
# Li et al. build per-AU node features with a **multi-scale attention feature generator** (MAFG),
# relate them with a **K-nearest-neighbour GNN** and add a **cross-channel feature generator** (CCFG)
# that looks at relations between channels of the whole feature map:
#
# 1. **MAFG (Eq. 1–4).** A 5×5 depth-wise convolution, then axial 1-D convolutions at three scales
#    $M_{y_n}$, $M_{x_n}$ (Eq. 1–2), summed and mixed by a 1×1 convolution into an attention map
#    $\mathrm{Attn}$ (Eq. 3). The modulated map $\mathrm{Attn}\ast X$ goes through one linear block
#    $\varphi_i$ per AU: $V=\mathrm{Cat}(\varphi_i(\mathrm{Attn}\ast X))$ (Eq. 4).
# 2. **GNN (Eq. 5–9).** Similarities $S=\rho(V)^\top\rho(V)$ (Eq. 5), keep the top-$K$ per row
#    (Eq. 6), normalise $A'=D^{-1/2}AD^{-1/2}$ (Eq. 7–8) and update
#    $v_i^{GNN}=\sigma[v_i+g(v_i,\sum_j r(v_j,a_{ij}))]$ (Eq. 9).
# 3. **CCFG (Eq. 10–12).** Channel-topology relations
#    $X_{rel}=\tanh(\alpha_{rel1}(X)\ominus\alpha_{rel2}(X))$ (Eq. 10) refine local features into
#    $E$ (Eq. 11); one block per AU gives $v_i^{CCFG}=\phi_i(E)$ (Eq. 12).
# 4. **Post + similarity head.** $f_i=\mathrm{Post}(\mathrm{Concat}(v_i^{GNN},v_i^{CCFG}))$ (Eq. 13),
#    $p_i=\cos(\mathrm{ReLU}(f_i),\mathrm{ReLU}(s_i))$ (Eq. 14), trained with the weighted asymmetric
#    loss $L_{WA}$ (Eq. 15–17).
#
# The ablation rows of Tables 4/5 are switch combinations of one model,
# `create_model("mafg_ccfg", use_mafg=..., use_gnn=..., use_ccfg=...)`; their overrides travel with
# the published table (`afg.reference.variants("mafg_ccfg/table4")`).
#
# **Modes.** `QUICK=True`: tiny synthetic set, `resnet_tiny` at 64 px, one epoch of two steps, fold 1 —
# a smoke test whose numbers mean nothing. `QUICK=False` (default): 1,200 synthetic DISFA-profile faces
# of 30 identities at 112 px (800 to train per fold), `resnet_tiny` pretrained on synthetic landmarks (`afg.pretrain`, `PRETRAINING`: read from the package's `afg/weights/` where it ships them, else ~8–20 CPU minutes once, then cached),
# 16 epochs at learning rate $10^{-3}$ (one epoch of linear warm-up, then cosine decay) with the paper's random crops (faces rendered at 128 px, random
# 112 px crops, the centre crop for validation) and horizontal flips (`afg.data.augment`), two of the
# three subject-independent folds.
# `DATASET="disfa"` / `"emotionet"` with `DATA_ROOT`: the paper's recipe
# (`configs/mafg_ccfg_<dataset>.yaml`, ResNet-50, ImageNet weights) on a GPU.

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # "synthetic" | "disfa" | "emotionet"
DATA_ROOT = None        # release folder for a real dataset (faces prepared by `afg prepare`)
DEVICE = "auto"
EPOCHS = None           # None: 16 on synthetic data, the recipe's on real data (1 in quick mode)
FOLDS = None            # None: folds 1-2 of 3 on synthetic data, all 3 on real data (1 in quick mode)
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps
SEEDS = [0, 1]          # each row and fold once per seed: 4 pairs on 2 folds (quick mode: the first);
                        # None: one run per row and fold, seed SEED (half the time)
K_VALUES = None         # None: afg.papers.sweeps.SWEEPS (K = 1, 2, 3, 4, 6; quick mode: 1, 3)

# %%
import pandas as pd
import torch

import afg
from afg import reference
from afg.data.stats import dataset_labels
from afg.experiments import styled
from afg.experiments.analysis import fold_noise, noise_note, ordering
from afg.papers.figures import graph_report, localisation_report
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.probes import ccfg_paper_vs_code
from afg.papers.results import dataset_attr, first_images
from afg.papers.sweeps import sweep_values
from afg.viz import gradcam, plot_gradcam_grid, plot_sweep, save_figure

setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
K_VALUES = K_VALUES or sweep_values(setup, "mafg_ccfg", "model.neighbor_num")
TABLE = "mafg_ccfg/table5" if setup.dataset == "emotionet" else "mafg_ccfg/table4"
print(afg.__version__, setup.describe("mafg_ccfg"))
setup.config("mafg_ccfg").model

# %% [markdown]
# ## Tables 4/5 — ablation
#
# Every row is one cached run per fold (`afg.experiments.Ablation` → `afg.experiments.run`):
# re-executing the cell reads `result.json` from the run folder instead of training.

# %%
variants = reference.variants(TABLE)
pd.DataFrame(variants).T.fillna("")

# %%
abl = setup.ablation("mafg_ccfg", variants, seeds=SEEDS)
tidy = abl.run(load_model=True)
styled(abl.table(["f1_mean", "acc_mean", "auc_mean"]), caption=f"{TABLE}: ours, mean ± std over folds (%)")

# %% [markdown]
# Next to the paper's numbers (`afg.reference.compare`; the paper trains ResNet-50 on DISFA —
# on synthetic faces only the *ordering* of the rows can be compared, not the values):

# %%
reference.compare(abl.summary(["f1_mean", "acc_mean"]), TABLE)

# %% [markdown]
# ### Fold-to-fold noise and the ordering of the rows

# %%
print(noise_note(tidy, "f1_mean"))
fold_noise(tidy, "f1_mean")

# %%
order = ordering(abl.summary(["f1_mean"]), TABLE, "F1")
print(f"Kendall tau between our ordering and the paper's: {order.attrs['kendall_tau']:.2f}")
print(order.attrs.get("note", ""))
order

# %% [markdown]
# ## Fig. 6 — the number of neighbours K
#
# The paper picks $K=3$ on DISFA and $K=4$ on EmotioNet. `Sweep` over `model.neighbor_num` on the full
# model on fold 1 (read it against the fold-to-fold noise above; the run with the base config's K is
# shared with the ablation's last row through the cache).

# %%
sweep = setup.sweep("mafg_ccfg", "model.neighbor_num", K_VALUES, folds=[1])
sweep_tidy = sweep.run()
f1 = sweep_tidy[sweep_tidy["metric"] == "f1_mean"].assign(
    K=lambda d: d["variant"].str.split("=").str[1].astype(int), f1=lambda d: 100 * d["value"])
fig = plot_sweep(f1, "K", "f1", title="Fig. 6: mean F1 vs K (ours)")
save_figure(fig, "mafg_ccfg_k_sweep")
sweep.table(["f1_mean"])

# %% [markdown]
# ## Fig. 3 — Grad-CAM of the MAFG attention
#
# `afg.viz.gradcam` explains the score of one AU through the MAFG attention module
# (`model.mafg.attention`, the map `Attn` of Eq. 3). Fig. 3 of the paper shows AU1 (inner brow
# raiser) on the brows and AU12 (lip corner puller) at the mouth corners. A `resnet_tiny` trained for
# a few epochs on synthetic faces gives coarse maps (a 7×7 token grid at 112 px, as ResNet-50 at 224).

# %%
full = abl.first_runs()["Baseline+MAFG+CCFG"]  # fold 1, the first seed
model = full.model.eval()
_, val = setup.data("mafg_ccfg", fold=abl.folds[0])
batch = first_images(val, 4)
targets = [t for t in ("AU01", "AU12") if t in model.label_names]
cams = gradcam(model, batch["image"], model.mafg.attention, targets, names=model.label_names)
fig = plot_gradcam_grid(batch["rgb"], cams, col_titles=["face"] + targets)
save_figure(fig, "mafg_ccfg_gradcam")

# %% [markdown]
# **Are the maps on the AU?** On synthetic faces the generator draws each AU inside a known region,
# carried into every face through its landmarks (`afg.metrics.localisation`). Below, per AU and
# model on 48 held-out faces (those where the AU is active): the pointing-game hit rate (the map's
# maximum inside the region) and the share of the map's energy inside it, each against chance (the
# region's area share), for the plain backbone row (`ResNet50`) and the full model at its last
# backbone stage and at the MAFG attention. A score near chance means the map does not show where
# the AU is. Reasons a map can miss that the table separates: the **target layer** (the last stage is
# a 7×7 grid at 112 px, one cell 16 px wide, about the height of a brow region), the **score** explained
# (the raw per-AU score of a model whose AUs are predicted *jointly*: with the GNN and CCFG, AU $i$'s
# score also rises with the evidence for the AUs it co-occurs with, so its map can sit on those AUs'
# regions) and the **plain backbone** as the reference without any graph.

# %%
if setup.synthetic:
    plain = abl.first_runs()["ResNet50"].model
    loc = localisation_report({"ResNet50 (plain), last stage": (plain, None),
                               "MAFG+CCFG, last stage": (model, None),
                               "MAFG+CCFG, MAFG attention": (model, model.mafg.attention)},
                              val, list(model.label_names), n=48)
    print(loc.attrs["note"])
    display(loc.round(3))
    # the learned graph (mean adjacency of the GNN over the held-out faces) against the true label structure
    with torch.no_grad():
        adj = model(torch.stack([val[i]["image"] for i in range(len(val))]), return_intermediates=True)["adjacency"]
    train_set, _ = setup.data("mafg_ccfg", fold=abl.folds[0])
    graphs = graph_report({"MAFG+CCFG GNN adjacency": adj.float().mean(0)}, dataset_labels(train_set)["au"],
                          profile=dataset_attr(val, "profile"))
    print(graphs.attrs["note"])
    display(graphs.round(3))

# %% [markdown]
# ## The paper's CCFG vs. the authors' code, on real tensors
#
# Eq. 12 gives every AU its own block $\phi_i$. The released code feeds N identical poolings of $E$
# through **one shared** linear block: every AU gets the *same* CCFG vector, and in training that
# block's BatchNorm is updated N times per step (running statistics move with momentum
# $1-0.9^N$, 0.57 for 8 AUs). `official=True` reproduces the code. Below: the same images, the same
# backbone/topology weights, one training-mode forward pass in each mode.

# %%
ccfg_paper_vs_code(batch["image"], num_classes=len(model.label_names), backbone=abl.base.model["backbone"],
                   img_size=abl.base.model["img_size"], seed=SEED)

# %% [markdown]
# The "official" CCFG therefore contributes one image-level vector shared by all AUs — a global
# context feature rather than per-AU features — and every number reported in Tables 2–5 was
# obtained with that variant. Training with `model.official=true` reproduces it (also the way to load
# the authors' checkpoints, `afg.compat.head_from_official("mafg_ccfg", ...)`).

# %% [markdown]
# ## Summary
#
# The closing cell prints the ordering obtained here next to the paper's. With the synthetic default
# the fold-to-fold noise printed above is of the same order as most differences between rows, so only
# differences larger than about twice that noise should be read as an ordering.
#
# What to expect on synthetic data: the paper fine-tunes an ImageNet ResNet-50 for 40 epochs; here
# `resnet_tiny`, pretrained on synthetic landmarks only (it has never seen an AU label), is
# fine-tuned for 16 epochs of 800 faces. The extra heads (MAFG, GNN, CCFG, Post) start from random
# weights and need steps before they help, so synthetic orderings partly measure how quickly each
# variant learns, not only the paper's claim; raise `EPOCHS` to see how the ordering settles.
#
# **Measured on the default** (3 Dec 2026, afg `9f93b07` + one epoch of warm-up:
# `PRETRAINING = "synthetic-long"`, the paper-literal blocks, **16 epochs, the first a linear
# learning-rate warm-up**, folds 1–2 × `SEEDS = [0, 1]`, forward passes in bf16 autocast;
# papermill, the weights cached, 2 of the 32 runs (the full model on fold 2) from the
# `synth_margins.py` measurement that chose the warm-up: **20.1 min** on the 2-core AVX-512 CPU).
# Mean ± std over the 4 runs (%), paired Δ F1 against the "Resnet50" row [95 % CI, 4 pairs sharing
# a fold and seed]:
#
# | row | F1 | AUC | Δ F1 vs ResNet50 | paper Δ | verdict |
# |---|---|---|---|---|---|
# | ResNet50 (linear head) | 45.7 ± 1.6 | 86.6 ± 0.7 | reference | | |
# | ResNet50+EVit | 49.8 ± 3.7 | 88.3 ± 1.1 | +4.0 [−1.0, +9.0] | +2.6 | unresolved |
# | ResNet50+MAFG | 51.1 ± 6.8 | 89.0 ± 1.8 | +5.4 [−5.1, +15.9] | +3.9 | unresolved |
# | Baseline (+GNN) | 47.9 ± 6.3 | 88.1 ± 2.6 | +2.1 [−6.6, +10.9] | +3.8 | unresolved |
# | Baseline+MAFG | 43.4 ± 10.2 | 85.3 ± 3.8 | −2.3 [−19.8, +15.1] | +4.6 | unresolved |
# | Baseline+CCFG | 49.4 ± 7.4 | 87.0 ± 3.3 | +3.6 [−6.7, +13.9] | +5.8 | unresolved |
# | Baseline+MAFG+CCFG | 48.9 ± 7.7 | 87.5 ± 2.2 | +3.1 [−7.0, +13.3] | +7.5 | unresolved |
#
# Verdicts **0 reproduced / 0 contradicted / 6 unresolved**, Kendall's τ 0.05 (secondary);
# run-to-run std 6.8 F1 points (median over rows). **Every run of every row learns** (F1 33.6–59.0
# %, AUC 80–92, last training loss 0.069–0.109 against the constant predictor's 0.152); the full
# model in all four (40.5 / 49.2 / 46.9 / 59.0 %, 2.1–3.2× the every-AU F1), including fold 2,
# seed 0, which stayed at the constant predictor at 12 and 16 epochs without the warm-up. Five of
# the six rows are now above the plain classifier, as in the paper, by 2–5 points, each interval
# including 0 at 4 pairs: the paper's claims are neither reproduced nor contradicted, and the
# table is now evidence (on the earlier recipe the full model's one failed run decided its row).
# Baseline+MAFG is the exception (−2.3, two of its runs at 33.6 and 36.1 %). The K sweep (fold 1,
# seed 0, full model): F1 26.9 / 33.5 / 40.5 / 39.7 / 46.8 for K = 1 / 2 / 3 / 4 / 6, rising with
# K, one run each.
#
# The warm-up was chosen from the full model on fold 2, seeds 0–3 (`benchmarks/synth_margins.py
# --fold 2`, measured before this notebook ran): F1 0.011 / 0.478 / 0.282 / 0.314 without it (1.46×
# the every-AU F1; seed 0 at the constant predictor), 0.469 / 0.590 / 0.513 / 0.407 with it (2.67×,
# every seed at 1.5×), paired +22.4 points [−4.4, +49.1] (4 pairs; every seed higher);
# `recipe.grad_clip=1.0` instead changed nothing (the same four numbers). The paper names no
# warm-up; this is afg's recipe for the short synthetic budget, not the paper's.
#
# Without the warm-up (16 epochs, same day, afg `c1f7489`, 22.2 min): F1 41.3 / 38.1 / 45.6 / 41.2
# / 42.3 / 40.6 / 28.2 % down the rows, 0 / 0 / 6, τ −0.24; the full model 24.2 / 39.8 / 47.8 /
# 1.1 % (fold 2, seed 0 at the constant predictor), −13.0 [−49.6, +23.5] against the plain
# classifier.
#
# At the previous default of 12 epochs (same day, afg `ad8798e`, 18.4 min, 32 runs): F1 33.4 /
# 31.1 / 34.6 / 28.3 / 30.9 / 30.2 / 21.0 % down the rows, 0 / 0 / 6, τ −0.52, the full model
# −12.5 [−41.2, +16.3] (the same run at the constant predictor).
#
# The same notebook in float32 with one seed (afg `6519439`, 20.8 min, 18 runs): F1 34.8 / 36.7 /
# 34.1 / 33.1 / 25.3 / 23.5 / 19.2 % down the rows, 0 / 0 / 6, τ −0.81, the full model −15.6
# [−97.9, +66.7] (2 pairs).
#
# At the previous budget of 6 epochs (same day, afg `8d14789`, 14.4 min) five rows learned (F1
# 17–21 %) and Baseline+MAFG (11.2 ± 12.6) and the full model (4.3 ± 4.7, AUC 58 ± 13) on one fold
# at most: 0 / 0 / 6, τ −0.33, the full model −12.7 [−27.5, +2.1] against the plain classifier.
# 12 epochs (the default until the 16 and the warm-up) was chosen from the full model's margin at 12 epochs
# (`synth_margins.py`, measured before) and this notebook's time, not from the verdicts or the ordering.
#
# *The tables below were measured on the first default pretraining (`PRETRAINING = "synthetic"`).*
#
# **Measured with the paper-literal blocks** (φ_i of Eq. 4 = FC → BN without ReLU, φ_i of Eq. 12 =
# pooling + FC without BatchNorm or ReLU, the "Resnet50" row a plain linear classifier, EVit at 3×3
# and 5×5, the epoch chosen on a carved-out selection split, `recipe.selection: val`). Fold 1 only,
# one seed, all seven rows (on a 2-core machine shared with other jobs) (%):
#
# | row | F1 | AUC | Acc | paper F1 (DISFA) |
# |---|---|---|---|---|
# | ResNet50 (linear head) | 1.2 | 60.9 | 88.8 | 59.1 |
# | ResNet50+EVit | 2.3 | 53.3 | 87.8 | 61.7 |
# | ResNet50+MAFG | 0.6 | 50.2 | 88.7 | 63.0 |
# | Baseline (+GNN) | 2.6 | 53.8 | 88.7 | 62.9 |
# | Baseline+MAFG | 1.9 | 55.2 | 88.1 | 63.7 |
# | Baseline+CCFG | 1.3 | 58.1 | 88.8 | 64.9 |
# | Baseline+MAFG+CCFG | 4.1 | 52.2 | 87.9 | 66.6 |
#
# Every row stays near chance: F1 0.6–4.1 against 19 for predicting every AU present, AUC 50–61.
# The paper-literal blocks do not make the rows learn in this budget; the GNN baseline, whose φ_i
# lost its ReLU too, falls from 69.5 to 53.8 AUC. With one fold and one seed no paired interval
# exists, so all six comparisons with the "Resnet50" row are *unresolved* (τ of the F1 means 0.24,
# secondary). A table that can tell needs rows that learn first: that is issue #26's work on the
# synthetic benchmark, not a change of the paper's blocks.
#
# **With `EPOCHS=20`** (the same blocks, folds 1–2, seed 0; papermill with `EPOCHS: 20`,
# `K_VALUES: [3]`: 47 min on a 2-core AMD EPYC without AVX-512, 2 of the 14 runs read from the
# cache, about 55 min cold) five of the seven rows learn on both folds, EVit on fold 1 only. Mean over folds 1–2 (%), paired Δ F1
# against the "Resnet50" row [95 % CI, 2 pairs]:
#
# | row | F1 | AUC | Δ F1 vs ResNet50 | paper Δ | verdict |
# |---|---|---|---|---|---|
# | ResNet50+MAFG | 27.4 | 77.3 | +5.8 [−53.1, +64.8] | +3.9 | unresolved |
# | Baseline+MAFG | 22.2 | 72.6 | +0.6 [−32.0, +33.1] | +4.6 | unresolved |
# | ResNet50 | 21.6 | 71.8 | reference | | |
# | Baseline+MAFG+CCFG | 21.2 | 70.0 | −0.4 [−36.5, +35.7] | +7.5 | unresolved |
# | Baseline+CCFG | 19.8 | 69.9 | −1.9 [−30.0, +26.3] | +5.8 | unresolved |
# | ResNet50+EVit | 8.2 | 59.4 | −13.4 [−84.8, +58.0] | +2.6 | unresolved |
# | Baseline (+GNN) | 3.3 | 54.8 | −18.3 [−22.2, −14.3] | +3.8 | **contradicted** |
#
# Verdicts **0 reproduced / 1 contradicted / 5 unresolved**, Kendall's τ 0.05; run-to-run std 3.2
# F1 points (median over rows). The contradicted row comes with its measurement: the GNN baseline
# alone does not fit its training faces at 20 epochs either (last-epoch training loss 0.138 / 0.146,
# the constant predictor's is about 0.152; the runs that learn 0.105–0.135), so the GNN on top of the
# paper-literal φ_i does not train on this budget, while every row that adds MAFG or CCFG to it
# does. At the default's 6 epochs every row but the plain classifier sits at the constant
# predictor's loss; held-out F1 takes off at epoch 9–11. Two pairs make wide intervals: the five
# unresolved rows need more folds or seeds (`SEEDS=[0, 1]`, the default since).
#
# **With the earlier blocks** (FC → BN → ReLU in both φ_i, the "Resnet50" row as per-AU blocks + the
# cosine head, the whole training set for training; papermill, **22 min** for the notebook: 18 runs
# of about 73 s). Mean over folds 1–2 (%):
#
# | row | F1 | AUC | paper F1 (DISFA) |
# |---|---|---|---|
# | ResNet50 | 9.1 | 65.0 | 59.1 |
# | ResNet50+EVit | 5.6 | 58.8 | 61.7 |
# | ResNet50+MAFG | 4.4 | 50.6 | 63.0 |
# | Baseline (+GNN) | 10.2 | 69.5 | 62.9 |
# | Baseline+MAFG | 6.2 | 62.9 | 63.7 |
# | Baseline+CCFG | 5.7 | 51.8 | 64.9 |
# | Baseline+MAFG+CCFG | 3.6 | 52.3 | 66.6 |
#
# With those blocks Kendall's τ against the paper's F1 ordering was −0.43: on this budget the added
# modules *hurt*, the opposite of Table 4. Only the GNN helps (AUC 65.0 → 69.5), as in the paper;
# rows with MAFG or CCFG stay near chance AUC. The fold-to-fold std is about 2 points against a
# 6.6-point spread. The K sweep (fold 1, full model) stays between F1 3.0 and 4.6 for K = 1–6,
# inside that noise.
#
# What was tried on fold 1 with the earlier blocks (8 epochs of 800 faces, AUC %). The paper's crops
# and flips, now the default (`configs/synthetic/default.yaml`), lift the plain row
# from F1 9.7 / AUC 70.6 to 16.6 / 71.4 and the full model from 2.0 / 56.5 to 4.6 / 57.5. None of
# these closed the gap:
#
# * 60 identities × 20 faces instead of 30 × 40: full model 3.4 / 48.9.
# * Colour jitter: 3.6 / 56.2.
# * Backbone at 1/10 of the head's learning rate: full 4.5 / 59.1, but the plain row fell to 4.9 / 62.2.
# * One warm-up epoch: 3.8 / 54.4. Gradient clipping at 1: 4.6 / 57.5.
# * The authors' shared CCFG block (`official=True`): 3.8 / 56.2.
# * Stopping the CCFG gradient into the backbone: the CCFG-only row stays at 4.1 / 47.5.
#
# **Why** (earlier blocks). Fold 1, 6 epochs, AUC % on the validation faces and, as "train", the
# same model evaluated on its own training faces. The failing rows do not memorise the training
# faces; they fail to fit them. The full model reaches train 64.8 / val 50.7, the GNN baseline 75.0
# / 68.7, and the failing variants below end with higher training losses (0.149–0.161 against
# 0.144). The block that stalls is one ending in BatchNorm → ReLU on *pooled vectors* that feeds the
# cosine-similarity head (Eq. 14) without a residual path:
#
# * One extra LinearBlock (FC → BN → ReLU) in front of the GNN baseline's head: 57.5 (train 65.3).
#   With per-AU BatchNorm instead: 50.6. The same FC without BatchNorm: 73.2 (train 76.2).
# * Post (Eq. 13) is such a block. With CCFG's output replaced by zeros the CCFG row still stays at
#   52.2 (train 58.9). Removing Post's BatchNorm gives 52.0, because CCFG's φ_i (Eq. 12) are
#   FC → BN → ReLU blocks on pooled vectors too. A residual `v + Post(·)` gives 59.4: better, but
#   still below the baseline.
# * MAFG's `Attn ⊙ X` (Eq. 4) has no residual either (ResNet50+MAFG 50.6). EfficientViT's attention,
#   which is added residually, reaches 58.8.
# * Ten times the backbone's learning rate for the heads lifts the baseline to 72.7 and leaves the
#   full model at 52.1.
#
# ME-GraphAU's node features are BN → ReLU on *tokens* that are averaged afterwards (AFG), and its
# GNN adds its BatchNorm through a residual; that trains on the same data (notebook 02). Neither the
# earlier FC → BN → ReLU blocks nor the paper-literal ones (table above) train on this budget; afg
# keeps the paper's blocks as printed (the authors' under `official=True`) rather than tuning the
# architecture for synthetic faces. With an ImageNet ResNet-50 and ~100k DISFA frames, use the
# paper's recipe.

# %%
print(f"mode: {setup.mode}; folds: {abl.folds}")
print("ours (best first): ", " > ".join(order.index))
print("paper (best first):", " > ".join(order.sort_values("paper", ascending=False).index))
print(noise_note(tidy, "f1_mean"))

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time, runs trained and verdict counts to
# `docs/results/notebook_03.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("03_mafg_ccfg", {TABLE: order}, seeds=SEEDS)
