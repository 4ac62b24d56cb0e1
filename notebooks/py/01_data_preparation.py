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
# # 01 · Data preparation: synthetic statistics, MTCNN alignment, official releases, folds, co-occurrence
#
# Every AU paper in afg starts from the same pipeline:
#
# ```
# official release ──adapter──▶ records (DataFrame) ──prepare (MTCNN)──▶ aligned faces + manifest
# synthetic generator ─────────────────────────────────────────────────▶ same sample dicts
# ```
#
# 1. **Synthetic faces and their label statistics.** The default dataset is procedural, but its AU
#    labels are drawn from a pairwise maximum-entropy model
#    $P(y)\propto\exp(\sum_i h_iy_i+\sum_{i<j}J_{ij}y_iy_j+g[y=0])$ fitted so that the occurrence
#    rates $r_i=P(y_i=1)$, the co-occurrences $P(y_i=1,y_j=1)$ and the no-AU rate equal those of the
#    real DISFA (130,814 frames) and EmotioNet (24,598 images) label lists. The targets are constants
#    in `afg.data.synth.labels`; here we check the samples against them.
# 2. **MTCNN detection and alignment** on real photographs: five landmarks → similarity transform →
#    a square crop (the papers' "MTCNN-aligned faces, cropped to 224 px").
# 3. **Preparing an official release.** An adapter reads the release as distributed (here a tiny
#    fake DISFA release in the official `ActionUnit_Labels/SN###/SN###_au{N}.txt` layout, and the
#    image/label *list* format of the AU papers' code); `prepare_dataset` aligns every frame once,
#    resumably, and writes a manifest.
# 4. **Folds.** Subject-independent 3-fold cross-validation (DISFA/BP4D: the standard parts).
# 5. **Co-occurrence.** $P(j\mid i)$ heatmaps and AU-GCN's graph
#    $M_{ij}=[P(j\mid i)+P(i\mid j)\ge h]$ (`afg.graphs.cooccurrence_graph`).
#
# **Modes.** `QUICK=True`: small samples, two frames per subject. `QUICK=False`: 50,000 label draws,
# four frames per subject. With `DATASET` (`"disfa"`, `"bp4d"`, `"emotionet"`, …) and `DATA_ROOT`
# the same cells read *your* release: its statistics next to the synthetic ones, and
# `prepare_dataset` writes the aligned faces to `<DATA_ROOT>/prepared` (the folder the training
# configs read; only 32 images in quick mode, into a temporary folder).

# %% tags=["parameters"]
QUICK = False
DATASET = "synthetic"   # "synthetic" | "disfa" | "bp4d" | "emotionet" | ... (an afg.data.datasets adapter)
DATA_ROOT = None        # the release folder, as distributed
DEVICE = "auto"         # MTCNN runs on this device
EPOCHS = None           # unused here (no training in this notebook)
FOLDS = 3               # k of the subject-independent protocol for the synthetic folds
SEED = 0

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import skimage.data
from PIL import Image

from afg.data.datasets import DISFA, ListDataset, get_adapter
from afg.data.faces import align
from afg.data.fake_release import make_fake_disfa_release
from afg.data.prepare import prepare_dataset, read_manifest
from afg.data.stats import au_class_weights, conditional_probabilities, occurrence_rates
from afg.data.synth import (
    PROFILES,
    SynthFaces,
    au_gallery,
    export_list_format,
    sample_au_labels,
    target_statistics,
)
from afg.graphs import cooccurrence_graph
from afg.papers.notebook_setup import NotebookSetup
from afg.papers.results import to_uint8
from afg.utils import resolve_device
from afg.viz import plot_adjacency, plot_cooccurrence, save_figure
from afg.viz.faces import plot_alignment
from afg.viz.plots import plot_label_rates

setup = NotebookSetup(QUICK, DATASET, DATA_ROOT, DEVICE, EPOCHS, FOLDS, SEED)
N_LABELS = 5_000 if QUICK else 50_000
FRAMES = 2 if QUICK else 4
work = Path(tempfile.mkdtemp(prefix="afg_01_"))
print(setup.describe(), "· scratch folder:", work)

# %% [markdown]
# ## 1 · The synthetic AU gallery
#
# Top row: six identities, neutral. Below: identity S000 with each of the 18 rendered AUs alone at
# intensity 5 (brow raisers move the brows, AU6 raises the cheeks, AU12 pulls the lip corners, …).
# The DISFA profile labels 8 of them, BP4D and EmotioNet 12, profile `all` 18.

# %%
fig = au_gallery(size=64 if QUICK else 112)
_ = save_figure(fig, "01_synth_au_gallery")
pd.Series({p: ", ".join(f"AU{a}" for a in aus) for p, aus in PROFILES.items()}, name="labelled AUs").to_frame()

# %% [markdown]
# ## 2 · Label statistics: synthetic vs the real DISFA / EmotioNet
#
# `target_statistics(profile)` holds the real rates $r_i$, co-occurrences $P(i,j)$ and no-AU rate;
# `sample_au_labels(profile, n)` draws labels from the fitted model without rendering. The class
# weights $w_i=N\cdot(1/r_i)/\sum_j(1/r_j)$ of the weighted asymmetric loss (ME-GraphAU Eq. 6, here
# normalised to mean 1 as in the authors' weight files) follow from the rates.

# %%
stats_rows, samples = [], {}
for profile in ("disfa", "emotionet"):
    target = target_statistics(profile)
    y = sample_au_labels(profile, N_LABELS, seed=SEED)
    samples[profile] = y
    names = [f"AU{a:02d}" for a in PROFILES[profile]]
    real_cond = target["joint"] / target["rates"][:, None]
    stats_rows.append(pd.DataFrame({
        "profile": profile, "AU": names, "real rate (%)": 100 * target["rates"],
        "synthetic rate (%)": 100 * occurrence_rates(y),
        "max |ΔP(j|i)| (pts)": 100 * np.nanmax(np.abs(conditional_probabilities(y) - real_cond), axis=1),
        "class weight w_i": au_class_weights(y)}))
    print(f"{profile}: no-AU frames real {100 * target['none']:.1f} %, synthetic {100 * (y.sum(1) == 0).mean():.1f} %")
label_stats = pd.concat(stats_rows, ignore_index=True).round(2)
label_stats

# %%
for profile, y in samples.items():
    names = [f"AU{a:02d}" for a in PROFILES[profile]]
    fig = plot_label_rates({f"real {profile.upper() if profile == 'disfa' else 'EmotioNet'}": target_statistics(profile)["rates"],
                            f"synthetic (n={len(y):,})": occurrence_rates(y)}, names,
                           title=f"AU occurrence, profile '{profile}'")
    _ = save_figure(fig, f"01_rates_{profile}")

# %% [markdown]
# The sampler is stratified (every state appears $n\,P(\text{state})$ times up to rounding), so with
# tens of thousands of draws the rates match to a fraction of a point; the remaining differences of
# $P(j\mid i)$ are largest for the rarest AUs, whose conditionals rest on few samples. A rendered
# `SynthFaces` set uses the same model, so a training set of a few hundred faces shows the real
# imbalance (AU25 common, AU02/AU09 rare) — the imbalance the weighted losses of the papers address.
#
# With a real release loaded (`DATASET`, `DATA_ROOT`), the next cell puts its statistics next to
# the synthetic profile of the same AUs.

# %%
if not setup.synthetic:
    release = get_adapter(DATASET, DATA_ROOT)
    real_au = release.labels()["au"]
    print(release, "·", len(release.records), "records ·", release.records["subject"].nunique(), "subjects")
    cmp = pd.DataFrame({"release rate (%)": 100 * occurrence_rates(real_au)}, index=release.au_names)
    if DATASET.lower() in ("disfa", "emotionet", "bp4d"):
        t = target_statistics(DATASET.lower())
        if len(t["rates"]) == len(cmp):
            cmp["synthetic target (%)"] = 100 * t["rates"]
    display_release = cmp.round(2)
else:
    display_release = "DATASET='synthetic': no release to compare (set DATASET and DATA_ROOT)."
display_release

# %% [markdown]
# ## 3 · MTCNN detection and alignment on real photographs
#
# `afg.data.faces.align(images, size)` runs facenet-pytorch's MTCNN in batches, keeps the largest
# face, and warps the image with the least-squares similarity transform that maps the five
# landmarks (eyes, nose, mouth corners) onto a fixed template (`margin=0.1`). Every input gets a
# result with a `status`: `ok`, `no_face` (the cat) or `unreadable`.

# %%
hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB"))
photos = {"astronaut (scikit-image)": skimage.data.astronaut(), "Grace Hopper (matplotlib)": hopper,
          "cat (scikit-image)": skimage.data.chelsea()}
dev = str(resolve_device(DEVICE))
aligned = align(list(photos.values()), size=112 if QUICK else 224, device=dev)
fig = plot_alignment(list(photos.values()), aligned, titles=list(photos))
_ = save_figure(fig, "01_mtcnn_alignment")
pd.DataFrame([{"input": k, "status": r["status"], "faces": r.get("faces"), "score": r.get("score"),
               "box": None if r.get("box") is None else np.round(r["box"], 1).tolist()}
              for k, r in zip(photos, aligned)])

# %% [markdown]
# ## 4 · Preparing an official release
#
# ### 4a · DISFA's official layout
#
# We build a tiny release exactly as DISFA ships it: one folder per subject under
# `ActionUnit_Labels/` with one `frame,intensity` file per coded AU, and frames extracted from the
# left-camera videos under `Images_LeftCamera/SN###/`. The frames are real photographs (so MTCNN has
# faces to find); the last frame of SN001 is the cat (→ `no_face`) and one labelled frame of SN013
# was never extracted (→ listed as missing). The `DISFA` adapter reads it into a records table —
# an AU is present when its intensity is ≥ 2 — and knows the standard subject-independent parts.

# %%
release_root = make_fake_disfa_release(work / "DISFA", frames_per_subject=FRAMES, seed=SEED)
print(*sorted(str(p.relative_to(release_root)) for p in release_root.rglob("*")
             if p.is_file() and "SN001" in p.parts)[:8], "…", sep="\n")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    disfa = DISFA(release_root)
for w in caught:
    print("adapter warning:", w.message)
disfa.records.head(8)

# %% [markdown]
# `prepare_dataset` detects and aligns every frame once (batched MTCNN), writes
# `faces/<source path>.jpg`, a `manifest.csv` (status, box, 5 landmarks and labels per record), a
# `failures.csv` and an append-only journal that makes the run resumable — a second call skips
# everything already done. `afg prepare disfa --root RAW --out OUT` is the same call.

# %%
prepared = work / "DISFA_prepared"
summary = prepare_dataset(disfa, prepared, size=112, batch_size=8, device=dev, progress=False)
again = prepare_dataset(disfa, prepared, size=112, batch_size=8, device=dev, progress=False, verbose=False)
print(f"second call: {again['skipped']} skipped, {again['processed']} processed")
manifest, meta = read_manifest(prepared)
manifest[["source", "status", "subject", "frame", *disfa.au_names, "score"]].head(8)

# %%
pd.read_csv(prepared / "failures.csv")

# %% [markdown]
# The torch dataset over the prepared faces gives the same batch dictionaries as the synthetic
# generator (`image`, `au` with NaN for missing labels, `au_mask`, `subject`, …):

# %%
faces = disfa.dataset(prepared)
item = faces[0]
print({k: (tuple(v.shape) if hasattr(v, "shape") else v) for k, v in item.items()})
fig, axes = matplotlib.pyplot.subplots(1, min(6, len(faces)), figsize=(1.4 * min(6, len(faces)), 1.6))
for ax, i in zip(np.atleast_1d(axes), range(len(faces))):
    it = faces[i]
    ax.imshow(to_uint8(it["image"])[0])
    ax.set_title(f"{it['subject']} · " + (",".join(a[2:].lstrip("0") for a, v in zip(disfa.au_names, it["au"].tolist()) if v == 1) or "–"), fontsize=6)
    ax.axis("off")
_ = save_figure(fig, "01_prepared_faces")

# %% [markdown]
# With a real release (`DATASET`, `DATA_ROOT`) the same call prepares it: every image into
# `<DATA_ROOT>/prepared`, the folder the training configs read (`data.prepared` defaults to it);
# in quick mode only the first 32 images, into the scratch folder. Interrupt it at any time — the
# next call resumes.

# %%
if not setup.synthetic:
    out_dir = work / "prepared_quick" if QUICK else Path(DATA_ROOT) / "prepared"
    real_summary = prepare_dataset(release, out_dir, size=256, batch_size=32, device=dev,
                                   limit=32 if QUICK else None, progress=not QUICK)
    display_real = pd.Series(real_summary).to_frame("value")
else:
    display_real = "DATASET='synthetic': nothing to prepare beyond the fake release above."
display_real

# %% [markdown]
# ### 4b · The image-list format of the AU papers' code
#
# ME-GraphAU and MAFG distribute their splits as `fold{k}_test_img_paths.txt` +
# `fold{k}_test_labels.txt` (one path / one space-separated 0/1 row per line) and class-weight
# files. `export_list_format` writes a synthetic set in that format; `ListDataset.from_folds` reads
# it back (fold k tests its own list and trains on the others).

# %%
small = SynthFaces(profile="disfa", n_subjects=3 if QUICK else 6, images_per_subject=2 if QUICK else 4,
                   size=64, seed=SEED)
written = export_list_format(small, work / "lists", k=3)
lists = ListDataset.from_folds(work / "lists", 3, au_names=small.au_names)
print(sorted(p.name for p in written.values())[:8], "…")
print((work / "lists" / "official_train_weight_fold1.txt").read_text().strip())
lists.records.head()

# %% [markdown]
# ## 5 · Folds
#
# All AU papers report subject-independent 3-fold cross-validation. For DISFA and BP4D the parts
# are fixed lists of subjects (`DISFA_PARTS`, `BP4D_PARTS`; fold 1 tests part 3, fold 2 part 2,
# fold 3 part 1). `SynthFaces.folds(k)` assigns subject $j$ to fold $j \bmod k$. No identity is
# ever in both the training and the test set of a fold.

# %%
def fold_table(records: pd.DataFrame, folds) -> pd.DataFrame:
    rows = []
    for f, (tr, te) in enumerate(folds, start=1):
        rows.append({"fold": f, "train images": len(tr), "test images": len(te),
                     "test subjects": ", ".join(sorted(records["subject"].iloc[te].astype(str).unique())),
                     "shared subjects": len(set(records["subject"].iloc[tr]) & set(records["subject"].iloc[te]))})
    return pd.DataFrame(rows).set_index("fold")


synth = SynthFaces(profile="disfa", n_subjects=12, images_per_subject=20, size=64, seed=SEED)
synth_records = pd.DataFrame({"subject": synth.sample_subjects})
pd.concat({"fake DISFA release": fold_table(disfa.records, disfa.folds()),
           "list format": fold_table(lists.records, lists.folds()),
           f"synthetic, {FOLDS} folds": fold_table(synth_records, synth.folds(FOLDS))})

# %% [markdown]
# ## 6 · Co-occurrence heatmaps and AU-GCN's co-occurrence graph
#
# Left: $P(j\mid i)$ of 50,000 synthetic DISFA-profile labels; right: the same matrix of the real
# DISFA labels (from the stored targets). AU-GCN (Liu et al. 2020, Eq. 4–5) keeps an edge when
# $P(j\mid i)+P(i\mid j)\ge h$ with $h=0.8$ — the graph below is computed from the samples with
# `cooccurrence_graph(labels, 0.8)` and from the real statistics, and the two agree entry by entry
# when the sample is large.

# %%
y = samples["disfa"]
names = [f"AU{a:02d}" for a in PROFILES["disfa"]]
t = target_statistics("disfa")
real_cond = t["joint"] / t["rates"][:, None]
fig, axes = matplotlib.pyplot.subplots(1, 2, figsize=(8.2, 3.4))
plot_cooccurrence(y, names, ax=axes[0], title="synthetic: P(column | row)")
plot_adjacency(real_cond, names, ax=axes[1], title="real DISFA: P(column | row)")
fig.tight_layout()
_ = save_figure(fig, "01_cooccurrence_disfa")

# %%
g_synth = cooccurrence_graph(y, 0.8)
s = real_cond + real_cond.T
g_real = ((s >= 0.8) | np.eye(len(names), dtype=bool)).astype(int)
print("entries differing between the synthetic and the real graph:", int((g_synth != g_real).sum()))
fig = plot_adjacency(g_synth, names, title="AU-GCN graph [P(j|i)+P(i|j) ≥ 0.8], synthetic DISFA")
_ = save_figure(fig, "01_cooccurrence_graph_disfa")

# %% [markdown]
# ## Summary
#
# * The synthetic labels reproduce the real DISFA/EmotioNet rates and pairwise statistics, so the
#   imbalance and the co-occurrence structure the graph papers exploit are present in the default
#   dataset.
# * Real releases are read where they are, as distributed; `prepare_dataset` aligns them once
#   (resumable, with a manifest and a failure list) and the training configs read
#   `<root>/prepared`.
# * Next: `02_me_graphau` trains on these faces.

# %% [markdown]
# ## Recorded
#
# In default mode `setup.finish` writes this notebook's wall time and runs trained to
# `docs/results/notebook_01.json`, the results file the README and `docs/` render their numbers from
# (quick mode only prints them).

# %%
_ = setup.finish("01_data_preparation")
