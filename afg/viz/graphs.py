"""Graph figures: K-NN node graphs (ME-GraphAU Fig. 4) and adjacency heatmaps.

Every function takes arrays/tensors and returns a matplotlib Figure; export with
:func:`afg.viz.save_figure`.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import torch

__all__ = ["knn_edges", "plot_adjacency", "plot_cooccurrence", "plot_knn_graph"]


from ..data.stats import conditional_probabilities
from ..graphs.knn import knn_adjacency
from ._common import square_heatmap_axes
from ._common import to_numpy as _np


def knn_edges(node_features, k: int, metric: str = "dots") -> np.ndarray:
    """The 0/1 ``(N, N)`` K-NN adjacency the models use (row i → its K most similar nodes).

    Delegates to :func:`afg.graphs.knn.knn_adjacency` so figures show exactly the model's graph
    (same similarity, same tie rule).
    """
    x = node_features if isinstance(node_features, torch.Tensor) else torch.as_tensor(node_features)
    x = x.float()
    squeeze = x.dim() == 2
    if squeeze:
        x = x.unsqueeze(0)
    a = knn_adjacency(x, k, metric)
    return _np(a[0] if squeeze else a)


def _circle_layout(n: int) -> dict[int, tuple[float, float]]:
    # Fixed circular layout (stable across calls and faces), first node at 12 o'clock.
    ang = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return {i: (float(np.cos(a)), float(np.sin(a))) for i, a in enumerate(ang)}


def plot_knn_graph(
    node_features,
    k: int,
    activations=None,
    names: Sequence[str] | None = None,
    metric: str = "dots",
    images=None,
    titles: Sequence[str] | None = None,
    threshold: float = 0.5,
    ax_size: float = 2.6,
):
    """ME-GraphAU Fig. 4: each AU node linked to its K nearest neighbours.

    Args:
        node_features: ``(N, C)`` for one face or ``(F, N, C)`` for several faces side by side.
        k: neighbours per node (the model's ``neighbor_num``).
        activations: ``(N,)`` / ``(F, N)`` predicted probabilities or 0/1 labels; node colour and
            size follow them (active ≥ ``threshold`` drawn in the accent colour).
        names: AU names (``AU01``…); default ``0..N-1``.
        metric: similarity used by the model (``dots``, ``cosine``, ``l1``).
        images: optional ``(F, H, W, 3)`` uint8 faces shown above their graphs.
        titles: one per face.

    The layout is a fixed circle in AU order, so graphs of different faces are comparable.
    Returns the Figure; ``fig.graphs`` holds the networkx DiGraphs (edges i→j).
    """
    feats = _np(node_features)
    if feats.ndim == 2:
        feats = feats[None]
    n_faces, n, _ = feats.shape
    acts = None if activations is None else _np(activations).reshape(n_faces, n)
    names = list(names) if names is not None else [str(i) for i in range(n)]
    adj = knn_edges(feats, k, metric)  # (F, N, N)
    rows = 2 if images is not None else 1
    fig, axes = plt.subplots(rows, n_faces, figsize=(ax_size * n_faces, ax_size * rows), squeeze=False)
    pos = _circle_layout(n)
    graphs = []
    for f in range(n_faces):
        ax = axes[-1, f]
        a = acts[f] if acts is not None else np.full(n, 0.5)
        graphs.append(_draw_digraph(ax, adj[f], a, names, pos, threshold))
        if titles is not None:
            (axes[0, f] if images is not None else ax).set_title(titles[f], fontsize=8)
        if images is not None:
            axes[0, f].imshow(_np(images)[f].astype(np.uint8))
            axes[0, f].axis("off")
    fig.suptitle(f"K-NN node graphs (K={k}, {metric})", fontsize=9)
    fig.tight_layout()
    fig.graphs = graphs
    return fig


def _draw_digraph(ax, adj: np.ndarray, acts: np.ndarray, names: Sequence[str], pos: dict, threshold: float) -> nx.DiGraph:
    """One face's K-NN graph on ``ax``: ``adj`` ``(N, N)`` (edge i→j where ``adj[i, j]``, self loops
    dropped), node colour and size from ``acts`` ``(N,)``, active nodes (≥ ``threshold``) outlined."""
    n = len(acts)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    ii, jj = np.nonzero(adj)
    g.add_edges_from((int(i), int(j)) for i, j in zip(ii, jj) if i != j)
    cmap = plt.get_cmap("viridis")
    colors = [cmap(float(v)) for v in acts]
    sizes = 250 + 450 * np.clip(acts, 0, 1)
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=7, width=0.8, alpha=0.6,
                           edge_color="0.35", node_size=sizes, connectionstyle="arc3,rad=0.08")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=sizes,
                           edgecolors=["#d55e00" if v >= threshold else "0.3" for v in acts],
                           linewidths=[2.0 if v >= threshold else 0.6 for v in acts])
    nx.draw_networkx_labels(g, pos, {i: names[i].replace("AU0", "").replace("AU", "") for i in range(n)},
                            ax=ax, font_size=6, font_color="white")
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return g


def plot_adjacency(
    matrix,
    names: Sequence[str] | None = None,
    signed: bool = False,
    annotate: bool = True,
    title: str | None = None,
    ax=None,
    fmt: str | None = None,
    cmap: str | None = None,
):
    """Seaborn heatmap of an adjacency/co-occurrence matrix.

    ``signed=True`` uses a diverging palette centred at 0 (e.g. R-GCN relations as
    ``positive − negative``). The plotted array equals ``matrix`` (``fig.matrix``).
    """
    # local: seaborn takes a second to import; only these figures need it
    import seaborn as sns

    m = _np(matrix).astype(float)
    n = m.shape[0]
    fig, ax, names = square_heatmap_axes(n, names, ax, (0.42, 0.38), (1.6, 1.0))
    if fmt is None:
        fmt = "d" if np.all(np.equal(np.mod(m, 1), 0)) else ".2f"
    kw = {"center": 0.0, "cmap": cmap or "RdBu_r", "vmin": -np.abs(m).max() or -1, "vmax": np.abs(m).max() or 1} if signed \
        else {"cmap": cmap or "rocket_r", "vmin": min(0.0, m.min()), "vmax": max(m.max(), 1e-12)}
    sns.heatmap(m if fmt != "d" else m.astype(int), annot=annotate and n <= 20, fmt=fmt, square=True,
                xticklabels=names, yticklabels=names, ax=ax, cbar=True, annot_kws={"fontsize": 6},
                linewidths=0.3, linecolor="white", **kw)
    ax.tick_params(axis="x", rotation=90)
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    fig.matrix = m
    fig.tight_layout()
    return fig


def plot_cooccurrence(labels, names: Sequence[str] | None = None, kind: str = "conditional", **kw):
    """Heatmap of label statistics from raw ``(n, N)`` 0/1 labels (NaN = missing).

    ``kind="conditional"``: ``P(j | i)`` (row i, column j); ``"joint"``: ``P(i, j)``.
    """
    y = _np(labels).astype(float)
    if kind == "conditional":
        m = conditional_probabilities(y)
        title = "P(column | row)"
    elif kind == "joint":
        v = np.nan_to_num(y)
        m = v.T @ v / max(len(v), 1)
        title = "P(row, column)"
    else:
        raise ValueError(f"kind must be 'conditional' or 'joint', got {kind!r}")
    kw.setdefault("title", title)
    return plot_adjacency(m, names, **kw)
