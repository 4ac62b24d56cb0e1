r"""Single-label expression and valence/arousal metrics (Emotion-GCN Sec. IV.A, Tables I-III, Fig. 6).

All functions take NumPy arrays or torch tensors. Expression predictions may be given as
class indices ``(n,)`` or as scores/logits ``(n, C)`` (argmax is taken). Labels ``-1`` are
missing and ignored; V/A rows with NaN are ignored per dimension.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .chance import ACC_RATIO

__all__ = [
    "accuracy",
    "affwild2_score",
    "concordance_cc",
    "cosine_similarity_matrix",
    "expression_confusion_matrix",
    "expression_report",
    "fig6_structure",
    "macro_f1",
    "mean_class_accuracy",
    "va_ccc",
]


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _labels_preds(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _np(y_true).reshape(-1).astype(np.int64)
    p = _np(y_pred)
    p = p.argmax(-1) if p.ndim == 2 else p.reshape(-1)
    p = p.astype(np.int64)
    if p.shape != t.shape:
        raise ValueError(f"{t.shape[0]} labels but {p.shape[0]} predictions")
    keep = t >= 0
    return t[keep], p[keep]


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions (overall accuracy)."""
    t, p = _labels_preds(y_true, y_pred)
    return float(skm.accuracy_score(t, p)) if t.size else float("nan")


def mean_class_accuracy(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """Mean over classes present in ``y_true`` of the per-class recall (AffectNet's metric:
    the validation set is balanced, 500 images per class). Equals sklearn's balanced accuracy."""
    t, p = _labels_preds(y_true, y_pred)
    if not t.size:
        return float("nan")
    cm = expression_confusion_matrix(t, p, num_classes=num_classes)
    support = cm.sum(1)
    present = support > 0
    return float((np.diag(cm)[present] / support[present]).mean())


def expression_confusion_matrix(
    y_true: Any, y_pred: Any, num_classes: int | None = None, normalize: str | None = None
) -> np.ndarray:
    """``(C, C)`` confusion matrix, rows = true class, columns = predicted (Fig. 4).

    ``normalize``: None (counts), ``"true"`` (rows sum to 1), ``"pred"`` or ``"all"`` (sklearn).
    """
    t, p = _labels_preds(y_true, y_pred)
    if num_classes is None:
        pr = _np(y_pred)
        num_classes = pr.shape[-1] if pr.ndim == 2 else int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    labels = np.arange(num_classes)
    if normalize is None:
        return skm.confusion_matrix(t, p, labels=labels)
    cm = skm.confusion_matrix(t, p, labels=labels).astype(np.float64)
    if normalize == "true":
        s = cm.sum(1, keepdims=True)
    elif normalize == "pred":
        s = cm.sum(0, keepdims=True)
    elif normalize == "all":
        s = np.full((1, 1), cm.sum())
    else:
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    return np.divide(cm, s, out=np.zeros_like(cm), where=s > 0)


def macro_f1(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 (classes ``0..C-1``; absent ones score 0 as in sklearn)."""
    t, p = _labels_preds(y_true, y_pred)
    labels = None if num_classes is None else np.arange(num_classes)
    return float(skm.f1_score(t, p, labels=labels, average="macro", zero_division=0))


def concordance_cc(pred: Any, target: Any) -> np.ndarray | float:
    r"""Dataset-level CCC (Eq. 11) with population moments, per column.

    Compute it once over the whole evaluation set (not as a mean of batch CCCs).
    Shapes ``(n,)`` → float, ``(n, K)`` → ``(K,)``; rows with NaN ignored per column.
    """
    x = _np(pred).astype(np.float64)
    y = _np(target).astype(np.float64)
    one = x.ndim == 1
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    out = np.full(x.shape[1], np.nan)
    for k in range(x.shape[1]):
        ok = np.isfinite(x[:, k]) & np.isfinite(y[:, k])
        if ok.sum() < 2:
            continue
        a, b = x[ok, k], y[ok, k]
        cov = np.mean((a - a.mean()) * (b - b.mean()))
        den = a.var() + b.var() + (a.mean() - b.mean()) ** 2
        out[k] = 2 * cov / den if den > 0 else np.nan
    return float(out[0]) if one else out


def va_ccc(pred: Any, target: Any) -> dict[str, float]:
    """``{"ccc_valence", "ccc_arousal", "ccc_mean"}`` from ``(n, 2)`` predictions and labels."""
    c = concordance_cc(pred, target)
    return {"ccc_valence": float(c[0]), "ccc_arousal": float(c[1]), "ccc_mean": float(np.nanmean(c))}


def affwild2_score(
    y_true: Any, y_pred: Any, num_classes: int | None = 7, accuracy_kind: str = "total"
) -> float:
    r"""Aff-Wild2 expression score :math:`0.67\,F_1 + 0.33\,Acc` (macro F1; Sec. IV.A.2).

    ``accuracy_kind="total"`` uses overall accuracy (the ABAW challenge metric);
    ``"mean_class"`` uses mean class accuracy, as the paper's sentence can also be read.
    """
    if accuracy_kind == "total":
        acc = accuracy(y_true, y_pred)
    elif accuracy_kind == "mean_class":
        acc = mean_class_accuracy(y_true, y_pred, num_classes)
    else:
        raise ValueError(f"accuracy_kind must be 'total' or 'mean_class', got {accuracy_kind!r}")
    return 0.67 * macro_f1(y_true, y_pred, num_classes) + 0.33 * acc


def expression_report(
    y_true: Any,
    scores: Any,
    va_true: Any | None = None,
    va_pred: Any | None = None,
    num_classes: int | None = None,
) -> dict[str, float]:
    """All of the above in one dict: ``accuracy``, ``mean_class_accuracy``, ``macro_f1``,
    ``affwild2_score`` and, when V/A is given, ``ccc_valence``, ``ccc_arousal``, ``ccc_mean``."""
    out: dict[str, float] = {}
    if y_true is not None and scores is not None:
        if num_classes is None and _np(scores).ndim == 2:
            num_classes = _np(scores).shape[-1]
        out["accuracy"] = accuracy(y_true, scores)
        out["mean_class_accuracy"] = mean_class_accuracy(y_true, scores, num_classes)
        out["macro_f1"] = macro_f1(y_true, scores, num_classes)
        out["affwild2_score"] = affwild2_score(y_true, scores, num_classes)
    if va_true is not None and va_pred is not None:
        out.update(va_ccc(va_pred, va_true))
    return out


def cosine_similarity_matrix(vectors: Any, names: Sequence[str] | None = None) -> Any:
    r"""Pairwise cosine similarity :math:`\frac{w_i \cdot w_j}{\|w_i\|\|w_j\|}` of the rows (Fig. 6).

    Args:
        vectors: ``(N, D)`` (e.g. ``model.classifier_vectors()``: 7 classifiers + 2 regressors).
        names: optional row names; a :class:`pandas.DataFrame` is returned when given.

    Returns:
        ``(N, N)`` float64 array (zero vectors give 0 similarity).
    """
    w = _np(vectors).astype(np.float64)
    norm = np.linalg.norm(w, axis=1, keepdims=True)
    u = np.divide(w, norm, out=np.zeros_like(w), where=norm > 0)
    sim = np.clip(u @ u.T, -1.0, 1.0)
    if names is not None:
        return pd.DataFrame(sim, index=list(names), columns=list(names))
    return sim


#: Emotion-GCN §IV-D (Fig. 6): "the regressor of arousal [comes] closer to the classifiers of
#: anger, disgust, fear and surprise"; matched by the start of a lower-cased class name, so that
#: AffectNet's and Aff-Wild2's spellings (Anger / Happy / Happiness …) both match
FIG6_HIGH_AROUSAL = ("ang", "disg", "fear", "surp")


def _find(names: Sequence[str], prefix: str) -> int | None:
    hits = [i for i, n in enumerate(names) if str(n).lower().startswith(prefix)]
    return hits[0] if hits else None


def fig6_structure(vectors: Any, names: Sequence[str], accuracy: float | None = None,
                   chance: float | None = None) -> dict[str, Any]:
    r"""Does a Fig. 6 matrix show the structure Emotion-GCN's §IV-D describes? Measured, with a note.

    The paper (AffectNet, §IV-D): the valence regressor comes closer to the Happy classifier, the
    arousal regressor closer to the Anger, Disgust, Fear and Surprise classifiers (high-arousal
    expressions). With :math:`S` the cosine matrix of :func:`cosine_similarity_matrix` and
    :math:`e, e'` expression rows:

    * ``valence_happy_rank``: the rank (1 = nearest) of Happy among the classifiers by
      :math:`S_{\mathrm{V},e}`; ``valence_nearest`` the nearest classifier's name;
    * ``arousal_high`` / ``arousal_rest``: mean :math:`S_{\mathrm{A},e}` over the four high-arousal
      classifiers / over the others; the claim holds when ``arousal_high > arousal_rest``;
    * ``classifier_cos``: min, median and max of :math:`S_{e,e'}`, :math:`e \ne e'` (pairwise
      cosines all near 1: nearly parallel classifiers, whose scores :math:`x^T w_e` differ mostly in
      scale, so that they tell few classes apart).

    Args:
        vectors: ``(C + 2, D)`` classifiers then the valence and arousal regressors
            (``model.classifier_vectors()``).
        names: the ``C + 2`` row names (the last two Valence, Arousal).
        accuracy, chance: the model's held-out accuracy and the majority rate; when the accuracy is
            under ``ACC_RATIO`` (2×) chance the note says the matrix is not evidence either way
            (a head that has not learnt the expressions yet).

    Returns the measures above, ``holds`` (both claims hold) and ``note`` (one paragraph).
    """
    names = [str(n) for n in names]
    sim = np.asarray(cosine_similarity_matrix(vectors))
    if sim.shape[0] != len(names) or len(names) < 4:
        raise ValueError(f"{sim.shape[0]} vectors but {len(names)} names (need C classifiers + Valence, Arousal)")
    c = len(names) - 2
    val, aro = c, c + 1
    expr = names[:c]
    off = sim[:c, :c][~np.eye(c, dtype=bool)]
    out: dict[str, Any] = {"classifier_cos": (float(off.min()), float(np.median(off)), float(off.max()))}
    happy = _find(expr, "happ")
    order = np.argsort(-sim[val, :c], kind="stable")
    out["valence_nearest"] = expr[int(order[0])]
    out["valence_happy_rank"] = int(np.where(order == happy)[0][0]) + 1 if happy is not None else None
    high = [i for i in (_find(expr, p) for p in FIG6_HIGH_AROUSAL) if i is not None]
    rest = [i for i in range(c) if i not in high]
    out["arousal_high"] = float(sim[aro, high].mean()) if high else float("nan")
    out["arousal_rest"] = float(sim[aro, rest].mean()) if rest else float("nan")
    v_holds = out["valence_happy_rank"] == 1
    a_holds = bool(out["arousal_high"] > out["arousal_rest"])
    out["holds"] = bool(v_holds and a_holds)
    lo, med, hi = out["classifier_cos"]
    note = (f"Paper (§IV-D): Valence nearest to Happy; Arousal nearer to Anger/Disgust/Fear/Surprise "
            f"than to the other classifiers. Here: Valence's nearest classifier is "
            f"{out['valence_nearest']} (Happy ranks {out['valence_happy_rank']} of {c}) — "
            f"{'holds' if v_holds else 'does not hold'}; Arousal {out['arousal_high']:+.2f} to the four "
            f"against {out['arousal_rest']:+.2f} to the rest — {'holds' if a_holds else 'does not hold'}. "
            f"Pairwise cosine of the {c} classifiers {lo:+.2f} to {hi:+.2f} (median {med:+.2f}).")
    if accuracy is not None and chance is not None and accuracy < ACC_RATIO * chance:
        note += (f" The model's accuracy is {100 * accuracy:.1f} % against chance {100 * chance:.1f} % "
                 f"(under {ACC_RATIO:g}x): its classifiers have not learnt the expressions yet"
                 + (" (they are nearly parallel)" if med > 0.9 else "")
                 + ", so this matrix is not evidence for or against the paper.")
    out["note"] = note
    return out
