r"""Emotion-GCN losses (Antoniadis et al., FG 2021, Sec. III.C, Eq. 8-12).

* :func:`expression_class_weights` — inverse-frequency weights :math:`w_i = N_{min} / N_i`.
* :func:`weighted_cross_entropy` — Eq. 8 with those weights.
* :func:`ccc` / :func:`ccc_loss` — concordance correlation coefficient (Eq. 11) and
  :math:`L^r = 1 - (\rho_v + \rho_a)/2` (Eq. 12).
* :class:`EmotionCriterion` — :math:`L = L^c + \lambda L^r` with ``L^r`` CCC, MSE or absent
  (the Table I variants), in the ``criterion(outputs, batch) -> {"loss", ...}`` form.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "EmotionCriterion",
    "ccc",
    "ccc_loss",
    "expression_class_weights",
    "weighted_cross_entropy",
]


def expression_class_weights(counts: Any) -> np.ndarray:
    r"""Inverse-frequency class weights :math:`w_i = N_{min} / N_i`. ``(C,)`` float64.

    This is what the authors' code uses (AffectNet: ``[3803/74874, 3803/134415, …, 1, …]``,
    Disgust being the rarest) and what the paper's text describes (rare classes penalised more).
    The paper's Eq. 9 as printed, :math:`w_i = f_i / f_{min}`, is the reciprocal — a misprint.
    A class with no training sample gets weight 1 (as the rarest class would).

    Args:
        counts: ``(C,)`` training samples per class (``stats["expression_counts"]``).
    """
    n = np.asarray(counts, dtype=np.float64).reshape(-1)
    pos = n > 0
    if not pos.any():
        return np.ones_like(n)
    return np.where(pos, n[pos].min() / np.where(pos, n, 1.0), 1.0)


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
    reduction: str = "weighted_mean",
) -> torch.Tensor:
    r"""Eq. 8, :math:`L^c = -\sum_i w_i y_i \log \hat y_i` with softmax scores (Eq. 7).

    The paper gives the per-image loss only. ``reduction="weighted_mean"`` averages the batch as
    PyTorch's (and the authors') ``CrossEntropyLoss(weight=w)``:
    :math:`\sum_n w_{y_n} \ell_n / \sum_n w_{y_n}`; ``"mean"`` is the plain batch mean of Eq. 8,
    :math:`\frac1B \sum_n w_{y_n} \ell_n` (smaller by the batch's mean weight, which changes the
    balance with :math:`L^r`). Targets ``-1`` are ignored (and not counted in ``B``); a batch
    without any label gives 0 (with a graph connection, so ``backward`` still works).

    Shapes: ``logits`` (B, C), ``target`` (B,) long.
    """
    if reduction not in ("weighted_mean", "mean"):
        raise ValueError(f"reduction must be 'weighted_mean' or 'mean', got {reduction!r}")
    target = target.long()
    valid = target >= 0
    if not bool(valid.any()):
        return logits.sum() * 0.0
    w = None if weight is None else weight.to(device=logits.device, dtype=logits.dtype)
    if reduction == "weighted_mean" or w is None:
        return F.cross_entropy(logits[valid], target[valid], weight=w)
    return F.cross_entropy(logits[valid], target[valid], weight=w, reduction="sum") / valid.sum()


def ccc(
    pred: torch.Tensor,
    target: torch.Tensor,
    unbiased_variance: bool = False,
    eps: float = 0.0,
) -> torch.Tensor:
    r"""Concordance correlation coefficient per column (Eq. 11).

    .. math:: \rho_c = \frac{2 s_{xy}}{s_x^2 + s_y^2 + (\bar x - \bar y)^2}

    with population (``1/B``) moments throughout, so a perfect prediction gives exactly 1.
    ``unbiased_variance=True`` reproduces the authors' ``CCC_loss``: ``torch.var`` (``1/(B-1)``)
    for the variances but a ``1/B`` mean for the covariance, which caps a perfect prediction at
    :math:`(B-1)/B`.

    Shapes: ``pred``, ``target`` ``(B,)`` or ``(B, K)`` → ``()`` or ``(K,)``.
    """
    mx, my = pred.mean(0), target.mean(0)
    cov = ((pred - mx) * (target - my)).mean(0)
    vx = pred.var(0, unbiased=unbiased_variance)
    vy = target.var(0, unbiased=unbiased_variance)
    return 2.0 * cov / (vx + vy + (mx - my) ** 2 + eps)


def ccc_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    unbiased_variance: bool = False,
    eps: float = 1e-8,
) -> torch.Tensor:
    r"""Eq. 12, :math:`L^r = 1 - (\rho_v + \rho_a)/2` (mean CCC over the ``K`` columns).

    Rows with a NaN target are dropped (per column). A column with fewer than 2 valid rows
    contributes nothing; if none has, the loss is 0. Shapes: ``(B, K)`` (K = 2: valence, arousal).
    """
    if pred.dim() == 1:
        pred, target = pred[:, None], target[:, None]
    target = target.to(pred.dtype)
    terms = []
    for k in range(pred.shape[1]):
        ok = torch.isfinite(target[:, k])
        if int(ok.sum()) >= 2:
            terms.append(ccc(pred[ok, k], target[ok, k], unbiased_variance, eps))
    if not terms:
        return pred.sum() * 0.0
    return 1.0 - torch.stack(terms).mean()


def _masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    ok = torch.isfinite(target)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    return F.mse_loss(pred[ok], target.to(pred.dtype)[ok])


class EmotionCriterion(nn.Module):
    r"""Total loss :math:`L = L^c + \lambda L^r` (Sec. III.C; the authors use λ = 1).

    Args:
        class_weights: ``(C,)`` CE weights or None (uniform; the authors' Aff-Wild2 setting).
        regression: ``"ccc"`` (Eq. 12), ``"mse"`` (Table I "Multi-task + MSE") or ``None``.
        classification: False for a V/A-only single-task network (Table III "Single-task").
        lambda_va: λ.
        unbiased_variance: the authors' CCC variance mix (see :func:`ccc`).
        ce_reduction: batch reduction of Eq. 8 (see :func:`weighted_cross_entropy`).

    ``forward(outputs, batch)`` reads ``outputs["expression"]`` (B, C), ``outputs["va"]`` (B, 2),
    ``batch["expression"]`` (B,) (-1 missing) and ``batch["va"]`` (B, 2) (NaN missing) and returns
    ``{"loss", "expression", "va"}`` (present terms only).
    """

    def __init__(
        self,
        class_weights: Any = None,
        regression: str | None = "ccc",
        classification: bool = True,
        lambda_va: float = 1.0,
        unbiased_variance: bool = False,
        ce_reduction: str = "weighted_mean",
    ) -> None:
        super().__init__()
        if ce_reduction not in ("weighted_mean", "mean"):
            raise ValueError(f"ce_reduction must be 'weighted_mean' or 'mean', got {ce_reduction!r}")
        self.ce_reduction = ce_reduction
        if regression not in (None, "ccc", "mse"):
            raise ValueError(f"regression must be 'ccc', 'mse' or None, got {regression!r}")
        if not classification and regression is None:
            raise ValueError("nothing to train: classification=False and regression=None")
        w = None if class_weights is None else torch.as_tensor(np.asarray(class_weights), dtype=torch.float32)
        self.register_buffer("class_weights", w, persistent=False)
        self.regression = regression
        self.classification = classification
        self.lambda_va = float(lambda_va)
        self.unbiased_variance = unbiased_variance

    def forward(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        total = None
        if self.classification:
            target = torch.as_tensor(batch["expression"], device=outputs["expression"].device)
            terms["expression"] = weighted_cross_entropy(outputs["expression"], target, self.class_weights,
                                                       self.ce_reduction)
            total = terms["expression"]
        if self.regression is not None:
            pred = outputs["va"]
            target = torch.as_tensor(batch["va"], device=pred.device).to(pred.dtype)
            if self.regression == "ccc":
                terms["va"] = ccc_loss(pred, target, unbiased_variance=self.unbiased_variance)
            else:
                terms["va"] = _masked_mse(pred, target)
            total = self.lambda_va * terms["va"] if total is None else total + self.lambda_va * terms["va"]
        return {"loss": total, **terms}
