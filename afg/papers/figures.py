"""Every experiment, figure and table of notebooks 03–06, as functions (used by ``08_paper_figures``).

:func:`paper_experiments` builds the same :class:`~afg.experiments.Ablation` / ``Sweep`` objects as
the paper notebooks (same :class:`~afg.papers.notebook_setup.NotebookSetup` → same configs → same
run-cache entries), so exporting after the notebooks ran trains nothing. The sweep values are the
notebooks' own (:data:`afg.papers.sweeps.SWEEPS`, the one definition both read).

Figure functions return matplotlib Figures (save them with :func:`afg.viz.save_figure`);
:func:`export_tables` writes LaTeX (booktabs) and Markdown tables.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import reference
from ..data.rois import roi_set
from ..data.stats import dataset_labels, training_statistics
from ..data.synth import SynthFaces, sample_au_labels
from ..experiments.ablation import Ablation, Sweep
from ..experiments.analysis import paper_verdicts, verdict_note
from ..experiments.export import to_latex, to_markdown
from ..graphs.cooccurrence import cooccurrence_graph
from ..graphs.emotion import (
    AFFECTNET_EXPRESSIONS,
    EMOTION_GCN_NODES,
    emotion_adjacency,
    spearman_matrix,
)
from ..graphs.relations import cooccurrence_probabilities, label_relations
from ..metrics.expression import expression_confusion_matrix
from ..metrics.graph_agreement import agreement_table, generator_conditionals, prototype_similarity
from ..metrics.localisation import au_region_masks, localisation_table
from ..reference.au_gcn_graphs import TABLE1_AUS, TABLE1_DISFA
from ..viz import (
    gradcam,
    plot_adjacency,
    plot_confusion_matrix,
    plot_cosine_similarity,
    plot_gradcam_grid,
    plot_rois,
    plot_sweep,
)
from ..viz.export import figures_dir
from ..viz.rois import plot_roi_reconstructions
from .notebook_setup import NotebookSetup, reference_dir
from .probes import disfa_training_labels
from .results import dataset_attr, first_images, load_stage_model, predictions
from .sweeps import SWEEPS, sweep_values

__all__ = [
    "NINE_METRICS",
    "TABLE_METRICS",
    "au_gcn_reconstruction_figure",
    "au_gcn_rois_figure",
    "au_gcn_table1_figure",
    "cosine_report",
    "emotion_adjacency_figure",
    "emotion_confusion_figure",
    "emotion_cosine_figure",
    "export_tables",
    "generator_labels",
    "graph_report",
    "localisation_report",
    "mafg_gradcam_figure",
    "paper_experiments",
    "result_of",
    "svml_gradcam_figure",
    "svml_relations_figure",
    "sweep_figure",
]

NINE_METRICS = ["hamming_loss", "coverage", "one_error", "ranking_loss", "average_precision", "micro_f1",
                "macro_f1", "micro_auc", "macro_auc"]
#: metrics shown per paper, and the main metric of its sweeps
TABLE_METRICS = {
    "mafg_ccfg": (["f1_mean", "acc_mean", "auc_mean"], "f1_mean"),
    "au_gcn": (["f1_mean", "auc_mean"], "f1_mean"),
    "emotion_gcn": (["accuracy", "mean_class_accuracy", "affwild2_score", "ccc_valence", "ccc_arousal"], "accuracy"),
    "svml_rgcn": (NINE_METRICS, "average_precision"),
}
_REAL = {"mafg_ccfg": ("disfa", "emotionet"), "au_gcn": ("bp4d", "disfa"),
         "emotion_gcn": ("affectnet", "affwild2"), "svml_rgcn": ("rafml", "rafcompound", "jaffe")}


def _tables(paper: str, dataset: str) -> list[str]:
    """The paper tables an experiment of ``paper`` on ``dataset`` is compared with."""
    if paper == "mafg_ccfg":
        return ["mafg_ccfg/table5" if dataset == "emotionet" else "mafg_ccfg/table4"]
    if paper == "au_gcn":
        return ["au_gcn/table4"]
    if paper == "emotion_gcn":
        return ["emotion_gcn/table1", "emotion_gcn/table3"]
    tab = dataset if dataset in ("rafcompound", "jaffe") else "rafml"
    return [f"svml_rgcn/table2_{tab}", f"svml_rgcn/table3_{tab}"]


def paper_experiments(setup: NotebookSetup, subset: str | None = None,
                      seeds: Sequence[int] | None = None) -> dict[str, Ablation]:
    """``{key: Ablation or Sweep}`` of every paper the setup's dataset belongs to (all four on synthetic
    data): ``"<paper>/ablation"`` and ``"<paper>/sweep:<param>"``. ``seeds``: each ablation's rows
    once per seed, as notebooks 03-06's ``SEEDS`` run them (:meth:`NotebookSetup.ablation`; the
    sweeps run once, on fold 1), so that notebook 08 fetches their runs from the cache.

    ``subset="ends"`` keeps the first and last row of each ablation and, for sweeps, only the base
    config's value (a quick export that trains a handful of runs). Each object carries ``.paper``,
    ``.tables`` (paper table ids) and ``.metric`` (main metric).
    """
    out: dict[str, Ablation] = {}
    for paper in ("mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn"):
        if not setup.synthetic and setup.dataset not in _REAL[paper]:
            continue
        tables = _tables(paper, setup.dataset)
        variants: dict[str, Any] = {}
        for t in tables:
            for k, v in reference.variants(t).items():
                variants.setdefault(k, v)
        if subset == "ends":  # the first row and the full model (last row of the first table)
            first = list(reference.variants(tables[0]))
            variants = {k: variants[k] for k in dict.fromkeys([first[0], first[-1]])}
        abl = setup.ablation(paper, variants, seeds=seeds)
        abl.paper, abl.tables, abl.metric = paper, tables, TABLE_METRICS[paper][1]
        out[f"{paper}/ablation"] = abl
        base = setup.config(paper)
        for p, param in SWEEPS:
            if p != paper:
                continue
            vals = sweep_values(setup, paper, param)
            if subset == "ends":
                vals = [_get(base.to_dict(), param)]
            sw = setup.sweep(paper, param, vals, folds=[1])
            sw.paper, sw.tables, sw.metric = paper, tables, TABLE_METRICS[paper][1]
            out[f"{paper}/sweep:{param.split('.')[-1]}"] = sw
    return out


def _get(d: Mapping[str, Any], dotted: str) -> Any:
    for k in dotted.split("."):
        d = d[k]
    return d


def result_of(abl: Ablation, variant: str, fold: int | None = None):
    """The :class:`RunResult` of ``variant`` on ``fold`` (default: the first fold run)."""
    fold = abl.folds[0] if fold is None else fold
    for name, f, _, r in abl.results:
        if name == variant and f == fold:
            return r
    raise KeyError(f"{variant!r} fold {fold} was not run (variants: {list(abl.variants)})")


def export_tables(experiments: Mapping[str, Ablation], folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """Write ``<paper>_ablation.tex/.md`` (ours, mean ± std over folds, Δ [95 % CI] vs the first
    row), ``<paper>_<table>_vs_paper.tex`` (ours next to the published numbers) and
    ``<paper>_<table>_verdicts.tex/.md`` (each row's paired Δ against the paper's Δ, with the
    verdict counts) for every ablation that has run; returns an index of the files written.
    Captions say how the epoch was selected (runs selected on the test fold: "optimistic")."""
    out = figures_dir(folder)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for key, abl in experiments.items():
        if not key.endswith("/ablation") or abl.tidy is None:
            continue
        metrics = TABLE_METRICS[abl.paper][0]
        percent = abl.paper != "svml_rgcn"
        # Δ [95 % CI] vs the first row (the paper's baseline); the note names the runs and the
        # selection mode (flagging runs selected on the test fold as optimistic)
        first = next(iter(abl.variants))
        ours = abl.table(metrics, percent=percent, digits=1 if percent else 3,
                         reference=first if len(abl.variants) > 1 else None)
        stem = f"{abl.paper}_ablation"
        to_latex(ours, out / f"{stem}.tex", caption=f"{abl.paper}: ours, folds {abl.folds}",
                 label=f"tab:{stem}")
        to_markdown(ours, out / f"{stem}.md")
        rows.append({"table": stem, "file": f"{stem}.tex"})
        for t in abl.tables:
            cmp = reference.compare(abl.summary(metrics), t).round(3)
            name = f"{t.replace('/', '_')}_vs_paper"
            to_latex(cmp, out / f"{name}.tex", caption=f"{t}: paper vs. ours ({abl.note()})",
                     label=f"tab:{name}", bold_best=False)
            rows.append({"table": name, "file": f"{name}.tex"})
            info = reference.table_info(t)
            metric = abl.metric if abl.metric in info["metrics"] else None
            # verdicts need the reference row's own values of the table's metric (Emotion-GCN's
            # single-task row predicts no valence, so Table III's CCC has no paired Δ against it)
            used = metric or info["metrics"][0]
            has_ref = ((abl.tidy["variant"] == first) & (abl.tidy["metric"] == used)).any()
            if len(abl.variants) < 2 or first not in reference.load_table(t).index or not has_ref:
                continue

            ver = paper_verdicts(abl.tidy, t, first, metric=metric).round(3)
            ver.attrs["note"] = f"{verdict_note(ver)}. {abl.note()}"
            name = f"{t.replace('/', '_')}_verdicts"
            to_latex(ver, out / f"{name}.tex", caption=f"{t}: each row's paired Δ vs {first} against the "
                     "paper's Δ", label=f"tab:{name}", bold_best=False)
            to_markdown(ver, out / f"{name}.md", bold_best=False)
            rows.append({"table": name, "file": f"{name}.tex"})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- figures
def sweep_figure(sweep: Sweep, metric: str | None = None, scale: float | None = None,
                 paper: Mapping[float, float] | None = None, ax=None, title: str | None = None):
    """Mean ± std (over the folds run) of ``metric`` against the swept value."""
    metric = metric or sweep.metric
    if sweep.tidy is None:
        sweep.run()
    scale = scale if scale is not None else (1.0 if sweep.paper == "svml_rgcn" else 100.0)
    param = (sweep.param if isinstance(sweep.param, str) else sweep.param[0]).split(".")[-1]
    t = sweep.tidy[sweep.tidy["metric"] == metric]
    t = t.assign(**{param: t["variant"].str.split("=").str[1].astype(float), metric: scale * t["value"]})
    return plot_sweep(t, param, metric, paper=paper, ax=ax, title=title)


def mafg_gradcam_figure(abl: Ablation, setup: NotebookSetup, variant: str = "Baseline+MAFG+CCFG",
                        targets: tuple[str, ...] = ("AU01", "AU12"), n: int = 4):
    """Li et al. Fig. 3: Grad-CAM of the MAFG attention (``model.mafg.attention``)."""
    model = result_of(abl, variant).model.eval()
    _, val = setup.data("mafg_ccfg", fold=abl.folds[0])
    batch = first_images(val, n)
    tg = [t for t in targets if t in model.label_names]
    cams = gradcam(model, batch["image"], model.mafg.attention, tg, names=model.label_names)
    return plot_gradcam_grid(batch["rgb"], cams, col_titles=["face"] + tg)


# ------------------------------------------------------------ figures scored against the truth (#45)
def _active(data: Any, batch: dict[str, Any], name: str) -> np.ndarray | None:
    """``(B,)`` 0/1 ground truth of label ``name`` in ``batch`` (an AU or an emotion), or None."""
    for attr, key in (("au_names", "au"), ("emotion_names", "emotions")):
        names = list(dataset_attr(data, attr, None) or [])
        if name in names and key in batch:
            return np.asarray(batch[key], np.float64)[:, names.index(name)]
    return None


def localisation_report(models: Mapping[str, tuple[Any, Any]], data: Any, labels: Sequence[str],
                        n: int = 48, label_names: Sequence[str] | None = None,
                        method: str = "gradcam") -> pd.DataFrame:
    """Grad-CAM of each label for each model on the first ``n`` faces of ``data``, scored against
    the generator's regions (:mod:`afg.metrics.localisation`): pointing-game hit rate and energy
    share inside the region, next to its chance level (the region's area share), over the faces
    where the label is active.

    Args:
        models: ``{name: (model, target_layer)}``; ``(model, None)`` explains the backbone's last
            stage (``model.backbone.target_layer``).
        data: synthetic held-out faces (items with ``landmarks`` and ``subject``).
        labels: AU names (``"AU01"``) or emotion names (scored on their prototype AUs' regions).
        label_names: the model's output names (default: the dataset's AU / emotion names).
        method: the CAM (:func:`afg.viz.gradcam`: ``gradcam``, ``hirescam`` …).

    Returns:
        rows ``(model, label)`` (plus ``(model, "mean")``), columns ``pointing``, ``energy``,
        ``chance``, ``n``; ``attrs["note"]``: what the columns and chance mean.
    """
    batch = first_images(data, n)
    h, w = batch["image"].shape[-2:]
    masks = au_region_masks(np.asarray(batch["landmarks"]), list(batch["subject"]), labels, (h, w),
                            landmark_size=int(dataset_attr(data, "size", w)))
    act = [_active(data, batch, lab) for lab in labels]
    active = None if any(a is None for a in act) else np.stack(act, axis=1)
    if label_names is None:  # the dataset's AU names, or its emotion names for emotion labels
        aus = list(dataset_attr(data, "au_names", None) or [])
        label_names = aus if aus and set(labels) <= set(aus) else dataset_attr(data, "emotion_names")
    names = list(label_names)
    parts = {}
    for mname, (model, layer) in models.items():
        model = model.eval()
        cams = gradcam(model, batch["image"], layer if layer is not None else model.backbone.target_layer,
                       list(labels), names=names, method=method)
        parts[mname] = localisation_table(cams, masks, list(labels), active=active)
    out = pd.concat(parts, names=["model", "label"]).drop(columns="on active")
    out["n"] = out["n"].astype(int)
    out.attrs["note"] = (f"{'Grad-CAM' if method == 'gradcam' else method} (raw score) on the first {len(batch['image'])} held-out faces, scored on the faces "
                         "where the label is active against the region the generator draws it in "
                         "(afg.metrics.localisation): pointing = share of maps whose maximum lies in the "
                         "region, energy = share of the map inside it; chance = the region's area share "
                         "(what a uniform map or a random point scores).")
    return out


def graph_report(graphs: Mapping[str, Any], train_labels: Any, profile: str | None = None,
                 truth_labels: Any = None, n_perm: int = 2000) -> pd.DataFrame:
    """Learned label graphs against the true label structure (:mod:`afg.metrics.graph_agreement`):
    Spearman correlation of each graph's off-diagonal entries with the training labels' empirical
    ``P(j | i)`` and with the generator's (``profile``'s fitted statistics, or the conditionals of
    ``truth_labels``, a large fresh sample), next to the node-relabelling baseline."""
    truths = {"training labels P(j|i)": cooccurrence_probabilities(np.asarray(train_labels))}
    if profile is not None:
        truths["generator P(j|i)"] = generator_conditionals(profile)
    elif truth_labels is not None:
        truths["generator P(j|i) (fresh sample)"] = cooccurrence_probabilities(np.asarray(truth_labels))
    mats = {k: np.asarray(v.detach().float().cpu() if hasattr(v, "detach") else v, float) for k, v in graphs.items()}
    return agreement_table(mats, truths, n_perm=n_perm)


def generator_labels(data: Any, key: str = "emotions", n_subjects: int = 300) -> np.ndarray:
    """``key`` labels of a large fresh sample from the generator that made ``data`` (same profile,
    realism and expression draw; new identities; no rendering): the label structure the generator
    samples from, up to sampling noise."""
    base = next(d for d in _bases(data) if isinstance(d, SynthFaces))
    fresh = SynthFaces(profile=base.profile, n_subjects=n_subjects, images_per_subject=base.images_per_subject,
                       size=base.size, seed=base.seed + 7919, subject_offset=10_000, realism=base.realism,
                       expression_draw=base.expression_draw)
    return dataset_labels(fresh)[key]


def _bases(data: Any):
    """``data`` and every dataset it wraps (``Subset.dataset``, ``.base``)."""
    for _ in range(10):
        yield data
        data = getattr(data, "dataset", None) or getattr(data, "base", None)
        if data is None:
            return


def cosine_report(classifiers: Any, node_names: Sequence[str], n_perm: int = 2000) -> pd.DataFrame:
    """Emotion-GCN's classifier cosine matrix against the cosine similarity of the generator's
    expression prototypes (over the emotions that have one), Spearman with the relabelling
    baseline."""
    w = np.asarray(classifiers.detach().float().cpu() if hasattr(classifiers, "detach") else classifiers, float)
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    return agreement_table({"classifier cosine": w @ w.T},
                           {"prototype cosine": prototype_similarity(list(node_names))}, n_perm=n_perm)


def au_gcn_rois_figure(setup: NotebookSetup):
    """AU-GCN's ROIs on the first training face."""
    train, _ = setup.data("au_gcn")
    face = first_images(train, 1)
    rois = roi_set(list(dataset_attr(train, "au_names")))
    return plot_rois(face["image"][0], face["landmarks"][0], rois=rois, title=f"{len(rois)} ROIs")


def au_gcn_table1_figure(threshold: float = 0.8, seed: int = 0, n_synthetic: int = 20000):
    """AU-GCN Table 1(b): the published DISFA graph next to ours (real DISFA labels when the
    reference folder is present, synthetic DISFA-profile labels otherwise)."""
    real = disfa_training_labels()
    y, src = (real[1], "real DISFA, fold 1") if real is not None else (
        sample_au_labels("disfa", n_synthetic, seed=seed), "synthetic labels")
    ours = cooccurrence_graph(y, threshold)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.2))
    plot_adjacency(TABLE1_DISFA, TABLE1_AUS["disfa"], title="Table 1(b), published", ax=axes[0])
    plot_adjacency(ours, TABLE1_AUS["disfa"], title=f"ours ({src}, h={threshold})", ax=axes[1])
    fig.matrices = {"published": TABLE1_DISFA, "ours": ours}
    return fig


def au_gcn_reconstruction_figure(abl: Ablation, setup: NotebookSetup, variant: str = "full"):
    """ROI crops and their reconstructions after AU-GCN's auto-encoder stage."""
    model = load_stage_model(result_of(abl, variant), "autoencoder")
    _, val = setup.data("au_gcn", fold=abl.folds[0])
    b = first_images(val, 1)
    with torch.no_grad():
        out = model(b["image"], landmarks=b["landmarks"], return_intermediates=True)
    return plot_roi_reconstructions(out["roi_target"][0], out["roi_recon"][0], model.rois.names)


def emotion_adjacency_figure(setup: NotebookSetup, tau: float = 0.1, p: float = 0.7):
    """Emotion-GCN Fig. 3: Spearman matrix of the fold-1 training labels (and the released AffectNet
    matrix when the reference folder is present) and the adjacency Â built from it (Eq. 3–6)."""
    train, _ = setup.data("emotion_gcn")
    st = training_statistics(train)
    mats = {"Spearman (ours)": spearman_matrix(st["expressions"], st["va"][:, 0], st["va"][:, 1], num_classes=7)}
    ref = reference_dir()
    if ref is not None and (ref / "emotion_gcn" / "spearman_affectnet.csv").exists():
        mats["Spearman (AffectNet)"] = pd.read_csv(ref / "emotion_gcn" / "spearman_affectnet.csv", index_col=0).to_numpy()
    mats.update({f"Â {k.split('(')[1][:-1]}": emotion_adjacency(v, tau, p) for k, v in list(mats.items())})
    fig, axes = plt.subplots(1, len(mats), figsize=(3.4 * len(mats), 3.2))
    for ax, (title, m) in zip(np.atleast_1d(axes), mats.items()):
        plot_adjacency(m, EMOTION_GCN_NODES, signed="Spearman" in title, title=title, ax=ax, annotate=False)
    fig.matrices = mats
    return fig


def _expression_names(abl: Ablation) -> list[str]:
    r = abl.results[0][3]
    names = getattr(r.model, "expression_names", None) or getattr(r.model, "label_names", None)
    return list(names) if names else list(AFFECTNET_EXPRESSIONS)


def emotion_confusion_figure(abl: Ablation, variants: tuple[str, ...] = ("multi_task_ccc", "emotion_gcn")):
    """Emotion-GCN Fig. 4: row-normalised confusion matrices (validation set of the first fold)."""
    names = _expression_names(abl)
    variants = tuple(v for v in variants if v in abl.variants)
    fig, axes = plt.subplots(1, len(variants), figsize=(3.7 * len(variants), 3.3), squeeze=False)
    for ax, v in zip(axes[0], variants):
        pr = predictions(result_of(abl, v))
        cm = expression_confusion_matrix(pr["labels"]["expression"], pr["preds"]["expression"], num_classes=len(names))
        plot_confusion_matrix(cm, names, title=f"{v} (acc {100 * pr['metrics']['accuracy']:.1f}%)", ax=ax)
    return fig


def emotion_cosine_figure(abl: Ablation, variants: tuple[str, ...] = ("multi_task_ccc", "emotion_gcn")):
    """Emotion-GCN Fig. 6: cosine similarity of the learned classifiers and V/A regressors."""
    names = _expression_names(abl) + ["Valence", "Arousal"]
    vecs = {v: result_of(abl, v).model.classifier_vectors() for v in variants if v in abl.variants}
    return plot_cosine_similarity(vecs, names)


def svml_relations_figure(setup: NotebookSetup):
    """SVML-RGCN Fig. 1: P_ij (Eq. 3) and the signed positive − negative relations (Eq. 4)."""
    train, _ = setup.data("svml_rgcn")
    y = training_statistics(train)["emotion_labels"]
    base = setup.config("svml_rgcn").model
    names = list(getattr(train, "emotion_names", None) or train.dataset.emotion_names)
    rel = label_relations(y, base["t1"], base["t2"])
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.2))
    plot_adjacency(cooccurrence_probabilities(y), names, title="$P_{ij}$ (Eq. 3)", ax=axes[0])
    plot_adjacency(rel["positive"] - rel["negative"], names, signed=True,
                   title=f"relations, t1={base['t1']}, t2={base['t2']}", ax=axes[1])
    return fig


def svml_gradcam_figure(abl: Ablation, setup: NotebookSetup, variants: tuple[str, ...] = ("baseline", "svml_rgcn"),
                        n: int = 3, n_targets: int = 3):
    """SVML-RGCN Fig. 7: Grad-CAM of the last backbone stage, baseline vs. SVML-RGCN."""
    _, val = setup.data("svml_rgcn", fold=abl.folds[0])
    names = list(getattr(val, "emotion_names", None) or val.dataset.emotion_names)
    batch = first_images(val, n)
    show = names[:n_targets]
    variants = tuple(v for v in variants if v in abl.variants)
    cams, titles = [], ["face"]
    for v in variants:
        m = result_of(abl, v).model.eval()
        cams.append(gradcam(m, batch["image"], m.backbone.target_layer, show, names=names))
        titles += [f"{v}: {s}" for s in show]
    return plot_gradcam_grid(batch["rgb"], np.concatenate(cams, axis=1), col_titles=titles)
