"""K-NN adjacency over node features (ME-GraphAU FGG, Sec. 2.1; reused by MAFG+CCFG).

Each node i is connected to every node j whose similarity ``S_ij`` is at least the K-th largest
similarity in row i (for ``l1``: distance at most the K-th smallest). Ties are *kept*, exactly as
the authors' code (``adj = S >= topk(S, K)[..., -1]``), so a row can have more than K ones.
Self-similarity is included (a node is usually its own nearest neighbour). Features are
detached: the graph topology carries no gradient.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["KNN_METRICS", "knn_adjacency", "node_similarity"]

KNN_METRICS = ("dots", "cosine", "l1")


def node_similarity(x: torch.Tensor, metric: str = "dots") -> torch.Tensor:
    """Pairwise similarity ``(…, N, N)`` of node features ``x (…, N, C)``.

    ``dots``: ``x_i·x_j``; ``cosine``: ``x_i·x_j / (|x_i| |x_j|)``; ``l1``: ``Σ_c |x_ic - x_jc|``
    (a distance: smaller is closer).
    """
    if metric == "dots":
        return x @ x.transpose(-1, -2)
    if metric == "cosine":
        xn = F.normalize(x, p=2, dim=-1)
        return xn @ xn.transpose(-1, -2)
    if metric == "l1":
        return (x.unsqueeze(-2) - x.unsqueeze(-3)).abs().sum(-1)
    raise ValueError(f"unknown metric {metric!r}; expected one of {KNN_METRICS}")


def knn_adjacency(x: torch.Tensor, k: int, metric: str = "dots") -> torch.Tensor:
    """0/1 K-nearest-neighbour adjacency ``(…, N, N)`` from node features ``(…, N, C)``.

    Row i marks the K most similar nodes of i (ties with the K-th value all kept). The input is
    detached; the result has ``x``'s dtype.
    """
    n = x.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    s = node_similarity(x.detach(), metric)
    if metric == "l1":
        thr = s.topk(k, dim=-1, largest=False).values[..., -1:]
        return (s <= thr).to(x.dtype)
    thr = s.topk(k, dim=-1, largest=True).values[..., -1:]
    return (s >= thr).to(x.dtype)
