"""Chance references: what a predictor that ignores the image scores, per task, and a model's margin
over it.

A model "learns" only if it beats the constant predictors that know the label rates. Each
reference here is computed from the labels it is compared on (so it is, if anything, generous to
chance):

* AU detection, F1 at a threshold: predicting every AU present on every face gives AU ``i`` the
  F1 ``2 r_i / (1 + r_i)`` (precision ``r_i``, recall 1), ``r_i`` its rate;
  :func:`every_present_f1` is the mean over AUs. (Predicting it absent gives 0.)
* AU detection, AUC: 0.5 for any constant score.
* Expression classification: the majority class's rate (:func:`majority_rate`); 1/K when the
  classes are balanced.
* Multi-label ranking (label-ranking average precision, SVML-RGCN's AP, Eq. 12): ranking every
  face's labels by their frequency (:func:`frequency_ranking_ap`).

:func:`chance_margins` applies issue #26's criteria ("clearly above chance"): AU mean F1 at least
1.5× the every-AU-present F1; expression accuracy at least 2× chance with every class's recall
above chance; multi-label AP at least 0.10 above the frequency ranking (afg's reading; the issue
names no number for it).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import label_ranking_average_precision_score

__all__ = [
    "ACC_RATIO",
    "AP_MARGIN",
    "F1_RATIO",
    "chance_margins",
    "every_present_f1",
    "every_present_f1s",
    "frequency_ranking_ap",
    "majority_rate",
]

F1_RATIO = 1.5    # AU: mean F1 / every-AU-present F1
ACC_RATIO = 2.0   # expression: accuracy / chance
AP_MARGIN = 0.10  # multi-label: AP − frequency-ranking AP


def every_present_f1s(au: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per AU, the F1 of predicting it present on every face: ``2 r_i / (1 + r_i)`` ``(C,)``.

    Args:
        au: ``(n, C)`` binary labels; NaN marks an unknown label.
        mask: ``(n, C)`` 1 where a label is known (the rate is taken over known labels).

    AUs with no known label give NaN.
    """
    au = np.asarray(au, dtype=float)
    known = ~np.isnan(au) if mask is None else np.asarray(mask).astype(bool) & ~np.isnan(au)
    counts = known.sum(0)
    rates = np.where(counts > 0, np.where(known, au, 0.0).sum(0) / np.maximum(counts, 1), np.nan)
    return 2 * rates / (1 + rates)


def every_present_f1(au: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean over AUs of :func:`every_present_f1s` (AUs with no known label skipped)."""
    return float(np.nanmean(every_present_f1s(au, mask)))


def majority_rate(y: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent class of ``y`` ``(n,)``."""
    y = np.asarray(y)
    return float(np.bincount(y).max() / len(y))


def frequency_ranking_ap(labels: np.ndarray, frequencies: np.ndarray | None = None) -> float:
    """Label-ranking AP of ranking every face's labels by ``frequencies`` (default: their rates in
    ``labels`` ``(n, K)``); faces without a positive label are left out, as the metric needs one.
    Ties between equal frequencies are broken by label index (lower first)."""
    y = np.asarray(labels)
    y = y[y.sum(1) > 0]
    f = y.mean(0) if frequencies is None else np.asarray(frequencies, dtype=float)
    rank = np.empty(len(f))
    rank[np.argsort(-f, kind="stable")] = np.arange(len(f))  # 0 = most frequent
    scores = np.broadcast_to(-rank, y.shape)
    return float(label_ranking_average_precision_score(y, scores))


def chance_margins(task: str, metrics: dict[str, Any], labels: dict[str, np.ndarray]) -> dict[str, Any]:
    """A model's held-out score against its chance reference (issue #26's criteria).

    Args:
        task: ``"au"``, ``"expression"`` or ``"multilabel"``.
        metrics: :func:`afg.train.evaluate` metrics (``f1_mean``/``auc_mean``; ``accuracy`` and
            ``confusion_matrix``; ``average_precision``/``macro_auc``).
        labels: the evaluated labels (``au`` [+ ``au_mask``]; ``expression``; ``emotions``).

    Returns ``{"score", "chance", "margin", "met", "criterion", "detail"}``: ``margin`` is the
    ratio score/chance (AU, expression) or the difference (multi-label); expression adds
    ``recall`` (per class).
    """
    if task == "au":
        ref = every_present_f1(labels["au"], labels.get("au_mask"))
        f1 = float(metrics["f1_mean"])
        return {"score": f1, "chance": ref, "margin": f1 / ref, "met": f1 / ref >= F1_RATIO,
                "criterion": f"F1 >= {F1_RATIO}x every-AU-present F1",
                "detail": f"AUC {float(metrics['auc_mean']):.3f}"}
    if task == "expression":
        y = np.asarray(labels["expression"])
        chance = majority_rate(y)
        cm = np.asarray(metrics["confusion_matrix"], dtype=float)
        recall = np.diag(cm) / np.maximum(cm.sum(1), 1)
        acc = float(metrics["accuracy"])
        low = [i for i, r in enumerate(recall) if r <= chance]
        return {"score": acc, "chance": chance, "margin": acc / chance,
                "met": acc / chance >= ACC_RATIO and not low, "recall": recall,
                "criterion": f"accuracy >= {ACC_RATIO}x chance, every recall > chance",
                "detail": f"min recall {recall.min():.2f}; classes at or below chance: {low or 'none'}"}
    if task == "multilabel":
        ref = frequency_ranking_ap(labels["emotions"])
        ap = float(metrics["average_precision"])
        return {"score": ap, "chance": ref, "margin": ap - ref, "met": ap - ref >= AP_MARGIN,
                "criterion": f"AP >= frequency-ranking AP + {AP_MARGIN}",
                "detail": f"macro-AUC {float(metrics['macro_auc']):.3f}"}
    raise ValueError(f"task: {task!r} is not 'au', 'expression' or 'multilabel'")
