r"""Emotion-GCN label graph (Antoniadis et al., FG 2021, Sec. III.B.2, Eq. 3-6).

Nodes: the ``C`` expression classes followed by the two dimensions, by default
``Neutral, Happy, Sad, Surprise, Fear, Disgust, Anger, Valence, Arousal`` (AffectNet order;
Aff-Wild2 orders its expressions differently — the order simply follows the data).

* :func:`spearman_matrix` — Spearman rank correlation (Eq. 4) between the one-hot expression
  indicators and the continuous valence / arousal labels of the training set.
* :func:`emotion_adjacency` — paper mode (Eq. 3, 5, 6) or the authors' released code
  (``official=True``, the matrix *before* their normalisation step).
* :func:`emotion_gcn_normalize` — that normalisation step, :math:`D^{-1/2} A^\top D^{-1/2}`.
* :func:`emotion_adjacency_conditional` — the Sec. IV.E / supplementary variant whose
  expression nodes are also linked by ML-GCN conditional probabilities from a multi-label source.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

__all__ = [
    "AFFECTNET_EXPRESSIONS",
    "AFFWILD2_EXPRESSIONS",
    "EMOTION_GCN_NODES",
    "emotion_adjacency",
    "emotion_adjacency_conditional",
    "emotion_gcn_normalize",
    "spearman_matrix",
]

AFFECTNET_EXPRESSIONS = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger")
#: Aff-Wild2 (ABAW) expression order
AFFWILD2_EXPRESSIONS = ("Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")
EMOTION_GCN_NODES = AFFECTNET_EXPRESSIONS + ("Valence", "Arousal")


def spearman_matrix(
    expressions: Any,
    valence: Any,
    arousal: Any,
    num_classes: int | None = None,
    names: Sequence[str] | None = None,
    as_frame: bool = False,
) -> np.ndarray | pd.DataFrame:
    r"""Spearman correlation (Paper Eq. 4) of one-hot expressions and valence/arousal.

    .. math:: c_{xy} = \frac{\sum_k x_{k,r} y_{k,r}}{\sqrt{\sum_k x_{k,r}^2 \sum_k y_{k,r}^2}}

    with :math:`x_{k,r}` the centred ranks (ties get their average rank, so a 0/1 indicator's
    ranks are an affine function of it and the indicator-indicator entries are phi coefficients,
    :math:`-\sqrt{p_i p_j / ((1-p_i)(1-p_j))}` for mutually exclusive classes).

    Args:
        expressions: ``(n,)`` integer class indices; ``-1`` (or NaN) = missing.
        valence, arousal: ``(n,)`` floats; NaN = missing. Only samples with all three labels are
            used (the paper's Aff-Wild2 subset rule).
        num_classes: ``C`` (default ``max(expressions) + 1``, at least 7 when ``names`` is None).
        names: node names for the DataFrame (default the AffectNet order + Valence, Arousal).
        as_frame: return a labelled :class:`pandas.DataFrame` instead of an array.

    Returns:
        ``(C + 2, C + 2)`` float64 matrix (expressions first, then valence, arousal). A class with
        no sample has an undefined correlation; its row/column is 0 with 1 on the diagonal.
    """
    e = np.asarray(expressions, dtype=np.float64).reshape(-1)
    v = np.asarray(valence, dtype=np.float64).reshape(-1)
    a = np.asarray(arousal, dtype=np.float64).reshape(-1)
    if not (e.shape == v.shape == a.shape):
        raise ValueError(f"expressions, valence, arousal differ in length: {e.shape}, {v.shape}, {a.shape}")
    keep = np.isfinite(e) & (e >= 0) & np.isfinite(v) & np.isfinite(a)
    e, v, a = e[keep].astype(np.int64), v[keep], a[keep]
    if num_classes is None:
        num_classes = max(int(e.max()) + 1 if e.size else 0, len(names) - 2 if names else 7)
    if e.size and e.max() >= num_classes:
        raise ValueError(f"expression index {int(e.max())} >= num_classes={num_classes}")
    if names is None:
        names = list(EMOTION_GCN_NODES) if num_classes == 7 else [f"class{i}" for i in range(num_classes)] + ["Valence", "Arousal"]
    names = list(names)
    if len(names) != num_classes + 2:
        raise ValueError(f"need {num_classes + 2} names, got {len(names)}")
    onehot = np.zeros((e.size, num_classes))
    onehot[np.arange(e.size), e] = 1.0
    df = pd.DataFrame(np.column_stack([onehot, v, a]), columns=names)
    corr = df.corr(method="spearman").to_numpy()  # Pearson correlation of average ranks
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names) if as_frame else corr


def _as_square(corr: Any) -> np.ndarray:
    c = np.asarray(corr.to_numpy() if isinstance(corr, pd.DataFrame) else corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"correlation must be square, got shape {c.shape}")
    return c


def _reweight(binary: np.ndarray, p: float) -> np.ndarray:
    r"""ML-GCN re-weighting (Paper Eq. 6) of a binary matrix whose diagonal is ignored.

    :math:`A''_{ij} = p\,A'_{ij} / \sum_{k \ne i} A'_{ik}` for :math:`i \ne j`, :math:`A''_{ii} = 1 - p`.
    Eq. 6 is 0/0 for a node without neighbours; such a node keeps weight 1 on itself so that
    every row of :math:`\hat A` sums to one (the paper's requirement under Eq. 2).
    """
    n = binary.shape[0]
    off = binary * (1.0 - np.eye(n))
    deg = off.sum(1, keepdims=True)  # (n, 1) neighbours of each node
    out = np.where(deg > 0, p * off / np.where(deg > 0, deg, 1.0), 0.0)
    np.fill_diagonal(out, np.where(deg[:, 0] > 0, 1.0 - p, 1.0))
    return out


def emotion_adjacency(
    corr: Any,
    tau: float = 0.1,
    p: float = 0.7,
    official: bool = False,
    num_categorical: int | None = None,
    *,
    literal_eq5: bool = False,
) -> np.ndarray:
    r"""Emotion-GCN adjacency from a Spearman matrix (expressions first, 2 dimensions last).

    Paper mode (``official=False``):

    * Eq. 3: :math:`A_{ii}=1`; :math:`A_{ij}=|c_{ij}|` when exactly one of i, j is a dimension
      (Cat–Dim pairs); 0 otherwise (no Cat–Cat, no Valence–Arousal edge).
    * Eq. 5: :math:`A'_{ij} = [A_{ij} \ge \tau]` on those Cat–Dim pairs (so ``tau=0`` links every
      Cat–Dim pair; read literally Eq. 5 would also turn the structural zeros into edges).
      ``literal_eq5=True`` is that literal reading: Eq. 5 on every entry of Eq. 3's A, so
      ``tau=0`` links **every** pair (Cat–Cat and Valence–Arousal too; Table II's τ = 0 column)
      and any ``tau > 0`` gives exactly the default matrix.
    * Eq. 6: off-diagonal :math:`p / \sum_{k\ne i} A'_{ik}` per edge, diagonal :math:`1-p`
      (a node with no neighbour keeps 1 on its diagonal). Rows sum to 1.

    ``official=True`` reproduces the authors' ``gen_A``: ``|c|``, the Cat–Cat block zeroed (the
    Valence–Arousal entry is *not* zeroed), the threshold applied to every entry (so with
    ``tau=0`` every entry, zeroed ones included, becomes an edge), each row scaled by
    ``0.5 / (#neighbours)`` and the diagonal set to 0.5 — i.e. ``p`` is hard-coded to 0.5 there
    (the paper says 0.7) and the ``p`` argument is ignored. Their ``0/0`` for a node without
    neighbours (NaN row) is guarded: the row is 0 off the diagonal. Pass the result through
    :func:`emotion_gcn_normalize` to get what their model multiplies with.

    Args:
        corr: ``(C+2, C+2)`` correlation matrix (array or DataFrame), see :func:`spearman_matrix`.
        tau: edge threshold τ on :math:`|c|`.
        p: neighbourhood weight (paper mode only).
        official: reproduce the released code instead of the paper.
        num_categorical: ``C`` (default ``n - 2``).
        literal_eq5: paper mode only, see above.

    Returns:
        ``(C+2, C+2)`` float64 adjacency (``(9, 9)`` for the paper).
    """
    c = np.abs(_as_square(corr))
    n = c.shape[0]
    k = n - 2 if num_categorical is None else int(num_categorical)
    is_cat = np.arange(n) < k
    if official:
        if p != 0.5:
            warnings.warn(
                f"official=True reproduces the authors' code, which hard-codes p = 0.5; p={p} is ignored",
                stacklevel=2,
            )
        a = c.copy()
        a[np.outer(is_cat, is_cat) & ~np.eye(n, dtype=bool)] = 0.0  # Cat–Cat off-diagonal
        a = (a >= tau).astype(np.float64)  # threshold on every entry, the diagonal included
        nbr = a.sum(1, keepdims=True) - 1.0  # their "sum - 1" = number of neighbours
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(nbr > 0, a * 0.5 / np.where(nbr > 0, nbr, 1.0), 0.0)
        np.fill_diagonal(out, 0.5)
        return out
    cat_dim = is_cat[:, None] ^ is_cat[None, :]  # exactly one of i, j categorical (Eq. 3)
    a = np.where(cat_dim, c, 0.0)  # Eq. 3 off the diagonal (the diagonal is set by Eq. 6)
    # Eq. 5: literally on every entry (tau = 0 links the zeros too), else on the Cat–Dim pairs only
    binary = ((a >= tau) if literal_eq5 else (cat_dim & (c >= tau))).astype(np.float64)
    return _reweight(binary, p)  # Eq. 6


def emotion_gcn_normalize(adj: Any) -> Any:
    r"""The authors' ``gen_adj``: :math:`D^{-1/2} A^\top D^{-1/2}` with :math:`D = \mathrm{diag}(\sum_j A_{ij})`.

    Their rows sum to 1, so this is just :math:`A^\top`. Zero-degree rows give 0 (not inf).
    Accepts a NumPy array (returns NumPy) or a torch tensor ``(N, N)`` (returns torch).
    """
    if isinstance(adj, torch.Tensor):
        d = adj.sum(1).pow(-0.5)
        d = torch.where(torch.isfinite(d), d, torch.zeros_like(d))
        return d[:, None] * adj.transpose(0, 1) * d[None, :]
    a = np.asarray(adj, dtype=np.float64)
    deg = a.sum(1)
    with np.errstate(divide="ignore"):
        d = np.where(deg > 0, deg, np.inf) ** -0.5
    return d[:, None] * a.T * d[None, :]


def _conditional_probabilities(labels: Any) -> np.ndarray:
    r"""ML-GCN conditional probabilities :math:`M_{ij} = P(L_j = 1 \mid L_i = 1)`. ``(C, C)``.

    Args:
        labels: ``(n, C)`` multi-label 0/1 (NaN = missing; a pair uses samples where both are known).
    """
    y = np.asarray(labels, dtype=np.float64)
    valid = np.isfinite(y)
    y0 = np.where(valid, y, 0.0)
    joint = y0.T @ y0  # (C, C) #(i=1, j=1)
    count_i = y0.T @ valid.astype(np.float64)  # #(i=1, j observed)
    return np.where(count_i > 0, joint / np.where(count_i > 0, count_i, 1.0), 0.0)


def emotion_adjacency_conditional(
    corr: Any,
    multilabel: Any,
    tau: float = 0.1,
    p: float = 0.5,
    tau_cond: float | None = None,
    num_categorical: int | None = None,
) -> np.ndarray:
    r"""Sec. IV.E variant: Emotion-GCN graph plus expression–expression edges (supplementary A).

    Cat–Dim edges as in :func:`emotion_adjacency` (Eq. 3, 5); Cat–Cat edges from the ML-GCN
    conditional probabilities :math:`M_{ij} = P(j \mid i)` of a multi-label emotion source (EMOTIC
    in the paper, blended synthetic expressions here), binarised with :math:`M_{ij} \ge \tau_{cond}`
    (directed: row i lists whom node i listens to); then Eq. 6 with ``p``. The supplementary keeps
    τ = 0.1 and p = 0.5 for both parts.

    Args:
        corr: ``(C+2, C+2)`` Spearman matrix.
        multilabel: ``(n, C)`` 0/1 labels in the same expression order.
        tau, p: as in :func:`emotion_adjacency`.
        tau_cond: threshold on the conditional probabilities (default ``tau``).
        num_categorical: ``C`` (default ``n - 2``).
    """
    c = np.abs(_as_square(corr))
    n = c.shape[0]
    k = n - 2 if num_categorical is None else int(num_categorical)
    is_cat = np.arange(n) < k
    m = _conditional_probabilities(multilabel)
    if m.shape != (k, k):
        raise ValueError(f"multilabel has {m.shape[0]} classes, the graph has {k} expression nodes")
    binary = ((is_cat[:, None] ^ is_cat[None, :]) & (c >= tau)).astype(np.float64)
    binary[:k, :k] = (m >= (tau if tau_cond is None else tau_cond)).astype(np.float64)
    return _reweight(binary, p)
