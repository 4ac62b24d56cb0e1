"""The README's gallery: five small PNGs of what the notebooks draw, and a caption file.

:func:`write_gallery` draws, from the runs of a :class:`~afg.papers.notebook_setup.NotebookSetup`
on synthetic faces:

* ``knn_node_graph.png`` — ME-GraphAU's K-NN node graphs of a few held-out faces (its Fig. 4),
* ``adjacency_heatmap.png`` — a learned graph (how often AU j is among AU i's K nearest neighbours
  in ME-GraphAU's face-specific graphs) next to a constructed one (Emotion-GCN's Â, Eq. 3–6),
* ``gradcam_grid.png`` — Grad-CAM of three AUs on the same faces (ME-GraphAU, last backbone stage),
* ``classifier_cosine.png`` — cosine similarity of the classifiers Emotion-GCN's GCN generates
  (its Fig. 6),
* ``verdict_table.png`` — ME-GraphAU Table 3 (notebook 02): each row's paired Δ F1 [95 % CI]
  against the backbone row next to the paper's Δ, with the verdict,

and ``README.md`` saying which runs each came from (mode, folds, seeds, epochs, afg and synthetic
generator versions, run folders). The models come from the run cache through the notebooks' own
configs — ME-GraphAU's Table 3 ablation of notebook 02 (:class:`StageAblation` over the setup's
folds) and the ``emotion_gcn`` row of notebook 05's Table I on the image fold — so after those
notebooks nothing is trained; what is missing is trained.

Where it writes: ``folder=None`` is the repository's ``docs/gallery`` for the synthetic default mode
(what the README shows) and ``<figures dir>/gallery`` in quick mode; a quick run never writes into
``docs/gallery`` (:func:`gallery_folder`), so a smoke test cannot replace the committed pictures.
"""
from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Subset

from .. import __version__, reference
from ..data import synth
from ..data.build import build_data
from ..data.stats import dataset_labels
from ..docs import mark, record
from ..experiments.analysis import (
    paper_verdicts,
    recorded_seconds,
    resolution_note,
    verdict_note,
)
from ..metrics.expression import fig6_structure
from ..utils import atomic_write_bytes, atomic_write_text
from ..viz import gradcam, plot_adjacency, plot_cosine_similarity, plot_gradcam_grid, plot_knn_graph
from ..viz.export import figures_dir
from ..viz.tables import plot_table
from .figures import cosine_report, graph_report, localisation_report
from .me_graphau_table3 import StageAblation, me_graphau_config, table3_variants
from .notebook_setup import CONFIGS_DIR, NotebookSetup
from .results import dataset_attr, first_images, label_names, model_for

__all__ = ["DOCS_GALLERY", "GALLERY_FILES", "gallery_folder", "write_gallery", "write_png"]

#: the committed gallery the README links to
DOCS_GALLERY = CONFIGS_DIR.parent / "docs" / "gallery"
#: Table 3's reference row and the row whose model is drawn (the full ME-GraphAU)
_REFERENCE_ROW, _FULL_ROW = "Backbone (WBCE)", "+AFG+FGG+MEFL, L_WA+L_E"


def gallery_folder(setup: NotebookSetup, folder: str | os.PathLike | None = None) -> Path:
    """Where :func:`write_gallery` writes: ``folder``, else :data:`DOCS_GALLERY` in the synthetic
    default mode and ``<figures dir>/gallery`` otherwise. Raises ``ValueError`` when a quick run
    would write into :data:`DOCS_GALLERY` (quick models have learned nothing)."""
    if folder is None:
        return figures_dir() / "gallery" if setup.quick else DOCS_GALLERY
    out = Path(folder)
    if setup.quick and out.resolve() == DOCS_GALLERY.resolve():
        raise ValueError(f"a QUICK run would overwrite the committed gallery {DOCS_GALLERY}; "
                         "pass another folder (or folder=None: <figures dir>/gallery)")
    return out


def write_png(fig, path: str | os.PathLike, dpi: int = 110, max_bytes: int = 150_000) -> Path:
    """Save ``fig`` as a small PNG: rendered at ``dpi``, reduced to a 256-colour palette (median
    cut, no dithering: figures have few colours) and, while the file exceeds ``max_bytes``,
    rendered again at ×0.85 the resolution (down to 50 dpi; a warning if still too large). Written
    to a temporary name and renamed; no software/version metadata, so an unchanged figure gives an
    unchanged file. Closes ``fig``."""
    d = float(dpi)
    while True:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=d, bbox_inches="tight", facecolor="white")
        rgba = Image.open(io.BytesIO(buf.getvalue())).convert("RGBA")
        rgb = Image.new("RGB", rgba.size, "white")
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        small = rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        small.save(buf, format="PNG", optimize=True)
        data = buf.getvalue()
        if len(data) <= max_bytes or d * 0.85 < 50:
            break
        d *= 0.85
    plt.close(fig)
    if len(data) > max_bytes:
        warnings.warn(f"{path.name}: {len(data)} bytes at {d:.0f} dpi, above {max_bytes}", stacklevel=2)
    return atomic_write_bytes(path, data)


def _table3(setup: NotebookSetup, fold: int, seeds: Sequence[int] | None, root: Any):
    """Notebook 02's Table 3 ablation over the setup's folds (plus ``fold``), run or fetched."""
    cfg = me_graphau_config(setup)
    variants = table3_variants(cfg, stage2_lr=cfg.recipe.optimizer.lr)
    folds = sorted(set(setup.fold_list("me_graphau")) | {int(fold)})
    abl = StageAblation(cfg, variants, folds=folds, seeds=list(seeds) if seeds is not None else None,
                        root=root)
    abl.run()
    return abl


def _emotion_gcn(setup: NotebookSetup, fold: int, root: Any):
    """The ``emotion_gcn`` row of notebook 05's Table I on ``fold`` (one cached run)."""
    row = {"emotion_gcn": reference.variants("emotion_gcn/table1")["emotion_gcn"]}
    abl = setup.ablation("emotion_gcn", row, folds=[int(fold)], root=root)
    abl.run(load_model=True)
    return abl.results[0][3]


def _one_face_per_subject(data, n: int):
    """The first face of each of the first ``n`` subjects of ``data`` (fewer subjects: the first
    ``n`` faces), as a ``Subset``."""
    picked, seen = [], set()
    for i in range(len(data)):
        s = data[i]["subject"]
        if s not in seen:
            seen.add(s)
            picked.append(i)
            if len(picked) == n:
                return Subset(data, picked)
    return Subset(data, list(range(min(n, len(data)))))


def _image_run(abl, variant: str, fold: int, seed: int):
    for name, f, s, r in abl.results:
        if name == variant and f == fold and s in (None, seed):
            return r
    raise KeyError(f"{variant!r} fold {fold} seed {seed} was not run")


def _verdict_table(abl) -> tuple[Any, str, Any]:
    """Table 3 in the paper's row order: our F1, paired Δ [95 % CI] vs the backbone row, the
    paper's F1 and Δ (ResNet-50), the verdict; the note under it; the verdicts
    (:func:`~afg.experiments.analysis.paper_verdicts`)."""
    ours = abl.table(["f1_mean"], reference=_REFERENCE_ROW)
    ver = paper_verdicts(abl.tidy, "me_graphau/table3", _REFERENCE_ROW, column="ResNet-50")
    paper = reference.load_table("me_graphau/table3")["ResNet-50"]
    delta_col = next(c for c in ours.columns if c.startswith("Δ"))
    out = pd.DataFrame(index=ours.index)
    out["F1 ours (%)"] = ours["f1_mean"]
    out["Δ ours [95 % CI]"] = ours[delta_col]
    out["F1 paper"] = [f"{paper.get(v, np.nan):.1f}" for v in out.index]
    out["Δ paper"] = ["" if v == _REFERENCE_ROW else f"{ver.loc[v, 'Δ paper']:+.1f}" for v in out.index]
    out["verdict"] = ["reference" if v == _REFERENCE_ROW else ver.loc[v, "verdict"] for v in out.index]
    out["magnitude"] = ["" if v == _REFERENCE_ROW else ver.loc[v, "magnitude"] for v in out.index]
    out["pairs for Δ paper"] = ["" if v == _REFERENCE_ROW else _pairs(ver.loc[v, "pairs needed (Δ paper)"])
                                for v in out.index]
    out.index.name = "Table 3 row"
    cost = resolution_note(ver, recorded_seconds(abl))
    return out, f"{verdict_note(ver)}. {cost} {ours.attrs['note']}.", ver


def _pairs(v: float) -> str:
    return "–" if np.isnan(v) else "∞" if np.isinf(v) else str(int(v))


def _scores(setup: NotebookSetup, abl, me_model, emo_model, fold: int, train, val, aus, knn_freq,
            root) -> dict[str, str]:
    """One caption sentence per scored figure: Grad-CAM localisation (ME-GraphAU and the plain
    backbone row) against chance, the K-NN frequency ``knn_freq`` and the classifier cosines
    against the truth with their baselines (:mod:`afg.metrics.localisation`,
    :mod:`afg.metrics.graph_agreement`)."""
    plain = model_for(_image_run(abl, _REFERENCE_ROW, fold, setup.seed), root)
    loc = localisation_report({"ME-GraphAU": (me_model, None), "plain backbone": (plain, None)}, val, aus, n=48)
    cam = "; ".join(f"{m}: " + ", ".join(f"{a} {loc.loc[(m, a), 'pointing']:.2f} / {loc.loc[(m, a), 'energy']:.2f} "
                                         f"(chance {loc.loc[(m, a), 'chance']:.2f})" for a in aus)
                    for m in ("ME-GraphAU", "plain backbone"))
    g = graph_report({"knn": knn_freq}, dataset_labels(train)["au"], profile=dataset_attr(val, "profile"))
    graph = "; ".join(f"vs {t}: Spearman r = {g.loc[('knn', t), 'r']:.2f} (nodes relabelled at random: 95 % "
                      f"of r below {g.loc[('knn', t), 'null 95 %']:.2f}, p = {g.loc[('knn', t), 'p']:.3f})"
                      for t in g.index.get_level_values(1))
    c = cosine_report(emo_model.classifier_vectors(), emo_model.node_names).iloc[0]
    cos = (f"Spearman r = {c['r']:.2f} with the cosine similarity of the generator's expression prototypes "
           f"(nodes relabelled at random: 95 % below {c['null 95 %']:.2f}, p = {c['p']:.3f})")
    return {"cam": ("Scored on up to 48 held-out faces where the AU is active (pointing-game hit rate / energy "
                    f"share inside the generator's region; chance = the region's area share): {cam}."),
            "graph": f"The K-NN frequency against the true label structure, {graph}.",
            "cosine": f"Against the truth: {cos}."}


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' * (int(n) != 1)}"


def _describe_runs(results) -> str:
    return ", ".join(f"`{r.run_dir.name}`" for r in results)


def _record(setup: NotebookSetup, abl, ver, note: str, emo, emo_model,
            seeds: Sequence[int] | None, scores: dict[str, str]) -> dict[str, Any]:
    """The numbers the caption file quotes, as ``docs/results/gallery.json`` (default mode only:
    :func:`afg.docs.record`); returns them (the caption renders them through :func:`afg.docs.mark`)."""
    fig6 = fig6_structure(emo_model.classifier_vectors(), emo_model.node_names)
    lo, med, hi = fig6["classifier_cos"]
    data = {"table3": {**{k: int(v) for k, v in ver.attrs["counts"].items()}, "pairs": int(ver.attrs["n_pairs"]),
                       "kendall_tau": round(float(ver.attrs["kendall_tau"]), 2), "runs": len(abl.results),
                       "note": note},
            "emotion_gcn": {"accuracy": round(100 * float(emo.metrics["accuracy"]), 1),
                            "cos_min": round(lo, 2), "cos_median": round(med, 2), "cos_max": round(hi, 2),
                            "valence_nearest": fig6["valence_nearest"],
                            "valence_happy_rank": fig6["valence_happy_rank"],
                            "arousal_high": round(fig6["arousal_high"], 2), "arousal_rest": round(fig6["arousal_rest"], 2)},
            "runs": {"me_graphau": [r.run_dir.name for *_, r in abl.results], "emotion_gcn": emo.run_dir.name},
            "seeds": list(seeds) if seeds is not None else [setup.seed],
            "scores": scores}  # the figures scored against the generator's truth (_scores)
    if setup.synthetic and not setup.quick:
        record("gallery", data, command="jupyter execute notebooks/08_paper_figures.ipynb (QUICK=False): "
               "afg.papers.gallery.write_gallery", precision=emo.precision)
    return data


def write_gallery(setup: NotebookSetup, folder: str | os.PathLike | None = None, *, fold: int = 1,
                  seeds: Sequence[int] | None = None, root: str | os.PathLike | None = None,
                  n_faces: int = 3, aus: Sequence[str] = ("AU01", "AU12", "AU25"), dpi: int = 110,
                  max_bytes: int = 150_000) -> dict[str, Path]:
    """Draw the five gallery PNGs (:data:`_PANELS`, in order) and their caption file ``README.md``;
    returns ``{file: path}``.

    Args:
        setup: a synthetic :class:`NotebookSetup` (quick or default).
        folder: where to write (default: :func:`gallery_folder`).
        fold: the fold whose models and held-out faces are drawn.
        seeds: Table 3's seeds (default: the setup's seed only, as notebook 02 runs it); the
            verdict intervals rest on folds × seeds paired runs. Must include the setup's seed,
            whose runs are drawn.
        root: the run cache (default ``$AFG_RUNS_DIR`` or ``./runs``).
        n_faces: held-out faces in the K-NN and Grad-CAM figures.
        aus: the AUs explained by Grad-CAM.
        dpi, max_bytes: resolution of each PNG, lowered until the file fits in ``max_bytes``.
    """
    if not setup.synthetic:
        raise ValueError("the gallery is drawn from the synthetic runs (DATASET='synthetic')")
    if seeds is not None and setup.seed not in seeds:
        raise ValueError(f"seeds {list(seeds)} must include the setup's seed {setup.seed} (its runs are drawn)")
    out = gallery_folder(setup, folder)
    out.mkdir(parents=True, exist_ok=True)
    g = _gallery_inputs(setup, fold, seeds, root, n_faces, aus)
    files = {p.file: write_png(p.draw(g), out / p.file, dpi, max_bytes) for p in _PANELS}
    files["README.md"] = atomic_write_text(out / "README.md", "\n".join(
        [*_caption_head(g), *(p.caption(g) for p in _PANELS), ""]))
    return files


@dataclass
class _Inputs:
    """What the panels draw from: the runs (Table 3's ablation ``abl``, its full-model run ``me``,
    Emotion-GCN's ``emo``) and their models, the fold's held-out faces ``val`` with the drawn
    ``batch``, the model's outputs on them (``o`` on the batch, ``o_all`` on every face), and
    ``results`` (the recorded numbers, filled by the verdict panel, which draws last)."""

    setup: NotebookSetup
    fold: int
    seeds: Sequence[int] | None
    root: Any
    abl: Any
    me: Any
    emo: Any
    model: Any
    emo_model: Any
    train: Any
    val: Any
    au_names: list[str]
    batch: dict[str, Any]
    k: int
    o: dict[str, torch.Tensor]
    o_all: dict[str, torch.Tensor]
    shown: list[str]
    graph: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _gallery_inputs(setup: NotebookSetup, fold: int, seeds: Sequence[int] | None, root: Any, n_faces: int,
                    aus: Sequence[str]) -> _Inputs:
    """Runs from the cache (trained when missing), their models and the model's outputs on the
    fold's held-out faces."""
    abl = _table3(setup, fold, seeds, root)
    me = _image_run(abl, _FULL_ROW, fold, setup.seed)
    emo = _emotion_gcn(setup, fold, root)
    model, emo_model = model_for(me, root), model_for(emo, root)
    train, val = build_data(me.config.data)
    au_names = label_names(val)
    batch = first_images(_one_face_per_subject(val, n_faces), n_faces)
    with torch.no_grad():
        o = model(batch["image"], return_intermediates=True)
        o_all = model(torch.stack([val[i]["image"] for i in range(len(val))]), return_intermediates=True)
    graph = {"graph": "paper", **{k: v for k, v in emo.config.model.items() if k in ("graph", "tau", "p")}}
    return _Inputs(setup, fold, seeds, root, abl, me, emo, model, emo_model, train, val, au_names, batch,
                   int(me.config.model["neighbor_num"]), o, o_all, [a for a in aus if a in au_names] or au_names[:3],
                   graph)


def _draw_knn(g: _Inputs):
    titles = [f"{s}: {', '.join(a for a, y in zip(g.au_names, lab) if y > 0.5) or 'no AU'}"
              for s, lab in zip(g.batch["subject"], g.batch["au"].numpy())]
    fig = plot_knn_graph(g.o["nodes"], g.k, activations=g.o["au"], names=g.au_names, images=g.batch["rgb"],
                         titles=titles, ax_size=1.9)
    fig.suptitle(f"ME-GraphAU K-NN node graphs (K={g.k}), held-out faces", fontsize=8)
    return fig


def _caption_knn(g: _Inputs) -> str:
    stages = g.me.config.recipe.stages
    me_epochs = _epochs(stages[-1].epochs if stages else g.me.config.recipe.epochs)
    return (f"* `knn_node_graph.png` — ME-GraphAU (Table 3 row *{_FULL_ROW}*: stage 2, {me_epochs}, initialised "
            f"from the same fold's row-4 stage-1 run), each AU node linked to its K={g.k} nearest neighbours "
            f"(ME-GraphAU Fig. 4); node colour = predicted probability, orange rim = predicted active. "
            f"Run {_describe_runs([g.me])}.")


def _draw_adjacency(g: _Inputs):
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6))
    plot_adjacency(g.o_all["adjacency"].float().mean(0), g.au_names, ax=axes[0], fmt=".2f",
                   title=f"learned: ME-GraphAU K-NN frequency (K={g.k})")
    plot_adjacency(g.emo_model.adjacency, g.emo_model.node_names, ax=axes[1], fmt=".2f",
                   title=f"constructed: Emotion-GCN Â (τ={g.graph['tau']}, p={g.graph['p']})")
    fig.tight_layout()
    return fig


def _caption_adjacency(g: _Inputs) -> str:
    return (f"* `adjacency_heatmap.png` — left: how often AU j is among AU i's {g.k} nearest neighbours in that "
            f"model's face-specific graphs, averaged over the {len(g.val)} held-out faces; right: Emotion-GCN's "
            f"Â ({g.graph['graph']} graph of Eq. 3–6, τ={g.graph['tau']}, p={g.graph['p']}), built from the "
            f"Spearman correlations of its training labels. Runs {_describe_runs([g.me, g.emo])}. "
            + mark("gallery", "scores.graph", g.results["scores"]["graph"]))


def _draw_gradcam(g: _Inputs):
    cams = gradcam(g.model, g.batch["image"], g.model.backbone.target_layer, g.shown, names=g.au_names)
    fig = plot_gradcam_grid(g.batch["rgb"], cams, row_titles=list(g.batch["subject"]),
                            col_titles=["face"] + g.shown, ax_size=1.3)
    fig.suptitle("Grad-CAM per AU (ME-GraphAU, last backbone stage)", fontsize=7)
    fig.tight_layout()
    return fig


def _caption_gradcam(g: _Inputs) -> str:
    return (f"* `gradcam_grid.png` — Grad-CAM of {', '.join(g.shown)} (raw scores) at the last backbone stage of "
            f"the same ME-GraphAU model, on the same faces. Run {_describe_runs([g.me])}. "
            + mark("gallery", "scores.cam", g.results["scores"]["cam"]))


def _draw_cosine(g: _Inputs):
    return plot_cosine_similarity({"Emotion-GCN: generated classifiers": g.emo_model.classifier_vectors()},
                                  g.emo_model.node_names, ax_size=3.6)


def _caption_cosine(g: _Inputs) -> str:
    e = g.results["emotion_gcn"]
    return (f"* `classifier_cosine.png` — cosine similarity of the 7 expression classifiers and the 2 "
            f"valence/arousal regressors that Emotion-GCN's GCN generates from the label graph (its Fig. 6); "
            f"`emotion_gcn` row of Table I, fold {g.fold}, {_epochs(g.emo.config.recipe.epochs)}, held-out accuracy "
            f"{mark('gallery', 'emotion_gcn.accuracy', e['accuracy'], '.1f')} %; pairwise "
            f"cosine of the classifiers {mark('gallery', 'emotion_gcn.cos_min', e['cos_min'], '+.2f')} "
            f"to {mark('gallery', 'emotion_gcn.cos_max', e['cos_max'], '+.2f')}; the valence "
            f"regressor's nearest classifier: {mark('gallery', 'emotion_gcn.valence_nearest', e['valence_nearest'])}. "
            f"Run {_describe_runs([g.emo])}. " + mark("gallery", "scores.cosine", g.results["scores"]["cosine"]))


def _draw_verdicts(g: _Inputs):
    """Scores the figures against the generator's truth and records the gallery's numbers
    (:func:`_record`) before drawing Table 3's verdicts: the captions quote both."""
    scores = _scores(g.setup, g.abl, g.model, g.emo_model, g.fold, g.train, g.val, g.shown,
                     g.o_all["adjacency"].float().mean(0), g.root)
    table, g.note, ver = _verdict_table(g.abl)
    g.results = _record(g.setup, g.abl, ver, g.note, g.emo, g.emo_model, g.seeds, scores)
    return plot_table(table, title="ME-GraphAU Table 3 on synthetic faces: paired Δ F1 vs the backbone row",
                      note=g.note)


def _caption_verdicts(g: _Inputs) -> str:
    seed_list = list(g.seeds) if g.seeds is not None else [g.setup.seed]
    return (f"* `verdict_table.png` — ME-GraphAU Table 3 (notebook 02's configs) over folds {g.abl.folds} × "
            f"seeds {seed_list} ({len(g.abl.results)} runs): mean ± std F1, each row's paired Δ F1 [95 % CI] "
            "against *Backbone (WBCE)*, the paper's ResNet-50 column (BP4D) and its Δ, and the verdict "
            "(reproduced: same sign and our interval excludes 0; contradicted: opposite sign, interval "
            "excludes 0; unresolved: interval includes 0). " + mark("gallery", "table3.note", g.note))


def _caption_head(g: _Inputs) -> list[str]:
    """The caption file's title and the paragraph on the runs and the faces."""
    s = g.setup
    head = (f"mode **{s.mode}** (`QUICK={s.quick}`), afg {__version__}, synthetic generator "
            f"v{getattr(synth, 'GENERATOR_VERSION', '?')}, device {s.resolved_device}, backbone init "
            f"`{g.me.config.model.get('weights') or 'random'}`, forward passes in {g.me.precision}")
    return [
        "# Gallery",
        "",
        "Written by `afg.papers.gallery.write_gallery` (notebook 08, section *Gallery for the "
        "README*) from the run cache; do not edit by hand — rerun notebook 08 with `QUICK=False`. "
        "Its numbers render from `docs/results/gallery.json`, which the same call writes (`python -m afg.docs`).",
        "",
        f"Runs: {head}. Pictures: fold {g.fold}, seed {s.seed}, the first face of each of "
        f"{len(set(g.batch['subject']))} of the fold's held-out identities ({len(g.val)} faces, "
        f"{g.me.config.data.size} px).",
        "",
    ]


@dataclass(frozen=True)
class _Panel:
    """One gallery picture: its file, the function that draws it and the one that captions it."""

    file: str
    draw: Callable[[_Inputs], Any]
    caption: Callable[[_Inputs], str]


#: the gallery's pictures, in the README's order (the verdict panel records the numbers that the
#: captions quote, so every caption is written after every panel is drawn)
_PANELS: tuple[_Panel, ...] = (
    _Panel("knn_node_graph.png", _draw_knn, _caption_knn),
    _Panel("adjacency_heatmap.png", _draw_adjacency, _caption_adjacency),
    _Panel("gradcam_grid.png", _draw_gradcam, _caption_gradcam),
    _Panel("classifier_cosine.png", _draw_cosine, _caption_cosine),
    _Panel("verdict_table.png", _draw_verdicts, _caption_verdicts),
)
#: the files :func:`write_gallery` writes, in the README's order
GALLERY_FILES: tuple[str, ...] = (*(p.file for p in _PANELS), "README.md")
