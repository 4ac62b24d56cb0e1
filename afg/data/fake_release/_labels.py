"""Label helpers of the miniatures."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["vary_within"]


def vary_within(y: np.ndarray, groups: Sequence[Sequence[int]], unavailable: np.ndarray | None = None) -> np.ndarray:
    """Binary labels ``y`` (n, L), changed as little as possible so that every label is present in
    at least one and absent from at least one *available* row of each group (a fold's test rows, a
    subject's frames): a miniature's few frames would otherwise leave most labels constant, and a
    fold's per-label F1/AUC undefined. ``unavailable`` (n, L) marks cells that will be missing
    (not coded, no image, no face); they are left alone. Returns a copy."""
    y = np.array(y, dtype=np.int64, copy=True)
    bad = np.zeros(y.shape, bool) if unavailable is None else np.asarray(unavailable, bool)
    for rows in groups:
        rows = np.asarray(rows, dtype=np.int64)
        for j in range(y.shape[1]):
            ok = rows[~bad[rows, j]]
            if len(ok) < 2:
                continue
            if not (y[ok, j] == 1).any():
                y[ok[0], j] = 1
            if not (y[ok, j] == 0).any():
                y[ok[-1], j] = 0
    return y
