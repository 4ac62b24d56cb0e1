"""Result figures: classifier cosine similarity, confusion matrices, per-AU F1 bars, sweeps, AU
occurrence rates."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch  # noqa: F401  (tensors accepted everywhere)

from ..metrics import cosine_similarity_matrix
from ._common import square_heatmap_axes, to_numpy

__all__ = ["plot_au_f1", "plot_confusion_matrix", "plot_cosine_similarity", "plot_label_rates", "plot_sweep"]


def _np(x) -> np.ndarray:
    return to_numpy(x).astype(float)


def plot_cosine_similarity(vectors, names: Sequence[str] | None = None, annotate: bool = True,
                           ax_size: float = 2.8):
    """Emotion-GCN Fig. 6: cosine similarity between learned classifier/regressor vectors.

    Args:
        vectors: ``(K, D)`` array, or a mapping ``{model name: (K, D)}`` drawn side by side
            with one shared colour scale ([-1, 1]).
        names: the K row names (expressions, then Valence/Arousal).

    ``fig.matrices`` holds the plotted similarity matrices.
    """
    # local: seaborn takes a second to import; only these figures need it
    import seaborn as sns

    groups = dict(vectors) if isinstance(vectors, Mapping) else {"": vectors}
    mats = {k: _np(cosine_similarity_matrix(_np(v))) for k, v in groups.items()}
    fig, axes = plt.subplots(1, len(mats), figsize=(ax_size * len(mats) + 0.6, ax_size), squeeze=False)
    for ax, (title, m) in zip(axes[0], mats.items()):
        k = m.shape[0]
        labels = list(names) if names is not None else [str(i) for i in range(k)]
        sns.heatmap(m, vmin=-1, vmax=1, center=0, cmap="RdBu_r", square=True, annot=annotate,
                    fmt=".2f", annot_kws={"fontsize": 5}, xticklabels=labels, yticklabels=labels,
                    ax=ax, cbar=ax is axes[0, -1])
        ax.set_title(title)
    fig.matrices = mats
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm, names: Sequence[str] | None = None, normalize: bool = True,
                          title: str | None = None, ax=None):
    """Row-normalised confusion matrix (true rows, predicted columns)."""
    # local: seaborn takes a second to import; only these figures need it
    import seaborn as sns

    m = _np(cm)
    if normalize:
        m = m / np.maximum(m.sum(1, keepdims=True), 1e-12)
    k = m.shape[0]
    fig, ax, labels = square_heatmap_axes(k, names, ax, (0.45, 0.42), (1.5, 1.0))
    sns.heatmap(m, annot=True, fmt=".2f" if normalize else "g", cmap="Blues", vmin=0,
                vmax=1 if normalize else None, square=True, xticklabels=labels, yticklabels=labels,
                ax=ax, annot_kws={"fontsize": 6})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.matrix = m
    fig.tight_layout()
    return fig


def plot_au_f1(scores: Mapping[str, Sequence[float]] | pd.DataFrame, au_names: Sequence[str] | None = None,
               paper: Mapping[str, Sequence[float]] | None = None, title: str | None = None):
    """Grouped per-AU F1 bars (one group per AU, one bar per model); published numbers from
    ``paper`` (``{row name: per-AU values}``) are overlaid as markers.

    ``scores`` is ``{model: per-AU F1}`` or a DataFrame with AUs as columns and models as rows.
    F1 values may be in [0, 1] or percent; they are shown as percent.
    """
    df = scores if isinstance(scores, pd.DataFrame) else pd.DataFrame(scores).T
    if au_names is not None:
        df.columns = list(au_names)
    vals = df.to_numpy(dtype=float)
    if np.nanmax(vals) <= 1.0:
        vals = vals * 100
    n_models, n_au = vals.shape
    fig, ax = plt.subplots(figsize=(max(3.5, 0.55 * n_au + 1.2), 2.4))
    width = 0.8 / n_models
    x = np.arange(n_au)
    for i, name in enumerate(df.index):
        ax.bar(x + (i - (n_models - 1) / 2) * width, vals[i], width, label=str(name))
    if paper:
        markers = ["*", "D", "^", "v"]
        for m, (name, row) in enumerate(paper.items()):
            row = np.asarray(row, dtype=float)
            row = row * 100 if np.nanmax(row) <= 1 else row
            ax.scatter(x[: len(row)], row, marker=markers[m % 4], color="k", s=18, zorder=3,
                       label=f"paper: {name}")
    ax.set_xticks(x)
    ax.set_xticklabels(list(df.columns), rotation=45, ha="right")
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6, ncol=2, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_sweep(df: pd.DataFrame, param: str, metric: str = "value", group: str | None = None,
               paper: Mapping[float, float] | None = None, title: str | None = None, ax=None):
    """Sweep curve (K, τ, p, t1/t2, layers): mean ± std over folds as a band.

    ``df`` is tidy: one row per (param value, fold[, group]) with the metric in column ``metric``.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.3, 2.3))
    else:
        fig = ax.figure
    groups = [(None, df)] if group is None else list(df.groupby(group))
    for name, sub in groups:
        agg = sub.groupby(param)[metric].agg(["mean", "std"]).sort_index()
        xs = agg.index.to_numpy(dtype=float)
        mu = agg["mean"].to_numpy(dtype=float)
        sd = np.nan_to_num(agg["std"].to_numpy(dtype=float))
        line, = ax.plot(xs, mu, marker="o", label=str(name) if name is not None else "ours")
        ax.fill_between(xs, mu - sd, mu + sd, alpha=0.2, color=line.get_color())
    if paper:
        px = np.array(sorted(paper), dtype=float)
        ax.plot(px, [paper[k] for k in sorted(paper)], "k--", marker="*", label="paper")
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.legend(fontsize=6, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_label_rates(rates: Mapping[str, Sequence[float]], names: Sequence[str], title: str | None = None):
    """Grouped bars of AU occurrence rates (``{source: (N,)}`` fractions), e.g. synthetic vs real."""
    fig, ax = plt.subplots(figsize=(max(3.5, 0.45 * len(names) + 1.2), 2.3))
    width = 0.8 / len(rates)
    x = np.arange(len(names))
    for i, (src, r) in enumerate(rates.items()):
        ax.bar(x + (i - (len(rates) - 1) / 2) * width, np.asarray(r, float) * 100, width, label=src)
    ax.set_xticks(x)
    ax.set_xticklabels(list(names), rotation=45, ha="right")
    ax.set_ylabel("occurrence (%)")
    ax.legend(fontsize=6, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
