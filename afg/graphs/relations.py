"""Positive/negative label relations and ML-GCN adjacency (SVML-RGCN Eq. 3-4, 13-14).

Conventions: ``labels`` is an ``(n, C)`` array of 0/1 (NaN = missing, treated as "not present").
All matrices are indexed ``[i, j]`` with row ``i`` the *receiving* node: ``rel[i, j] = 1`` means
``j ∈ N_i^r`` (node ``i`` aggregates from node ``j`` in the R-GCN, SVML-RGCN Eq. 7), and
``P[i, j] = P(L_j | L_i)`` as in ML-GCN.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "RELATION_DEFAULTS",
    "cooccurrence_probabilities",
    "label_relations",
    "mlgcn_adjacency",
]

#: Paper thresholds (Section 4.2): (t1, t2) per dataset.
RELATION_DEFAULTS: dict[str, tuple[float, float]] = {
    "raf_ml": (0.15, 0.4),
    "raf_compound": (0.15, 0.4),
    "jaffe": (1e-6, 0.45),
}


def cooccurrence_probabilities(labels: Any) -> np.ndarray:
    r"""Conditional co-occurrence :math:`P_{ij} = M_{ij} / N_{c_i}` (SVML-RGCN Eq. 3).

    ``M_ij`` counts samples carrying both labels ``i`` and ``j``; ``N_{c_i}`` counts samples with
    label ``i``. Rows of labels that never occur are NaN (no relation can be derived from them).

    Args:
        labels: ``(n, C)`` 0/1 (NaN counted as absent; other values: present when > 0.5).

    Returns:
        ``(C, C)`` float64; the diagonal is 1 for every label that occurs.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be (n, C), got shape {y.shape}")
    y = np.where(np.isnan(y), 0.0, y)
    y = (y > 0.5).astype(np.float64)
    m = y.T @ y  # (C, C) joint counts M_ij
    n_i = np.diag(m).copy()  # (C,) N_{c_i}
    with np.errstate(invalid="ignore", divide="ignore"):
        p = m / n_i[:, None]
    p[n_i == 0] = np.nan
    return p


def _probabilities(labels_or_p: Any, probabilities: bool) -> np.ndarray:
    if probabilities:
        p = np.asarray(labels_or_p, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] != p.shape[1]:
            raise ValueError(f"probabilities must be square (C, C), got {p.shape}")
        return p
    return cooccurrence_probabilities(labels_or_p)


def label_relations(
    labels: Any, t1: float = 0.15, t2: float = 0.4, probabilities: bool = False
) -> dict[str, np.ndarray]:
    r"""Negative and positive label relations (SVML-RGCN Eq. 4).

    For ``i ≠ j``: negative edge when :math:`P_{ij} < t_1`, positive edge when
    :math:`P_{ij} > t_2`, no edge in between. No self relations (the self connection is the
    R-GCN's own :math:`W_0` term). Relations are directed because ``P`` is not symmetric.

    Args:
        labels: ``(n, C)`` training labels 0/1, or a ``(C, C)`` probability matrix when
            ``probabilities=True``.
        t1, t2: thresholds (paper: 0.15/0.4 on RAF-ML and RAF-Compound, 1e-6/0.45 on JAFFE).

    Returns:
        ``{"positive": (C, C), "negative": (C, C)}`` float64 arrays of 0/1, ``[i, j] = 1`` when
        ``j`` is a neighbour of ``i`` in that relation.
    """
    if t1 > t2:
        raise ValueError(f"t1 ({t1}) must not exceed t2 ({t2})")
    p = _probabilities(labels, probabilities)
    off = ~np.eye(p.shape[0], dtype=bool)
    valid = ~np.isnan(p)
    pf = np.where(valid, p, 0.0)
    negative = (valid & off & (pf < t1)).astype(np.float64)
    positive = (valid & off & (pf > t2)).astype(np.float64)
    return {"positive": positive, "negative": negative}


def mlgcn_adjacency(
    labels: Any, t: float = 0.4, p: float = 0.2, reweight: bool = True, probabilities: bool = False
) -> np.ndarray:
    r"""ML-GCN correlation matrix used by the SVML-GCN variant (SVML-RGCN Eq. 13-14).

    Binary :math:`A_{ij} = [P_{ij} > t]` for ``i ≠ j`` (Eq. 13; ``t = t_2``). Re-weighted
    (Eq. 14): :math:`\tilde A_{ij} = p A_{ij} / \sum_{j \ne i} A_{ij}` off the diagonal and
    :math:`\tilde A_{ii} = 1 - p` — each node keeps ``1 - p`` of itself and spreads ``p`` over
    its positive neighbours. A node without neighbours keeps only ``1 - p`` on its diagonal.

    Args:
        labels: ``(n, C)`` 0/1 labels, or ``(C, C)`` probabilities with ``probabilities=True``.
        t: binarisation threshold; p: re-weighting factor (0.2 as in ML-GCN).
        reweight: False returns the binary ``A`` (no self loops).

    Returns:
        ``(C, C)`` float64, rows indexed by the receiving node (use as ``Ã @ H``).
    """
    prob = _probabilities(labels, probabilities)
    c = prob.shape[0]
    off = ~np.eye(c, dtype=bool)
    a = (off & (np.nan_to_num(prob, nan=0.0) > t)).astype(np.float64)  # Eq. 13
    if not reweight:
        return a
    deg = a.sum(1, keepdims=True)
    out = np.where(deg > 0, p * a / np.maximum(deg, 1.0), 0.0)  # Eq. 14, i != j
    out[np.diag_indices(c)] = 1.0 - p  # Eq. 14, i == j
    return out
