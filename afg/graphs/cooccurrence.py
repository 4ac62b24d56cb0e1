"""Fixed AU co-occurrence graph and the ROI graph of AU-GCN (Liu et al. 2020, Eq. 4-5, Sec. 3.4)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["conditional_matrix", "cooccurrence_graph", "roi_graph"]


def conditional_matrix(labels: Any) -> np.ndarray:
    r"""``M_ij = P(y_j = 1 | y_i = 1)`` on ``(n, C)`` 0/1 labels (NaN = missing, ignored pairwise).

    ``M_ij = #(y_i = 1, y_j = 1) / #(y_i = 1, y_j observed)``; rows of AUs that never occur are 0.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be (n, C), got shape {y.shape}")
    valid = ~np.isnan(y)
    y0 = np.where(valid, y, 0.0)
    joint = y0.T @ y0  # (C, C) #(y_i=1, y_j=1)
    pos_i = y0.T @ valid.astype(np.float64)  # #(y_i=1, y_j observed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pos_i > 0, joint / np.where(pos_i > 0, pos_i, 1.0), 0.0)


def cooccurrence_graph(labels: Any, threshold: float = 0.8) -> np.ndarray:
    r"""AU relation graph ``M_bool`` (AU-GCN Eq. 4-5): ``(n, C)`` labels -> ``(C, C)`` 0/1 int.

    .. math:: M^{sym}_{ij} = M_{ij} + M_{ji}, \quad M^{bool}_{ij} = [M^{sym}_{ij} \ge h]

    with :math:`M_{ij} = P(AU_j = 1 | AU_i = 1)` on the training labels and self loops on the
    diagonal (also for AUs that never occur). Symmetric by construction.
    """
    m = conditional_matrix(labels)
    sym = m + m.T  # Eq. 4
    out = (sym >= threshold).astype(np.int64)  # Eq. 5
    np.fill_diagonal(out, 1)
    return out


def roi_graph(
    m_bool: Any,
    roi_set: Any,
    symmetric_pairs: Sequence[tuple[int, int]] | None = None,
    face_index: int | None = None,
) -> np.ndarray:
    """The ``(R, R)`` 0/1 ROI graph G of AU-GCN Sec. 3.4.

    1. every node has a self loop; 2. symmetric ROIs (left/right, upper/lower lip) are linked;
    3. ROIs of AUs i and j are linked when ``M_bool[i, j] = 1`` (hence all ROIs of one AU, and
    ROIs sharing an AU, are linked); 4. the whole-face node is linked to every node.

    Args:
        m_bool: ``(C, C)`` AU relation graph (:func:`cooccurrence_graph` or the published table).
        roi_set: an :class:`afg.data.rois.RoiSet` (its ``membership``, ``symmetric_pairs`` and
            ``face_index`` are used) or a ``(R, C)`` ROI→AU membership matrix.
        symmetric_pairs, face_index: override / supply these when ``roi_set`` is a matrix. The
            face node's membership row is ignored for rule 3 (rule 4 links it to all).
    """
    a = np.asarray(m_bool, dtype=np.float64)
    if hasattr(roi_set, "membership"):
        memb = np.asarray(roi_set.membership, dtype=np.float64)
        pairs = roi_set.symmetric_pairs if symmetric_pairs is None else symmetric_pairs
        face = roi_set.face_index if face_index is None else face_index
    else:
        memb = np.asarray(roi_set, dtype=np.float64)
        pairs = symmetric_pairs or []
        face = face_index
    _r, c = memb.shape
    if a.shape != (c, c):
        raise ValueError(f"m_bool is {a.shape}, the ROI membership has {c} AUs")
    local = memb.copy()
    if face is not None:
        local[face] = 0.0
    g = (local @ a @ local.T > 0).astype(np.int64)  # rule 3
    for i, j in pairs:  # rule 2
        g[i, j] = g[j, i] = 1
    if face is not None:  # rule 4
        g[face, :] = 1
        g[:, face] = 1
    np.fill_diagonal(g, 1)  # rule 1
    return g
