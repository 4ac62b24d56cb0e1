"""Label statistics: occurrence rates, conditional probabilities, class weights.

Used by losses (class weights), graph priors (co-occurrence) and the synthetic generator's
calibration. All functions take ``(n, N)`` arrays of 0/1 with NaN for missing labels and ignore
missing entries.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .wrappers import base_positions

__all__ = [
    "au_class_weights",
    "conditional_probabilities",
    "dataset_labels",
    "occurrence_rates",
    "per_subject_counts",
    "training_statistics",
]


def _as_float(labels: Any) -> np.ndarray:
    arr = np.asarray(labels, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"labels must be (n, N), got shape {arr.shape}")
    return arr


def occurrence_rates(labels: Any) -> np.ndarray:
    """``r_i = #(y_i = 1) / #(y_i observed)`` per column, NaN entries ignored. ``(N,)``."""
    y = _as_float(labels)
    valid = ~np.isnan(y)
    pos = np.where(valid, y, 0.0).sum(0)
    return pos / np.maximum(valid.sum(0), 1)


def conditional_probabilities(labels: Any) -> np.ndarray:
    """``M_ij = P(y_j = 1 | y_i = 1)`` over samples where both are observed. ``(N, N)``.

    Rows of labels that never occur are 0. The diagonal is 1 where ``y_i`` occurs.
    """
    y = _as_float(labels)
    valid = ~np.isnan(y)
    y0 = np.where(valid, y, 0.0)
    both_valid = valid.astype(np.float64).T @ valid.astype(np.float64)  # (N, N)
    joint = y0.T @ y0  # #(y_i=1, y_j=1)
    pos_i = (y0.T @ valid.astype(np.float64))  # #(y_i=1, y_j observed)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(pos_i > 0, joint / pos_i, 0.0)
    del both_valid
    return m


def au_class_weights(labels: Any) -> np.ndarray:
    r"""ME-GraphAU class weights :math:`w_i = N \cdot (1/r_i) / \sum_j (1/r_j)`. ``(N,)``.

    ``r_i`` is the occurrence rate of AU i (NaN entries ignored). An AU that never occurs would
    get an infinite weight; it is given the largest finite weight instead (with a warning-free
    fallback to uniform weights when no AU occurs).
    """
    r = occurrence_rates(labels)
    n = r.shape[0]
    inv = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.nan)
    if np.all(np.isnan(inv)):
        return np.ones(n)
    inv = np.where(np.isnan(inv), np.nanmax(inv), inv)
    return n * inv / inv.sum()


def per_subject_counts(labels: Any, subjects: Any, names: Any = None) -> Any:
    """Per-subject label counts: a DataFrame indexed by subject with ``frames`` (rows of that
    subject) and, per label column, the number of positives (NaN entries ignored).

    ``labels`` ``(n, N)`` 0/1 with NaN, ``subjects`` ``(n,)``; ``names`` label column names
    (default ``L1 … LN``).
    """
    import pandas as pd  # local: pandas (~0.3 s to import) only for this summary table

    y = _as_float(labels)
    subj = np.asarray(subjects).astype(str)
    if len(subj) != len(y):
        raise ValueError(f"{len(subj)} subjects for {len(y)} label rows")
    cols = list(names) if names is not None else [f"L{j + 1}" for j in range(y.shape[1])]
    frame = pd.DataFrame(np.where(np.isnan(y), 0.0, y), columns=cols)
    frame["subject"] = subj
    out = frame.groupby("subject", sort=True)[cols].sum().astype(np.int64)
    out.insert(0, "frames", frame.groupby("subject", sort=True).size())
    return out


def dataset_labels(dataset: Any) -> dict[str, np.ndarray]:
    """Label arrays of a dataset without loading images.

    Datasets expose ``labels() -> dict`` with any of ``au`` (n,N) float NaN-missing,
    ``expression`` (n,) int (-1 missing), ``va`` (n,2), ``emotions`` (n,C). ``torch.utils.data.Subset``
    (possibly nested) is resolved through its ``indices``, other wrappers looked through
    (:func:`afg.data.wrappers.base_positions`).
    """
    ds, indices = base_positions(dataset)
    if not hasattr(ds, "labels"):
        raise TypeError(f"{type(ds).__name__} has no labels() method; cannot compute statistics")
    labels = ds.labels()
    if indices is not None:
        labels = {k: np.asarray(v)[indices] for k, v in labels.items()}
    return {k: np.asarray(v) for k, v in labels.items()}


def training_statistics(dataset: Any) -> dict[str, np.ndarray]:
    """The ``stats`` dict handed to ``model.build_criterion`` / ``model.prepare``.

    Keys (when the labels exist): ``au_labels``, ``au_rates``, ``au_class_weights``,
    ``au_conditional``; ``expressions``, ``expression_counts``; ``va``; ``emotion_labels``,
    ``emotion_rates``.
    """
    labels = dataset_labels(dataset)
    out: dict[str, np.ndarray] = {}
    if "au" in labels:
        au = labels["au"].astype(np.float64)
        out["au_labels"] = au
        out["au_rates"] = occurrence_rates(au)
        out["au_class_weights"] = au_class_weights(au)
        out["au_conditional"] = conditional_probabilities(au)
    if "expression" in labels:
        e = labels["expression"].astype(np.int64)
        out["expressions"] = e
        base = dataset
        while not hasattr(base, "num_expressions") and hasattr(base, "dataset"):
            base = base.dataset  # Subset / wrappers
        n_cls = int(getattr(base, "num_expressions", 0) or (e.max() + 1 if (e >= 0).any() else 0))
        out["expression_counts"] = np.bincount(e[e >= 0], minlength=n_cls)
    if "va" in labels:
        out["va"] = labels["va"].astype(np.float64)
    if "emotions" in labels:
        em = labels["emotions"].astype(np.float64)
        out["emotion_labels"] = em
        out["emotion_rates"] = occurrence_rates(em)
    return out
