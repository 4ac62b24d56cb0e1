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
# of 30 identities at 112 px (800 to train per fold), `resnet_tiny` pretrained on synthetic landmarks (`afg.pretrain`, `PRETRAINING`: read from the package's `afg/weights/` where it ships them, else pretrained once on this CPU, then cached),
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
# re-executing the cell reads `evaluation.json` from the run folder instead of training.

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
# **Where the numbers are.** This summary quotes no measured number: they change with the machine,
# the commit and the seeds. What a run measured is printed above — Tables 4/5 with each row's paired
# Δ F1 against the "Resnet50" row [95 % CI over the (fold, seed) pairs], its verdict against the
# paper's Δ and Kendall's τ, the run-to-run noise, the K sweep, the localisation and graph scores —
# and the last cell (`setup.finish`) prints the wall time, the runs trained and the verdict counts;
# in default mode it records them in `docs/results/notebook_03.json`, which the documentation's
# per-paper table and notebook times render (docs/results.md; how to weigh a verdict:
# docs/evidence.md). The dated measurements this summary used to quote — the default with and
# without the warm-up, at 6, 12 and 16 epochs, in float32, the paper-literal and the earlier blocks,
# the fixes tried and the block-by-block diagnosis, each with its date, commit and machine — are in
# the repository's history: `git show ebe7a0d:notebooks/py/03_mafg_ccfg.py`.
#
# **What the recorded runs of the default showed** (`PRETRAINING = "synthetic-long"`, the
# paper-literal blocks, 16 epochs, the first a linear learning-rate warm-up, folds 1 and 2 with
# `SEEDS = [0, 1]`). **Every run of every row learns**: held-out F1 well above predicting every AU
# present, training losses well below the constant predictor's — the full model on every fold and
# seed, including fold 2, seed 0, which stayed at the constant predictor at 12 and 16 epochs
# without the warm-up. Five of the six rows come out above the plain classifier, as in the paper,
# by a few points, each interval including 0 at 4 pairs: every verdict *unresolved* — the paper's
# claims neither reproduced nor contradicted, and the table is evidence (on the earlier recipe the
# full model's one failed run decided its row). Baseline+MAFG is the exception, below the plain
# classifier, with two weak runs. Kendall's τ is near 0 (secondary). The K sweep (fold 1, seed 0,
# full model, one run each) rises with K.
#
# **The warm-up** was chosen from the full model on fold 2, seeds 0–3 (`benchmarks/synth_margins.py
# --fold 2`, measured before this notebook ran): without it seed 0 stayed at the constant
# predictor; with it every seed learned well above the every-AU F1 and every seed was higher
# (paired interval including 0 at 4 pairs); `recipe.grad_clip=1.0` instead changed nothing. The
# paper names no warm-up; this is afg's recipe for the short synthetic budget, not the paper's.
# Without the warm-up — at 16 epochs, at the earlier defaults of 12 and 6 epochs, and in float32
# with one seed — the full model came out below the plain classifier (at 16 and 12 epochs because of
# that one run at the constant predictor), with intervals wide enough to leave every verdict
# unresolved; at 6 epochs Baseline+MAFG and the full model learned on one fold at most. 12 epochs
# (the default until the 16 and the warm-up) was chosen from the full model's margin at 12 epochs
# (`synth_margins.py`, measured before) and this notebook's time, not from the verdicts or the
# ordering.
#
# *The measurements below were made on the first default pretraining (`PRETRAINING = "synthetic"`).*
#
# **The paper-literal blocks** (φ_i of Eq. 4 = FC → BN without ReLU, φ_i of Eq. 12 = pooling + FC
# without BatchNorm or ReLU, the "Resnet50" row a plain linear classifier, EVit at 3×3 and 5×5, the
# epoch chosen on a carved-out selection split, `recipe.selection: val`), fold 1, one seed: every
# row stayed near chance, below the F1 of predicting every AU present and near-chance AUC. The
# paper-literal blocks did not make the rows learn in this budget; the GNN baseline, whose φ_i lost
# its ReLU too, fell to near-chance AUC. With one fold and one seed no paired interval exists, so all
# six comparisons were *unresolved*. A table that can tell needs rows that learn first: that is
# issue #26's work on the synthetic benchmark, not a change of the paper's blocks.
#
# **With `EPOCHS=20`** (the same blocks, folds 1–2, seed 0, `K_VALUES: [3]`) five of the seven rows learned on both folds, EVit on fold 1 only.
# Every verdict was unresolved at 2 pairs but one: the GNN baseline (+GNN) was **contradicted**, and
# its measurement came with it: that row alone did not fit its training faces at 20 epochs either
# (last-epoch training loss close to the constant predictor's, where the runs that learn end well
# below it), so the GNN on top of the paper-literal φ_i did not train on this budget, while every
# row that adds MAFG or CCFG to it did. At 6 epochs every row but the plain classifier sat at the
# constant predictor's loss; held-out F1 took off only after that. Two pairs make wide
# intervals: the unresolved rows needed more folds or seeds (`SEEDS=[0, 1]`, the default since).
#
# **The earlier blocks** (FC → BN → ReLU in both φ_i, the "Resnet50" row as per-AU blocks + the
# cosine head, the whole training set for training; folds 1–2): Kendall's τ against the paper's F1
# ordering was negative — on this budget the added modules *hurt*, the opposite of Table 4. Only the
# GNN helped, as in the paper; rows with MAFG or CCFG stayed near chance AUC, and the fold-to-fold
# std was smaller than the spread of the rows. The K sweep (fold 1, full model) stayed flat for
# K = 1–6, inside that noise.
#
# What was tried on fold 1 with the earlier blocks (8 epochs of 800 faces). The paper's crops and
# flips, now the default (`data.hflip`, `data.resize` in `configs/synthetic/default.yaml`), lifted the plain row's
# F1 clearly and the full model a little. None of these closed the gap:
#
# * 60 identities × 20 faces instead of 30 × 40.
# * Colour jitter.
# * Backbone at 1/10 of the head's learning rate (the full model gained a little, the plain row lost
#   much more).
# * One warm-up epoch. Gradient clipping at 1.
# * The authors' shared CCFG block (`official=True`).
# * Stopping the CCFG gradient into the backbone (the CCFG-only row stayed at chance).
#
# **Why** (earlier blocks; fold 1, 6 epochs, AUC on the validation faces and, as "train", the same
# model evaluated on its own training faces). The failing rows do not memorise the training faces;
# they fail to fit them: the full model's training AUC stays far below the GNN baseline's, and the
# failing variants below end with higher training losses than the baseline. The block that stalls is
# one ending in BatchNorm → ReLU on *pooled vectors* that feeds the cosine-similarity head (Eq. 14)
# without a residual path:
#
# * One extra LinearBlock (FC → BN → ReLU) in front of the GNN baseline's head makes it fail (on its
#   training faces too), per-AU BatchNorm instead fails worse; the same FC without BatchNorm trains,
#   at least as well as the baseline.
# * Post (Eq. 13) is such a block. With CCFG's output replaced by zeros the CCFG row still fails.
#   Removing Post's BatchNorm does not help, because CCFG's φ_i (Eq. 12) are FC → BN → ReLU blocks
#   on pooled vectors too. A residual `v + Post(·)` is better, but still below the baseline.
# * MAFG's `Attn ⊙ X` (Eq. 4) has no residual either (ResNet50+MAFG fails too). EfficientViT's
#   attention, which is added residually, does better.
# * Ten times the backbone's learning rate for the heads lifts the baseline and leaves the full model
#   where it was.
#
# ME-GraphAU's node features are BN → ReLU on *tokens* that are averaged afterwards (AFG), and its
# GNN adds its BatchNorm through a residual; that trains on the same data (notebook 02). Neither the
# earlier FC → BN → ReLU blocks nor the paper-literal ones (above) train on this budget; afg
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
