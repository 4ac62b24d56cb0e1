"""The nine multi-label expression metrics of SVML-RGCN (Sec. 4.1, Eq. 8-12).

scikit-learn supplies every metric it has; the conventions the papers use on top of it:

* predictions are ``score > threshold`` (confidence above 0.5);
* **coverage** is scikit-learn's ``coverage_error`` minus 1 (the ML-FER tables' convention:
  the number of steps *beyond the first* needed to cover all true labels; Eq. 9 as printed omits
  the -1, but the published numbers, e.g. 1.83 on RAF-ML, use it);
* **one-error** (Eq. 10) has no scikit-learn function: the fraction of samples whose
  top-scored label (first one on ties) is not a true label;
* the four ranking metrics (coverage, one-error, ranking loss, average precision) are averaged
  over samples with at least one true label (they are undefined otherwise);
* a row whose label vector is incomplete (a NaN entry: a face without its ratings) is left out
  of all nine metrics (``incomplete="skip"``, the default; the ranking metrics need the whole
  vector, and one row set keeps the nine numbers about the same faces); :func:`incomplete_rows`
  counts them for the report, ``incomplete="raise"`` refuses them. NaN scores always raise;
* a label column that is constant in the evaluation set has no ROC curve: by default it is
  left out of macro-AUC with a warning (``undefined_auc="nan"`` reports NaN instead); when no
  column is defined, macro-AUC is NaN. Micro-AUC is NaN when all labels are equal.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    coverage_error,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
    label_ranking_loss,
    roc_auc_score,
)

__all__ = [
    "LOWER_IS_BETTER",
    "MULTILABEL_METRICS",
    "incomplete_rows",
    "multilabel_report",
    "multilabel_report_frame",
    "one_error",
]

#: the nine metrics, in the papers' table order
MULTILABEL_METRICS: tuple[str, ...] = (
    "hamming_loss",
    "coverage",
    "one_error",
    "ranking_loss",
    "average_precision",
    "micro_f1",
    "macro_f1",
    "micro_auc",
    "macro_auc",
)
#: metrics where smaller is better (the rest: larger is better)
LOWER_IS_BETTER: frozenset[str] = frozenset({"hamming_loss", "coverage", "one_error", "ranking_loss"})


def _to_np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def incomplete_rows(y_true: Any) -> np.ndarray:
    """``(n,)`` bool: rows of ``(n, C)`` labels with a missing (NaN) entry."""
    y = _to_np(y_true)
    return np.isnan(y).reshape(len(y), -1).any(1)


def _arrays(y_true: Any, scores: Any, incomplete: str = "raise") -> tuple[np.ndarray, np.ndarray]:
    """``(y, s)`` as int64 0/1 and float64 ``(n, C)``; ``incomplete="skip"`` drops the rows whose
    labels have a NaN (``"raise"``: a ValueError). NaN scores always raise."""
    if incomplete not in ("skip", "raise"):
        raise ValueError(f"incomplete must be 'skip' or 'raise', got {incomplete!r}")
    y, s = _to_np(y_true), _to_np(scores)
    if y.ndim != 2 or y.shape != s.shape:
        raise ValueError(f"y_true and scores must both be (n, C); got {y.shape} and {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores must not contain NaN")
    bad = incomplete_rows(y)
    if bad.any():
        if incomplete == "raise":
            raise ValueError(f"y_true has {int(bad.sum())} rows with missing (NaN) labels; "
                             f"incomplete='skip' leaves them out")
        y, s = y[~bad], s[~bad]
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must be 0/1")
    return y.astype(np.int64), s


def one_error(y_true: Any, scores: Any, incomplete: str = "skip") -> float:
    """SVML-RGCN Eq. 10: fraction of samples whose top-ranked label is not relevant.

    Samples without any true label are skipped (and those with a NaN label, unless
    ``incomplete="raise"``); ties go to the first label.
    """
    y, s = _arrays(y_true, scores, incomplete)
    keep = y.sum(1) > 0
    if not keep.any():
        return float("nan")
    top = s[keep].argmax(1)
    return float(1.0 - y[keep][np.arange(int(keep.sum())), top].mean())


def multilabel_report(
    y_true: Any, scores: Any, threshold: float = 0.5, undefined_auc: str = "skip", incomplete: str = "skip"
) -> dict[str, float]:
    """The nine metrics of SVML-RGCN Sec. 4.1.

    Args:
        y_true: ``(n, C)`` 0/1 ground truth (array or tensor).
        scores: ``(n, C)`` confidences (sigmoid of the ``emotions`` logits); ranking metrics
            only use their order, the F1s and Hamming loss use ``scores > threshold``.
        threshold: decision threshold (0.5 in the paper).
        undefined_auc: ``"skip"`` (average macro-AUC over non-constant columns, warn) or ``"nan"``.
        incomplete: ``"skip"`` (rows with a NaN label are left out; :func:`incomplete_rows`
            counts them) or ``"raise"``.

    Returns:
        dict with exactly the keys of :data:`MULTILABEL_METRICS` (floats; NaN where undefined).
    """
    if undefined_auc not in ("skip", "nan"):
        raise ValueError(f"undefined_auc must be 'skip' or 'nan', got {undefined_auc!r}")
    y, s = _arrays(y_true, scores, incomplete)
    if not len(y):  # every row incomplete: nothing to score
        return {k: float("nan") for k in MULTILABEL_METRICS}
    pred = (s > threshold).astype(np.int64)
    out: dict[str, float] = {"hamming_loss": float(hamming_loss(y, pred))}  # Eq. 8

    keep = y.sum(1) > 0  # ranking metrics need >= 1 relevant label
    if keep.any():
        yk, sk = y[keep], s[keep]
        out["coverage"] = float(coverage_error(yk, sk)) - 1.0  # Eq. 9 (ML-FER convention)
        out["one_error"] = one_error(yk, sk)  # Eq. 10
        out["ranking_loss"] = float(label_ranking_loss(yk, sk))  # Eq. 11
        out["average_precision"] = float(label_ranking_average_precision_score(yk, sk))  # Eq. 12
    else:
        for k in ("coverage", "one_error", "ranking_loss", "average_precision"):
            out[k] = float("nan")

    out["micro_f1"] = float(f1_score(y, pred, average="micro", zero_division=0))
    out["macro_f1"] = float(f1_score(y, pred, average="macro", zero_division=0))

    flat = y.ravel()
    out["micro_auc"] = (
        float(roc_auc_score(flat, s.ravel())) if 0 < flat.sum() < flat.size else float("nan")
    )
    pos = y.sum(0)
    defined = (pos > 0) & (pos < y.shape[0])
    if not defined.all():
        bad = np.flatnonzero(~defined).tolist()
        if undefined_auc == "nan":
            out["macro_auc"] = float("nan")
        else:
            warnings.warn(
                f"macro-AUC: label columns {bad} are constant in the evaluation set and are "
                f"left out of the average", RuntimeWarning, stacklevel=2,
            )
    if "macro_auc" not in out:
        aucs = [roc_auc_score(y[:, c], s[:, c]) for c in np.flatnonzero(defined)]
        out["macro_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    return {k: out[k] for k in MULTILABEL_METRICS}


def multilabel_report_frame(
    y_true: Any, scores: Any, threshold: float = 0.5, name: str | None = None, **options: Any
) -> pd.DataFrame:
    """:func:`multilabel_report` as a one-row DataFrame (columns in table order, index ``name``)."""
    rep = multilabel_report(y_true, scores, threshold=threshold, **options)
    return pd.DataFrame([rep], index=[name if name is not None else 0], columns=list(MULTILABEL_METRICS))
