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
# # 07 · Visualisation gallery: every figure type of `afg.viz` on small trained models
#
# One section per figure type, each drawn from a model trained through the cached runner (the runs
# are the same configs as notebooks 00/02/03/05, so after those notebooks nothing is retrained):
#
# | figure | function | paper figure it reproduces |
# |---|---|---|
# | synthetic gallery | `afg.data.synth.au_gallery` | — (the default dataset) |
# | AU ROIs on a face | `afg.viz.plot_rois` | AU-GCN Fig. 2(a) |
# | co-occurrence heatmap | `afg.viz.plot_cooccurrence` | AU-GCN Table 1, priors of every graph paper |
# | adjacency heatmap (0/1, weighted, signed) | `afg.viz.plot_adjacency` | AU-GCN Table 1, Emotion-GCN Fig. 3, SVML-RGCN Fig. 1 |
# | K-NN node graphs | `afg.viz.plot_knn_graph` | ME-GraphAU Fig. 4 |
# | Grad-CAM grid | `afg.viz.gradcam` + `plot_gradcam_grid` | Li et al. Fig. 3, SVML-RGCN Fig. 7 |
# | per-AU F1 bars with the paper's numbers | `afg.viz.plot_au_f1` | ME-GraphAU Tables 1–2 |
# | sweep curve | `afg.viz.plot_sweep` | Li et al. Fig. 6 (K), Emotion-GCN Table II |
# | confusion matrix | `afg.viz.plot_confusion_matrix` | Emotion-GCN Fig. 4 |
# | classifier cosine similarity | `afg.viz.plot_cosine_similarity` | Emotion-GCN Fig. 6 |
# | a face's AU probabilities (photograph) | `afg.viz.plot_au_overlay` | OpenGraphAU's demo picture |
# | AU probabilities over a video's time | `afg.viz.plot_au_timeline` | — |
#
# Every function returns a matplotlib `Figure`; `afg.viz.save_figure(fig, name)` writes PDF (fonts
# embedded) and PNG to `$AFG_FIGURES_DIR` (default `./figures`). `afg.viz.use_style()` (applied by
# the notebook setup) sets the publication style.
#
# **Modes.** `QUICK=True`: tiny models (64 px, two steps) — the figures are drawn but the models
# have learned nothing. `QUICK=False`: the synthetic default of the paper notebooks (112 px, 240
# faces, `EPOCHS` per stage, fold 1). A real `DATASET` is not needed here: this notebook is about
# the figures (the paper notebooks draw them on real data).

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # the gallery always uses synthetic faces
DATA_ROOT = None
DEVICE = "auto"
EPOCHS = None           # None: the mode's (ME-GraphAU 8 per stage, MAFG+CCFG 16, Emotion-GCN 10; 1 in quick mode)
FOLDS = 1               # the gallery trains fold 1 only
SEED = 0
PRETRAINING = "synthetic-long"  # backbone init (default mode); "synthetic": the first default, 1/4 of its steps

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from afg import reference
from afg.data.synth import au_gallery
from afg.experiments import Sweep, build_data, run
from afg.graphs import cooccurrence_graph
from afg.graphs.relations import label_relations
from afg.metrics import majority_rate
from afg.metrics.expression import expression_confusion_matrix, fig6_structure
from afg.papers.figures import cosine_report, graph_report, localisation_report
from afg.papers.me_graphau_table3 import me_graphau_config
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.results import dataset_attr, first_images, label_names, model_for, predictions
from afg.viz import (
    gradcam,
    plot_adjacency,
    plot_au_f1,
    plot_confusion_matrix,
    plot_cooccurrence,
    plot_cosine_similarity,
    plot_gradcam_grid,
    plot_knn_graph,
    plot_rois,
    plot_sweep,
    save_figure,
)

warnings.filterwarnings("ignore", message=".*initialised from previous stage.*")
setup = NotebookSetup(QUICK, "synthetic", None, DEVICE, EPOCHS, FOLDS, SEED, pretraining=PRETRAINING)
print(setup.describe())

# %% [markdown]
# ## The models
#
# Three cached runs: ME-GraphAU (both stages), MAFG + CCFG and Emotion-GCN on synthetic faces,
# fold 1. `load_model=True` also returns the trained model when the run comes from the cache.

# %%
runs = {
    "ME-GraphAU": run(me_graphau_config(setup), load_model=True),
    "MAFG+CCFG": run(setup.config("mafg_ccfg"), load_model=True),
    "Emotion-GCN": run(setup.config("emotion_gcn"), load_model=True),
}
pd.DataFrame({name: {"run": r.run_dir.name, "cached": r.cached, "seconds": round(r.seconds, 1),
                     "metric": "accuracy" if "accuracy" in r.metrics else "f1_mean",
                     "value (%)": round(100 * r.metrics.get("accuracy", r.metrics.get("f1_mean", np.nan)), 1)}
              for name, r in runs.items()}).T

# %%
me = runs["ME-GraphAU"]
_, val = build_data(me.config.data)
au_names = label_names(val)
batch = first_images(val, 4)
K = me.config.model["neighbor_num"]

# %% [markdown]
# ## 1 · Synthetic gallery
#
# Six identities, then every AU of one identity at intensity 5.

# %%
fig = au_gallery(size=64 if QUICK else 112)
_ = save_figure(fig, "07_synth_gallery")

# %% [markdown]
# ## 2 · AU ROIs on a face (AU-GCN Fig. 2(a))
#
# AU-GCN crops one square region per AU group around landmark-defined centres (side $W/8$) plus the
# whole face. Drawn on a synthetic face with its own 68 landmarks, and on the canonical template.

# %%
item = val[0]
fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.9))
plot_rois(item["image"], item["landmarks"], rois="disfa", ax=axes[0], title="DISFA ROIs on a synthetic face")
plot_rois(None, None, rois="bp4d", ax=axes[1], title="BP4D ROIs on the template")
fig.tight_layout()
_ = save_figure(fig, "07_rois")

# %% [markdown]
# ## 3 · Co-occurrence and adjacency heatmaps
#
# Left: $P(j\mid i)$ of the training labels. Middle: AU-GCN's 0/1 graph
# $[P(j\mid i)+P(i\mid j)\ge 0.8]$. Right: how often AU $j$ is among the $K$ nearest neighbours of
# AU $i$ in ME-GraphAU's *learned*, face-specific graphs (stage-1 intermediates averaged over the
# validation faces) — a data-driven counterpart of the fixed prior.

# %%
train, _ = build_data(me.config.data)
y_train = np.concatenate([train[i]["au"][None].numpy() for i in range(len(train))])
model = model_for(me)
with torch.no_grad():
    inter = model(torch.stack([val[i]["image"] for i in range(len(val))]), return_intermediates=True)
fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.4))
plot_cooccurrence(y_train, au_names, ax=axes[0], title="P(column | row), training labels")
plot_adjacency(cooccurrence_graph(y_train, 0.8), au_names, ax=axes[1], title="AU-GCN graph, h = 0.8")
plot_adjacency(inter["adjacency"].float().mean(0), au_names, ax=axes[2], title=f"ME-GraphAU K-NN frequency (K={K})")
fig.tight_layout()
_ = save_figure(fig, "07_adjacency_heatmaps")
# the learned K-NN frequency against the true label structure, with the node-relabelling baseline
graphs = graph_report({f"ME-GraphAU K-NN frequency (K={K})": inter["adjacency"].float().mean(0)}, y_train,
                      profile=dataset_attr(val, "profile"))
print(graphs.attrs["note"])
graphs.round(3)

# %% [markdown]
# Signed relations (SVML-RGCN, Fig. 1): positive ($P_{ij}\ge t_2$) minus negative ($P_{ij}\le t_1$)
# relations between the six basic emotions of the synthetic blended expressions; and Emotion-GCN's
# weighted adjacency $\hat A$ (Eq. 3–6) over the 7 expressions + valence + arousal, built by the
# trained model from the Spearman correlations of its training labels.

# %%
emo = runs["Emotion-GCN"]
emo_model = model_for(emo)
emo_train, _ = build_data(emo.config.data)
emotions = np.concatenate([emo_train[i]["emotions"][None].numpy() for i in range(len(emo_train))])
rel = label_relations(emotions, 0.15, 0.4)
emotion_names = label_names(emo_train, "emotion_names")
fig, axes = plt.subplots(1, 2, figsize=(9.4, 3.8))
plot_adjacency(rel["positive"] - rel["negative"], emotion_names, signed=True, ax=axes[0],
               title="SVML-RGCN relations (+1 positive, −1 negative)")
plot_adjacency(emo_model.adjacency, emo_model.node_names, ax=axes[1], title=f"Emotion-GCN Â: {emo_model.graph_source}")
fig.tight_layout()
_ = save_figure(fig, "07_relations_and_emotion_adjacency")

# %% [markdown]
# ## 4 · K-NN node graphs (ME-GraphAU Fig. 4)

# %%
with torch.no_grad():
    out = model(batch["image"], return_intermediates=True)
fig = plot_knn_graph(out["nodes"], K, activations=out["au"], names=au_names, images=batch["rgb"],
                     titles=[f"{s}: {', '.join(a for a, v in zip(au_names, lab) if v > 0.5) or 'no AU'}"
                             for s, lab in zip(batch["subject"], batch["au"].numpy())])
_ = save_figure(fig, "07_knn_graphs")

# %% [markdown]
# ## 5 · Grad-CAM grids
#
# `gradcam(model, images, target_layer, targets)` wraps any afg model so that pytorch-grad-cam sees
# one score per class, and explains the raw score (no softmax — valid for the cosine heads).
# Top: ME-GraphAU, the backbone's last stage, three AUs. Bottom: MAFG + CCFG, its multi-scale
# attention module (Li et al. Fig. 3).

# %%
targets = ["AU01", "AU12", "AU25"]
mafg = model_for(runs["MAFG+CCFG"])
cams_me = gradcam(model, batch["image"], model.backbone.target_layer, targets, names=au_names)
cams_mafg = gradcam(mafg, batch["image"], mafg.mafg.attention, targets, names=au_names)
for name, cams in (("ME-GraphAU (backbone layer4)", cams_me), ("MAFG+CCFG (MAFG attention)", cams_mafg)):
    fig = plot_gradcam_grid(batch["rgb"], cams, row_titles=list(batch["subject"]), col_titles=["face"] + targets)
    fig.suptitle(name, fontsize=8)
    fig.tight_layout()
    _ = save_figure(fig, "07_gradcam_" + name.split(" ")[0].lower().replace("+", "_"))

# %% [markdown]
# The maps scored against where the generator draws each AU (`afg.metrics.localisation`: the AU's
# region carried into each face through its landmarks), on 48 held-out faces where the AU is active:
# pointing-game hit rate and energy share inside the region, each against chance (the region's area
# share). Notebook 03 says what makes a map miss (target layer, score, resolution, the graph).

# %%
loc = localisation_report({"ME-GraphAU, last stage": (model, None), "MAFG+CCFG, last stage": (mafg, None),
                           "MAFG+CCFG, MAFG attention": (mafg, mafg.mafg.attention)}, val, targets, n=48)
print(loc.attrs["note"])
loc.round(3)

# %% [markdown]
# ## 6 · Per-AU F1 with the paper's numbers
#
# Our three models' validation F1 per AU; the markers are ME-GraphAU's published DISFA row
# (ResNet-50, Table 2) — a different dataset and backbone, shown for the layout only.

# %%
paper = reference.load_table("me_graphau/table2")
scores = {name: [r.metrics.get(f"f1/{a}", np.nan) for a in au_names] for name, r in runs.items() if "f1_mean" in r.metrics}
fig = plot_au_f1(scores, au_names, paper={"ME-GraphAU (ResNet-50), DISFA": paper.loc["ME-GraphAU (ResNet-50)", au_names].tolist()},
                 title="Per-AU F1 (synthetic, fold 1)")
_ = save_figure(fig, "07_au_f1")

# %% [markdown]
# ## 7 · A sweep curve: K of the K-NN graph
#
# Stage-1 ME-GraphAU over $K$ (a `Sweep` is an `Ablation` over one parameter; each point is a
# cached run per fold, the band is ± one std over folds when there are several). Li et al. sweep K
# for their model in Fig. 6 (notebook 03).

# %%
base = me_graphau_config(setup, overrides={"recipe.stages": [me.config.recipe.stages[0].to_dict()]})
sweep = Sweep(base, "model.neighbor_num", [2, 4] if QUICK else [1, 2, 3, 4, 5, 6], folds=setup.fold_list())
tidy = sweep.run()
t = tidy[tidy["metric"] == "f1_mean"].assign(K=lambda d: d["variant"].str.split("=").str[1].astype(int),
                                              **{"F1 (%)": lambda d: 100 * d["value"]})
fig = plot_sweep(t, "K", "F1 (%)", title="ME-GraphAU stage 1: F1 vs K")
_ = save_figure(fig, "07_sweep_k")
sweep.table(["f1_mean"])

# %% [markdown]
# ## 8 · Confusion matrix and classifier cosine similarity (Emotion-GCN Fig. 4 and Fig. 6)
#
# The confusion matrix of the Emotion-GCN model on the validation identities (rows: true, columns:
# predicted, row-normalised), and the cosine similarity between the 7 expression classifiers and
# the 2 valence/arousal regressors that its GCN generates from the label graph. Below the figure,
# `afg.metrics.fig6_structure` checks the structure the paper reads off its Fig. 6 (§IV-D: Valence
# nearest to Happy, Arousal nearer to the high-arousal expressions) and says why a matrix cannot
# show it when the model is under 2x chance.

# %%
pr = predictions(emo)
names7 = list(emo_model.label_names)
cm = expression_confusion_matrix(pr["labels"]["expression"], pr["preds"]["expression"], num_classes=len(names7))
fig = plot_confusion_matrix(cm, names7, title=f"Emotion-GCN (accuracy {100 * pr['metrics']['accuracy']:.1f} %)")
_ = save_figure(fig, "07_confusion_matrix")
fig = plot_cosine_similarity({"Emotion-GCN": emo_model.classifier_vectors()}, emo_model.node_names)
_ = save_figure(fig, "07_cosine_similarity")
# the structure the paper reads off its Fig. 6, measured on this matrix (or why it is not there)
print(fig6_structure(emo_model.classifier_vectors(), emo_model.node_names, accuracy=pr["metrics"]["accuracy"],
                     chance=majority_rate(pr["labels"]["expression"]))["note"])
# against the truth: the cosine similarity of the generator's expression prototypes (rank correlation)
cos = cosine_report(emo_model.classifier_vectors(), emo_model.node_names)
print(cos.attrs["note"])
cos.round(3)

# %% [markdown]
# ## 9 · AU predictions on photographs and over a video's time (`afg predict --plot`)
#
# `afg.Predictor` detects every face (MTCNN, batched), aligns it and runs the AU model; each row of
# its table is one face. `plot_au_overlay(image, row)` draws the face with its detected box beside
# a bar chart of the AU probabilities, labelled with their FACS names (bars at or above 0.5 in
# red); `plot_au_timeline(df)` draws the probabilities against `time_s` for a video. On the
# command line, `afg predict CHECKPOINT photos/ session.mp4 --plot figures/` writes both.
#
# The model: set `OPENGRAPHAU_CHECKPOINT` to a released OpenGraphAU checkpoint (e.g.
# `OpenGprahAU-ResNet50_first_stage.pth` from the authors' page; 41 AUs, read with
# `weights_only=True`, aligned at 256 px and centre-cropped to 224 px as OpenGraphAU evaluates)
# to see a detector trained on two million real faces. Without it, the ME-GraphAU run above is
# used: 8 DISFA AUs learned from synthetic faces — the figures are the same, but on a real
# photograph its probabilities show the pipeline, not a calibrated reading of the expression.
#
# The photographs are the real ones of the package tests and benchmarks (scikit-image's
# astronaut, matplotlib's Grace Hopper). The video is synthetic: one identity smiling (AU6 + AU12
# rise and fall over frames 5–25) and then raising the brows (AU1 + AU2, frames 20–35), written
# to an AVI at 10 fps.

# %%
OPENGRAPHAU_CHECKPOINT = None   # path to a released OpenGraphAU .pth, or None (the ME-GraphAU run)

# %%
import tempfile
from pathlib import Path

import cv2
import matplotlib
import skimage.data
from PIL import Image

from afg import Predictor
from afg.data.synth.face import AU_INDEX, DEFAULT_EVIDENCE
from afg.data.synth.labels import ALL_AUS
from afg.data.synth.render import render_face
from afg.viz import plot_au_overlay, plot_au_timeline

predictor = Predictor(OPENGRAPHAU_CHECKPOINT or me.run_dir, device=DEVICE)
hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
                    .convert("RGB"))
photos = {"astronaut": skimage.data.astronaut(), "grace_hopper": hopper}
faces = predictor.predict(list(photos.values()))
names = faces.attrs["label_descriptions"]
print(predictor)
faces[["input", "face", "FaceScore", *predictor.label_names[:8]]].round(2)

# %%
for (key, image), (_, row) in zip(photos.items(), faces.iterrows()):
    if row["status"] != "ok":
        print(f"{key}: {row['reason']}")
        continue
    fig = plot_au_overlay(image, row, names=names, title=key.replace("_", " "))
    _ = save_figure(fig, f"07_au_overlay_{key}")

# %%
def smile_then_brows(n_frames: int = 40, size: int = 112) -> list[np.ndarray]:
    """Frames of synthetic subject 0: AU6 + AU12 rise and fall over frames 5-25, AU1 + AU2 over 20-35."""
    def bump(t, start, end):
        return float(np.clip(np.sin(np.pi * (t - start) / (end - start)), 0, 1)) if start <= t <= end else 0.0

    frames = []
    for t in range(n_frames):
        a = np.zeros(len(ALL_AUS))
        for au, (s, e) in {6: (5, 25), 12: (5, 25), 1: (20, 35), 2: (20, 35)}.items():
            a[AU_INDEX[au]] = bump(t, s, e) * DEFAULT_EVIDENCE[au]
        frames.append(render_face(0, a, size)[0])
    return frames


video = Path(tempfile.mkdtemp()) / "synthetic_session.avi"
size = predictor.resize or predictor.img_size
writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (size, size))
for frame in smile_then_brows(size=size):
    writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
writer.release()
predictor.fps = 10  # sample every frame of the 10 fps file
session = predictor.predict(str(video), detect=False)  # synthetic frames are aligned faces already
shown = [c for c in ("AU01", "AU02", "AU06", "AU12") if c in predictor.label_names]
fig = plot_au_timeline(session, aus=shown, names=names)
_ = save_figure(fig, "07_au_timeline")
session[["frame", "time_s", *shown]].iloc[::5].round(2)

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time and runs trained to
# `docs/results/notebook_07.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("07_visualisation_gallery")
