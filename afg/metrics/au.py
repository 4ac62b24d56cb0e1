"""AU detection metrics: per-AU F1 (threshold 0.5), accuracy and ROC-AUC, and their means.

Every function takes ``y_true`` (n, N) of 0/1 with NaN for missing labels, ``scores`` (n, N)
probabilities, and an optional boolean ``mask`` (n, N) (True = label present). Missing labels
(NaN or ``mask`` False) are ignored per AU. Everything is vectorised over samples and AUs (no
Python loop over samples); the results equal scikit-learn's ``f1_score``, ``accuracy_score`` and
``roc_auc_score`` applied AU by AU to the observed entries (``tests/test_metrics_au.py``).

Conventions (as in ME-GraphAU / MAFG+CCFG evaluation code): F1 of an AU with no positive label
and no positive prediction is 0 (scikit-learn's ``zero_division=0``); AUC of an AU whose observed
labels are all one class is NaN and is left out of the mean.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["au_accuracy", "au_auc", "au_f1", "au_report"]


def _prepare(y_true: Any, scores: Any, mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def arr(x: Any) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().float().cpu().numpy()
        return np.asarray(x, dtype=np.float64)

    y = arr(y_true)
    s = arr(scores)
    if y.ndim == 1:
        y, s = y[:, None], s[:, None]
    if y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and scores {s.shape} differ in shape")
    valid = ~np.isnan(y)
    if mask is not None:
        m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        valid &= m.astype(bool).reshape(y.shape)
    return np.where(valid, y, 0.0) > 0.5, s, valid


def _counts(y: np.ndarray, pred: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, ...]:
    tp = (y & pred & valid).sum(0).astype(np.float64)
    fp = (~y & pred & valid).sum(0).astype(np.float64)
    fn = (y & ~pred & valid).sum(0).astype(np.float64)
    tn = (~y & ~pred & valid).sum(0).astype(np.float64)
    return tp, fp, fn, tn


def au_f1(y_true: Any, scores: Any, mask: Any = None, threshold: float = 0.5) -> np.ndarray:
    """Per-AU F1 = 2TP / (2TP + FP + FN) with prediction ``score >= threshold``. ``(N,)``."""
    y, s, valid = _prepare(y_true, scores, mask)
    tp, fp, fn, _ = _counts(y, s >= threshold, valid)
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.where(den > 0, den, 1.0), 0.0)


def au_accuracy(y_true: Any, scores: Any, mask: Any = None, threshold: float = 0.5) -> np.ndarray:
    """Per-AU accuracy over the observed labels. ``(N,)`` (NaN for an AU with no label)."""
    y, s, valid = _prepare(y_true, scores, mask)
    tp, _, _, tn = _counts(y, s >= threshold, valid)
    n = valid.sum(0)
    return np.where(n > 0, (tp + tn) / np.maximum(n, 1), np.nan)


def au_auc(y_true: Any, scores: Any, mask: Any = None) -> np.ndarray:
    """Per-AU ROC-AUC (Mann-Whitney U with mid-ranks for ties, like scikit-learn). ``(N,)``.

    Computed for all AUs at once: scores are ranked per column (missing entries pushed to the
    end), ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` with ``R_pos`` the sum of the
    positives' average ranks among observed entries.
    """
    y, s, valid = _prepare(y_true, scores, mask)
    n, N = s.shape
    if n == 0:
        return np.full(N, np.nan)
    s_obs = np.where(valid, s, np.inf)  # missing entries sort last
    order = np.argsort(s_obs, axis=0, kind="mergesort")
    sorted_s = np.take_along_axis(s_obs, order, 0)
    # average ranks for ties (1-based), per column, vectorised via run boundaries
    new_run = np.ones_like(sorted_s, dtype=bool)
    new_run[1:] = sorted_s[1:] != sorted_s[:-1]
    run_id = np.cumsum(new_run, axis=0) - 1  # (n, N)
    pos = np.arange(1, n + 1, dtype=np.float64)[:, None].repeat(N, 1)
    offsets = (run_id + np.arange(N)[None, :] * n).ravel()
    sums = np.bincount(offsets, weights=pos.ravel(), minlength=n * N)
    cnts = np.bincount(offsets, minlength=n * N)
    avg = (sums / np.maximum(cnts, 1))[offsets].reshape(n, N)
    ranks = np.empty_like(avg)
    np.put_along_axis(ranks, order, avg, 0)
    n_pos = (y & valid).sum(0).astype(np.float64)
    n_neg = (~y & valid).sum(0).astype(np.float64)
    r_pos = np.where(y & valid, ranks, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def au_report(
    y_true: Any,
    scores: Any,
    mask: Any = None,
    names: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Flat dict of scalars: ``f1/AU01`` … , ``acc/AU01`` …, ``auc/AU01`` …, and the means
    ``f1_mean``, ``acc_mean``, ``auc_mean`` (NaN AUCs left out). Values are fractions (0-1)."""
    f1 = au_f1(y_true, scores, mask, threshold)
    acc = au_accuracy(y_true, scores, mask, threshold)
    auc = au_auc(y_true, scores, mask)
    N = f1.shape[0]
    names = list(names) if names is not None else [f"AU{i:02d}" for i in range(N)]
    if len(names) != N:
        raise ValueError(f"{len(names)} names for {N} AUs")
    out: dict[str, float] = {}
    for key, vals in (("f1", f1), ("acc", acc), ("auc", auc)):
        for name, v in zip(names, vals):
            out[f"{key}/{name}"] = float(v)
    out["f1_mean"] = float(np.mean(f1)) if N else float("nan")
    out["acc_mean"] = float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")
    out["auc_mean"] = float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan")
    return out
